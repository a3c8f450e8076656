"""Server time of the site's main requests under gunicorn, and the web worker's memory.

For each source tree: a fresh SQLite site (migrate, collectstatic, load_examples) and one
gunicorn sync worker with one torch thread. Then, with each request sent to every tree in
turn (so all trees meet the same load): N new predictions through the form, the same N
again (stored, answered by a redirect), detail pages, the first request of the two pictures
a result page shows (molecule.svg, plot.svg: drawn then by a tree that draws on first
request, read from the database by one that drew them in the POST), 24-card gallery pages,
report.png asked for twice (the second time without If-None-Match, as another visitor
would), and conditional downloads answered 304. Server time is gunicorn's own time per
request (access log `%(D)s`, from request read to response written): no client or network
in it. Worker CPU (user + system, from /proc, 10 ms ticks averaged over the phase) is the
figure other jobs on the cores inflate least. The worker's RSS is read once every request
has been answered:

    mkdir /tmp/old-latency && git archive main | tar -x -C /tmp/old-latency
    python bench/bench_predict.py --tree old=/tmp/old-latency --tree new=.

The same Python (this one) runs every tree, so the trees differ only in their code.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Distinct small molecules (alcohols, amines, chlorides, phenylalkylamines), none among the
# examples the site loads.
MOLECULES = [
    f"{stem.replace('X', 'C' * i)}"
    for stem in ("XO", "XN", "XCl", "c1ccccc1XN")
    for i in range(1, 16)
]
PHASES = ["new", "stored", "detail", "pictures", "gallery", "report", "report-again", "304"]
LABELS = {
    "new": "new prediction (form POST → redirect)",
    "stored": "stored prediction (same SMILES again)",
    "detail": "detail page",
    "pictures": "its page's molecule.svg + plot.svg, first request each",
    "gallery": "gallery page, 24 cards",
    "report": "report.png, first request",
    "report-again": "report.png again, no If-None-Match (another visitor)",
    "304": "download answered 304 (If-None-Match)",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Site:
    """One tree served by gunicorn on a fresh database; its access log holds server times."""

    def __init__(self, tree: Path, workdir: Path) -> None:
        self.tree, self.port = tree, free_port()
        workdir.mkdir(parents=True)
        self.log = workdir / "access.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "MONGODB_"))}
        env.update(
            DJANGO_SETTINGS_MODULE="smiles_site.settings",
            DJANGO_SECRET_KEY="b" * 60,
            DJANGO_SECURE="false",
            SMILES_VAR_DIR=str(workdir / "var"),
            DJANGO_STATIC_ROOT=str(workdir / "static"),
            GUNICORN_BIND=f"127.0.0.1:{self.port}",
            WEB_CONCURRENCY="1",
            TORCH_THREADS="1",
            TOKENIZERS_PARALLELISM="false",
            # One client asks for many report cards: the per-visitor throttles would refuse it.
            BATCH_UPLOAD_RATE="off",
            HEAVY_DOWNLOAD_RATE="off",
            API_ANON_RATE="off",
        )
        for command in (
            ["migrate", "--noinput"],
            ["collectstatic", "--noinput"],
            ["load_examples"],
        ):
            subprocess.run(
                [sys.executable, "manage.py", *command, "-v0"],
                cwd=tree,
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
            )
        self.server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "smiles_site.wsgi:application"]
            + ["-c", "gunicorn.conf.py", "--access-logfile", str(self.log)]
            + ["--access-logformat", "%(m)s %(U)s %(q)s %(s)s %(D)s"],
            cwd=tree,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(240):
            time.sleep(0.5)
            if self.server.poll() is not None:
                raise RuntimeError(f"gunicorn exited in {tree}")
            try:
                self.request("GET", "/?bench=warmup")
                return
            except OSError:
                continue
        raise RuntimeError("gunicorn did not answer")

    def request(self, method: str, path: str, body: str = "", headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        conn.request(method, path, body=body or None, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        conn.close()
        return response.status, response.headers, data

    def _worker(self) -> str:
        master = self.server.pid
        return Path(f"/proc/{master}/task/{master}/children").read_text().split()[0]

    def worker_rss_mb(self) -> float:
        status = Path(f"/proc/{self._worker()}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+) kB", status)[1]) / 1024

    def worker_cpu_ms(self) -> float:
        """CPU time the worker has used (user + system): unlike wall time, not inflated
        when other jobs share the cores."""
        fields = Path(f"/proc/{self._worker()}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")

    def server_times_ms(self) -> dict[str, list[float]]:
        time.sleep(1)  # the worker writes each log line after its response
        times = defaultdict(list)
        for line in self.log.read_text().splitlines():
            method, path, query, status, micros = line.split(" ")
            phase = urllib.parse.parse_qs(query.lstrip("?")).get("bench", [""])[0]
            times[phase].append(int(micros) / 1000)
        return times

    def stop(self) -> None:
        self.server.terminate()
        self.server.wait(timeout=30)


class Client:
    """One site's session: its CSRF cookie and token, result pages, requests and CPU per phase."""

    def __init__(self, site: Site) -> None:
        self.site, self.sent, self.cpu, self.details = site, 0, defaultdict(float), []
        _, headers, html = self.timed("setup", "GET", "/?bench=setup", 200)
        cookie = re.search(r"csrftoken=([^;]+)", headers["Set-Cookie"])[1]
        self.token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', html)[1].decode()
        self.form = {
            "Cookie": f"csrftoken={cookie}",
            "Content-Type": "application/x-www-form-urlencoded",
        }

    def timed(self, phase: str, method: str, path: str, expect: int, body="", headers=None):
        before = self.site.worker_cpu_ms()
        status, answer, data = self.site.request(method, path, body, headers)
        self.cpu[phase] += self.site.worker_cpu_ms() - before
        assert status == expect, (phase, path, status)
        self.sent += 1
        return status, answer, data

    def predict(self, phase: str, smiles: str) -> None:
        body = urllib.parse.urlencode({"csrfmiddlewaretoken": self.token, "smiles": smiles})
        _, answer, _ = self.timed(phase, "POST", f"/?bench={phase}", 302, body, self.form)
        self.details.append(answer["Location"])

    def pages(self, index: int) -> None:
        self.timed("detail", "GET", f"{self.details[index]}?bench=detail", 200)
        for picture in ("molecule.svg", "plot.svg"):  # what the browser asks for next
            self.timed("pictures", "GET", f"{self.details[index]}{picture}?bench=pictures", 200)
        self.timed("gallery", "GET", "/gallery/?page_size=24&bench=gallery", 200)

    def report(self, index: int) -> None:
        for phase in ("report", "report-again"):
            self.timed(phase, "GET", f"{self.details[index]}report.png?bench={phase}", 200)

    def not_modified(self, index: int) -> None:
        picture = f"{self.details[index]}molecule.png"
        _, answer, _ = self.timed("first", "GET", f"{picture}?bench=first", 200)
        etag = {"If-None-Match": answer["ETag"]}
        self.timed("304", "GET", f"{picture}?bench=304", 304, headers=etag)


