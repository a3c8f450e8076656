"""Load test for issue 10 (finding 2): a big results.zip is built by the worker while two clients
wait for it and download it and a third browses the gallery.

    python bench/bench_zip_load.py            # 5,000 rows (the issue's case)
    python bench/bench_zip_load.py 1000

Real processes against a throwaway var directory: gunicorn with the production settings
(2 sync workers, DEBUG off, collected static files), `manage.py run_huey --workers 1`
(TORCH_THREADS=1), SQLite. The batch is created with `batch_create` for an anonymous owner
whose session the clients carry; the worker predicts it. Then client A asks for the ZIP (the
page's POST), clients A and B poll `results.zip` until it is served and download it, and
client C loads /gallery/ (24 cards) in a loop the whole time. Printed: the gallery's latency
(median, max, any non-200), the ZIP build time, and for each download its size, that it
matched Content-Length, that it is a valid ZIP and that results.csv holds every row.
"""

from __future__ import annotations

import csv
import io
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).parent))
from bench_batch import molecules  # noqa: E402

SESSION_SETUP = """
from django.contrib.sessions.backends.db import SessionStore
from django.core.files.uploadedfile import SimpleUploadedFile
from batches import owners
from batches.services import batch_create
store = SessionStore(); store[owners.SESSION_TOKEN] = "bench-token"; store.create()
batch = batch_create(
    upload=SimpleUploadedFile("bench.csv", open({path!r}, "rb").read()),
    owner_key=owners.session_owner_key("bench-token"),
)
from batches.tasks import run_batch; run_batch(str(batch.pk))
print(store.session_key, batch.public_id)
"""


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a 302 is an answer here (the ZIP is not ready yet)


def client(session_key: str, csrf: str = "") -> urllib.request.OpenerDirector:
    """A browser with this session cookie (and CSRF cookie), not following redirects."""
    opener = urllib.request.build_opener(NoRedirect)
    cookie = f"sessionid={session_key}" + (f"; csrftoken={csrf}" if csrf else "")
    opener.addheaders = [("Cookie", cookie)]
    return opener


def fetch(opener, url: str, data: bytes | None = None, headers: dict | None = None):
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with opener.open(request, timeout=120) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def main(rows: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-zip-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "MONGODB_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="smiles_site.settings",
        DJANGO_SECRET_KEY="b" * 60,
        DJANGO_SECURE="false",
        SMILES_VAR_DIR=str(work / "var"),
        DJANGO_STATIC_ROOT=str(work / "static"),
        GUNICORN_BIND="127.0.0.1:8765",
        WEB_CONCURRENCY="2",
        TORCH_THREADS="1",
        TOKENIZERS_PARALLELISM="false",
    )
    python = sys.executable
    manage = [python, "manage.py"]
    for command in (["migrate", "--noinput"], ["collectstatic", "--noinput"], ["load_examples"]):
        subprocess.run([*manage, *command, "-v0"], cwd=ROOT, env=env, check=True)
    (work / "bench.csv").write_text(
        "id,smiles\n" + "".join(f"B-{i},{s}\n" for i, s in enumerate(molecules(rows), 1))
    )
    started = time.monotonic()
    setup = SESSION_SETUP.format(path=str(work / "bench.csv"))
    out = subprocess.run(
        [*manage, "shell", "-c", setup],
        cwd=ROOT,
        env={**env, "HUEY_IMMEDIATE": "true"},  # predicted here, before the load starts
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    session_key, public_id = out[-2], out[-1]
    print(f"{rows} rows predicted in {time.monotonic() - started:.1f} s")

    log = (work / "processes.log").open("ab")
    gunicorn = subprocess.Popen(
        [python, "-m", "gunicorn", "smiles_site.wsgi:application", "-c", "gunicorn.conf.py"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    worker = subprocess.Popen(
        [*manage, "run_huey", "--workers", "1"], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    base = "http://127.0.0.1:8765"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(base + "/", timeout=5)
                break
            except OSError:
                time.sleep(0.5)
        run_load(base, session_key, public_id, rows)
    finally:
        for process in (worker, gunicorn):
            process.terminate()
            process.wait(timeout=60)
        print(f"logs: {work / 'processes.log'}")


def run_load(base: str, session_key: str, public_id: str, rows: int) -> None:
    batch_url = f"{base}/batches/{public_id}/"
    zip_url = f"{batch_url}results.zip"
    done = threading.Event()
    gallery: list[tuple[float, int]] = []

    def browse() -> None:
        visitor = client("none")
        while not done.is_set():
            t0 = time.monotonic()
            try:
                status = fetch(visitor, f"{base}/gallery/?page_size=24")[0]
            except OSError:  # reset or timed out: the failure this bench looks for
                status = 0
            gallery.append((time.monotonic() - t0, status))
            time.sleep(0.2)

    results: dict[str, str] = {}

    def download(name: str) -> None:
        me = client(session_key)
        while True:
            status, headers, body = fetch(me, zip_url)
            if status == 200:
                break
            time.sleep(0.5)
        length = int(headers["Content-Length"])
        bundle = zipfile.ZipFile(io.BytesIO(body))
        table = list(csv.DictReader(io.StringIO(bundle.read("results.csv").decode())))
        ids = [r["id"] for r in table]
        results[name] = (
            f"{len(body) / 1e6:.1f} MB, Content-Length {'matches' if length == len(body) else 'DIFFERS'}, "
            f"testzip {bundle.testzip()}, {len(table)} rows, every id in order: "
            f"{ids == [f'B-{i}' for i in range(1, rows + 1)]}, {len(bundle.namelist()) - 1} pictures"
        )

    browser = threading.Thread(target=browse)
    browser.start()
    try:
        measure(base, batch_url, session_key, download)
    finally:
        done.set()
        browser.join()
    times = [t for t, _ in gallery]
    bad = [s for _, s in gallery if s != 200]
    for name, line in sorted(results.items()):
        print(f"client {name}: {line}")
    print(
        f"gallery: {len(times)} loads, median {statistics.median(times) * 1000:.0f} ms, "
        f"max {max(times) * 1000:.0f} ms, non-200: {bad or 'none'}"
    )


def measure(base: str, batch_url: str, session_key: str, download) -> None:
    """Ask for the ZIP as the page does, then let clients A and B wait for it and fetch it."""
    time.sleep(3)  # gallery latency before the build
    _, headers, _ = fetch(client(session_key), batch_url)  # the page sets the CSRF cookie
    token = headers["Set-Cookie"].split("csrftoken=", 1)[1].split(";", 1)[0]
    a = client(session_key, token)
    t0 = time.monotonic()
    status, _, _ = fetch(
        a, f"{batch_url}zip/", data=b"", headers={"X-CSRFToken": token, "Referer": batch_url}
    )
    assert status == 302, status
    downloads = [threading.Thread(target=download, args=(n,)) for n in ("A", "B")]
    for thread in downloads:
        thread.start()
    for thread in downloads:
        thread.join()
    print(f"ZIP asked for → both downloads complete: {time.monotonic() - t0:.1f} s")
    time.sleep(3)  # gallery latency after


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000)
