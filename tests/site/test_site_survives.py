"""Issue 21, site level: a real gunicorn (2 sync workers, DEBUG off) keeps answering while
visitors ask for the most expensive things one request can ask for.

- While one client asks again and again for the 40-atom ring's pictures and another for the
  torus search (each ran for minutes, and two such requests took the site down), a third
  gets the home page in under a second.
- Behind docker/nginx.conf (when nginx is installed), two clients that send their request
  bodies 10 bytes at a time hold no gunicorn worker: the home page still answers at once.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.chemreport.test_budgets import RING_40, SLOW_PATTERN, TORUS

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else "")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def timed_get(url: str, timeout: float = 30) -> tuple[int, float]:
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    return status, time.monotonic() - started


SEED = f"""
from predictions.services import prediction_get_or_create
for smiles in ("CCO", "c1ccccc1O", {RING_40!r}, {TORUS!r}):
    print(prediction_get_or_create(text=smiles).prediction.public_id)
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """gunicorn with 2 workers on a fresh database holding the ring and the torus, published."""
    tmp = tmp_path_factory.mktemp("site")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "MONGODB_"))}
    env.pop("REDIS_URL", None)
    env.update(
        DJANGO_SETTINGS_MODULE="smiles_site.settings_test",
        DJANGO_SECURE="false",
        SMILES_VAR_DIR=str(tmp),
        GUNICORN_BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY="2",
        TORCH_THREADS="1",
        TOKENIZERS_PARALLELISM="false",
        SEARCH_BUDGET_SECONDS="0.3",
        API_ANON_RATE="10/min",
        DEPICTION_BUDGET_SECONDS="0.3",
    )
    python = sys.executable
    subprocess.run(
        [python, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    seeded = subprocess.run(
        [python, "manage.py", "shell", "--no-imports", "-c", SEED],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    ids = seeded.stdout.split()[-4:]
    log = (tmp / "gunicorn.log").open("wb")
    server = subprocess.Popen(
        [python, "-m", "gunicorn", "smiles_site.wsgi:application", "-c", "gunicorn.conf.py"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            time.sleep(0.5)
            assert server.poll() is None, (tmp / "gunicorn.log").read_text()[-3000:]
            try:
                timed_get(base + "/", timeout=5)
                break
            except OSError:
                continue
        for _ in range(2):  # both workers have loaded the model
            timed_get(base + "/")
        yield {"base": base, "port": port, "ring": ids[2], "torus": ids[3], "tmp": tmp}
    finally:
        server.terminate()
        server.wait(timeout=30)


def _hammer(urls: list[str], until: float, results: list) -> None:
    while time.monotonic() < until:
        for url in urls:
            results.append((url, *timed_get(url)))


def test_the_home_page_answers_while_two_clients_ask_for_the_worst(site):
    base = site["base"]
    ring = [f"{base}/predictions/{site['ring']}/molecule.{ext}" for ext in ("png", "svg")]
    search = (
        base + "/gallery/?" + urllib.parse.urlencode({"q": SLOW_PATTERN, "mode": "substructure"})
    )
    until = time.monotonic() + 8
    attacks: list = []
    clients = [
        threading.Thread(target=_hammer, args=(ring, until, attacks)),
        threading.Thread(target=_hammer, args=([search], until, attacks)),
    ]
    for client in clients:
        client.start()
    time.sleep(1)
    home = []
    while time.monotonic() < until - 1:
        home.append(timed_get(base + "/"))
        time.sleep(0.2)
    for client in clients:
        client.join(timeout=60)
    worst = {url: max(r[2] for r in attacks if r[0] == url) for url in (*ring, search)}
    print(f"home page: {len(home)} requests, slowest {max(s for _, s in home):.3f} s;")
    print(f"attacks: {len(attacks)} requests, slowest per URL {worst}")
    assert all(status == 200 for status, _ in home)
    # A free worker answers at once. One request may catch a stall of the whole machine (CI
    # saw every URL, the attacks' cheapest included, stall ~1.8 s at the same moment); with
    # both workers held by the attacks, nearly every request would wait past a second.
    slow = [seconds for _, seconds in home if seconds >= 1.0]
    assert len(home) >= 10 and len(slow) <= 1 and max(slow, default=0.0) < 5.0, home
    searches = [r for r in attacks if r[0] == search]
    assert searches and all(status == 200 and seconds < 10 for _, status, seconds in attacks)


def test_the_api_limit_holds_across_workers(site):
    """Without Redis the throttle counts are files both workers share: 10 a minute is 10, not
    10 per worker (before: per-process memory, 118 of 120 got through a 60/min limit)."""
    url = site["base"] + "/api/v1/predict"
    # Accepted calls predict 20 molecules (~0.1 s), so both workers are kept busy.
    body = json.dumps({"smiles": [f"C{'C' * n}O" for n in range(20)]}).encode()
    statuses: list[int] = []

    def client() -> None:
        for _ in range(8):
            request = urllib.request.Request(
                url, data=body, headers={"Content-Type": "application/json"}
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    statuses.append(response.status)
            except urllib.error.HTTPError as error:
                statuses.append(error.code)

    threads = [threading.Thread(target=client) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    accepted = statuses.count(200)
    print(f"API, 10/min, 2 workers, 32 calls from 4 clients at once: {accepted} accepted")
    assert len(statuses) == 32 and statuses.count(429) == 32 - accepted
    assert 10 <= accepted <= 15  # read, then written: a race lets a few by (per worker: 20)


@pytest.mark.skipif(not NGINX, reason="needs nginx (apt-get install nginx)")
def test_slow_request_bodies_hold_nginx_not_gunicorn(site):
    port, tmp = free_port(), site["tmp"]
    server = (ROOT / "docker" / "nginx.conf").read_text()
    server = server.replace("listen 8000;", f"listen 127.0.0.1:{port};")
    server = server.replace("http://web:8000", f"http://127.0.0.1:{site['port']}")
    (tmp / "nginx").mkdir(exist_ok=True)
    (tmp / "nginx" / "nginx.conf").write_text(
        "worker_processes 1;\nerror_log stderr;\npid nginx.pid;\nevents {}\n"
        f"http {{\naccess_log off;\n{server}\n}}\n"
    )
    nginx = subprocess.Popen(
        [NGINX, "-p", str(tmp / "nginx"), "-c", "nginx.conf", "-g", "daemon off;"],
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    slow: list[socket.socket] = []
    try:
        for _ in range(50):
            time.sleep(0.1)
            try:
                if timed_get(base + "/", timeout=5)[0] == 200:
                    break
            except OSError:
                continue
        for _ in range(4):  # twice as many slow clients as gunicorn has workers
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(
                b"POST /api/v1/predict HTTP/1.1\r\nHost: localhost\r\n"
                b"Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n"
            )
            slow.append(sock)
        home = []
        for _ in range(10):
            for sock in slow:
                sock.sendall(b'{"smiles":')  # 10 bytes every half second
            home.append(timed_get(base + "/", timeout=10))
            time.sleep(0.5)
        print(f"behind nginx, 4 slow bodies: home page slowest {max(s for _, s in home):.3f} s")
        assert all(status == 200 for status, _ in home)
        assert max(seconds for _, seconds in home) < 1.0, home
    finally:
        for sock in slow:
            sock.close()
        nginx.terminate()
        nginx.wait(timeout=10)