def exercise(clients: list[Client], *, n: int, pages: int) -> None:
    """The benchmark's requests in order, each sent to every site in turn (same conditions)."""
    for phase in ("new", "stored"):
        for smiles in MOLECULES[:n]:
            for client in clients:
                client.predict(phase, smiles)
    for step in (Client.pages, Client.report, Client.not_modified):
        for index in range(pages):
            for client in clients:
                step(client, index)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tree", action="append", help="NAME=PATH (repeatable)")
    parser.add_argument("--n", type=int, default=60, help="distinct new molecules")
    parser.add_argument("--pages", type=int, default=40, help="detail/gallery/304 requests")
    args = parser.parse_args()
    trees = [t.split("=", 1) for t in (args.tree or [f"this={ROOT}"])]
    names = [name for name, _ in trees]
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-predict-") as workdir:
        sites = [Site(Path(path).resolve(), Path(workdir) / name) for name, path in trees]
        try:
            clients = [Client(site) for site in sites]
            exercise(clients, n=min(args.n, len(MOLECULES)), pages=args.pages)
            for name, site, client in zip(names, sites, clients, strict=True):
                results[name] = (site.server_times_ms(), site.worker_rss_mb(), client)
        finally:
            for site in sites:
                site.stop()
    print(
        "| ms per request: server time median / p95; worker CPU mean | " + " | ".join(names) + " |"
    )
    print("| --- |" + " --- |" * len(names))
    for phase in PHASES:
        if not all(results[name][0][phase] for name in names):
            continue
        cells = []
        for name in names:
            times, cpu = results[name][0][phase], results[name][2].cpu[phase]
            p95 = statistics.quantiles(times, n=20)[-1]
            cells.append(
                f"{statistics.median(times):.1f} / {p95:.1f}; CPU {cpu / len(times):.1f}"
                f" (n={len(times)})"
            )
        print(f"| {LABELS[phase]} | " + " | ".join(cells) + " |")
    rss = [f"{results[name][1]:.0f} MB after {results[name][2].sent} requests" for name in names]
    print("| web worker RSS | " + " | ".join(rss) + " |")
    print(f"\nload average after the run (1/5/15 min): {os.getloadavg()}, cores: {os.cpu_count()}")


if __name__ == "__main__":
    main()
