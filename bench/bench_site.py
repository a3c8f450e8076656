"""The whole site under gunicorn and a Huey worker: page times, batch rate, memory; before/now.

    .venv/bin/python bench/bench_site.py [--before REV] [--runs 2] [--quick]
                                         [--write bench/site_results.md]

Each tree (the current working tree, "now", and with `--before REV` that commit, checked out
with `git worktree add --detach` under /tmp and removed afterwards) is run with this venv's
Python, as production runs it: settings `smiles_site.settings` (DEBUG off, DJANGO_SECURE=false
for plain http, the visitor throttles off), a fresh temporary state directory
(SMILES_VAR_DIR) with `migrate`, `collectstatic` and `load_examples` (the 46 featured drugs,
so the gallery has a full page), then `gunicorn -c gunicorn.conf.py` with one sync worker on
a free localhost port and one `manage.py run_huey --workers 1` consumer, TORCH_THREADS=1.

Every run starts both processes afresh on a new state directory; the runs of the two trees
are interleaved (before, now, before, now). Before measuring, each site is warmed up: one
molecule posted and its page, picture and the gallery fetched, and a 6-row batch run (so the
worker has loaded the model). Then, client-side wall time on localhost per request:

- new molecule: the home form's POST (CSRF token from the form page) of a molecule never
  posted to that server, until its redirect arrives (not followed; the page is fetched
  afterwards, untimed, as a browser would);
- molecule already stored: the same POST again;
- result page: GET of a stored molecule's page (its second view);
- gallery page (24): GET /gallery/?page_size=24;
- 304 download: molecule.svg fetched once, then a conditional GET with its ETag
  (If-None-Match), which must answer 304;
and, for the same requests, the server time: gunicorn's own (access log `%(D)s`, from the
request read to the response written: no client, new connection or network in it);

each the median over the molecules (40 from bench/data/molecules40.smi: approved drugs from
checkpoints/default/approved_drugs.csv, none of them a featured example), the table giving
the mean over the runs. Then 300 mixed requests (home, result pages, gallery, downloads,
repeated posts) and the gunicorn worker's VmRSS (/proc/<pid>/status of the master's child;
the RDKit helper process it starts is not counted). Then the batch: bench/data/batch1900.csv
(1,900 AqSolDB rows, salts and all, none of them posted before) uploaded through the batch
page's form, timed from the POST until the progress fragment (polled every 0.2 s as htmx
asks for it) says finished (HTTP 286); rows per second. Last the Huey consumer's VmRSS (its
profile helper processes not counted). MB = 10^6 bytes.

`--quick`: 5 molecules, the batch's first 200 rows, one run: checks that it works.
Prints a markdown table; `--write PATH` also writes it there.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime
import io
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
PROCESSED = re.compile(r'<span data-count="processed">(\d+)</span>')
DONE_COUNT = re.compile(r'<span data-count="done">(\d+)</span>')
STATUS = re.compile(r"<strong>(\w+)</strong>")
# Variables the settings (or gunicorn.conf.py) read that the caller's shell must not leak in.
LEAKY = (
    "DJANGO_",
    "MONGODB_",
    "REDIS_",
    "HUEY_",
    "BATCH_",
    "SQLITE_",
    "RENDER_",
    "API_",
    "WEB_",
    "GUNICORN_",
    "TORCH_",
    "THROTTLE_",
    "SMILES_",
    "PREDICTION_",
    "DRUG_",
    "FILE_UPLOAD_",
    "DATA_UPLOAD_",
    "WORKER_",
)
MIXED_REQUESTS = 300
POLL_SECONDS = 0.2

TIMED = ("new", "stored", "page", "gallery", "not_modified")
ROWS = [
    ("new", "new molecule (form POST)", "ms"),
    ("stored", "molecule already stored (form POST)", "ms"),
    ("page", "result page", "ms"),
    ("gallery", "gallery page (24)", "ms"),
    ("not_modified", "304 download (conditional GET with ETag)", "ms"),
    ("new_server", "new molecule, server time", "ms"),
    ("stored_server", "molecule already stored, server time", "ms"),
    ("page_server", "result page, server time", "ms"),
    ("gallery_server", "gallery page (24), server time", "ms"),
    ("not_modified_server", "304 download, server time", "ms"),
    ("batch", "batch, upload to finished ({rows:,} rows through the upload form)", "mol/s"),
    ("web_rss", f"web worker RSS after {MIXED_REQUESTS} mixed requests", "MB"),
    ("queue_rss", "queue worker RSS after the batch", "MB"),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def molecules(count: int) -> list[str]:
    lines = (DATA / "molecules40.smi").read_text().splitlines()
    return [line.split()[0] for line in lines if line.strip()][:count]


def warmup_molecules() -> list[str]:
    return [line.split()[0] for line in (DATA / "warmup.smi").read_text().splitlines() if line]


def batch_csv(rows: int) -> bytes:
    """The first `rows` data rows of bench/data/batch1900.csv, with its header."""
    with (DATA / "batch1900.csv").open(newline="") as handle:
        table = list(csv.reader(handle))
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(table[: rows + 1])
    return out.getvalue().encode()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024 / 1e6
    raise RuntimeError(f"no VmRSS for process {pid}")


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            text = stat.read_text()
            # "pid (comm) state ppid ...": comm may hold spaces, so split after the last ")".
            if int(text.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return sorted(found)


@dataclass
class Tree:
    label: str  # the column: "before (abc1234)" or "now"
    root: Path
    commit: str  # for the header line


@dataclass
class Site:
    """gunicorn (one sync worker) and one Huey consumer for `tree`, state in a temp dir."""

    tree: Tree
    tmp: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="bench-site-state-")))
    port: int = field(default_factory=free_port)
    processes: list[subprocess.Popen] = field(default_factory=list)

    def __post_init__(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(LEAKY)}
        self.env = {
            **env,
            "DJANGO_SETTINGS_MODULE": "smiles_site.settings",
            "DJANGO_SECRET_KEY": "bench-" + "s" * 60,
            "DJANGO_DEBUG": "false",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DJANGO_SECURE": "false",
            "DJANGO_STATIC_ROOT": str(self.tmp / "static"),
            "SMILES_VAR_DIR": str(self.tmp / "var"),
            "BATCH_UPLOAD_RATE": "off",
            "HEAVY_DOWNLOAD_RATE": "off",
            "HUEY_IMMEDIATE": "false",
            "TORCH_THREADS": "1",
            "TOKENIZERS_PARALLELISM": "false",
            "WEB_CONCURRENCY": "1",
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
        }
        self.base = f"http://127.0.0.1:{self.port}"
        self.http = requests.Session()
        self.token = ""

    # --- processes ---------------------------------------------------------------------
    @property
    def access(self) -> Path:
        """gunicorn's access log: method, status and its own time per request (µs)."""
        return self.tmp / "access.log"

    def served_ms(self, mark: str) -> float:
        """gunicorn's own time for the request sent with header `X-Bench: mark` (request read to
        response written: no client, connection or network in it). gunicorn writes the line
        after the response, so it is looked for by its mark, not by its place."""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            for line in self.access.read_text().splitlines():
                if line.startswith(mark + " "):
                    return int(line.split()[-1]) / 1000
            time.sleep(0.002)
        raise RuntimeError(f"no access-log line for the request {mark}")

    def _log(self, name: str) -> Path:
        return self.tmp / f"{name}.log"

    def manage(self, *args: str) -> None:
        with self._log("setup").open("ab") as log:
            subprocess.run(
                [sys.executable, "manage.py", *args],
                cwd=self.tree.root,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                check=True,
                timeout=600,
            )

    def _spawn(self, name: str, *args: str) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, *args],
            cwd=self.tree.root,
            env=self.env,
            stdout=self._log(name).open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped with its children
        )
        self.processes.append(process)
        return process

    def start(self) -> None:
        self.manage("migrate", "--noinput", "-v", "0")
        self.manage("collectstatic", "--noinput", "-v", "0")
        self.manage("load_examples")
        self.worker = self._spawn("huey", "manage.py", "run_huey", "--workers", "1")
        self.web = self._spawn(
            "gunicorn",
            *("-m", "gunicorn", "smiles_site.wsgi:application", "-c", "gunicorn.conf.py"),
            *("--access-logfile", str(self.access)),
            *("--access-logformat", "%({x-bench}i)s %(m)s %(s)s %(D)s"),
        )
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            for process in self.processes:
                if process.poll() is not None:
                    raise RuntimeError(f"{process.args} exited\n{self.logs()}")
            try:
                if self.http.get(self.base + "/", timeout=60).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"the site did not answer\n{self.logs()}")

    def logs(self) -> str:
        parts = []
        for name in ("setup", "gunicorn", "huey"):
            if self._log(name).exists():
                parts.append(f"--- {name}.log\n" + self._log(name).read_text(errors="replace"))
        return "\n".join(parts)[-4000:]

    def stop(self) -> None:
        self.http.close()
        for process in self.processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            with contextlib.suppress(ProcessLookupError):  # helpers left in its group
                os.killpg(process.pid, signal.SIGKILL)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def web_worker_pid(self) -> int:
        pids = children(self.web.pid)
        if len(pids) != 1:
            raise RuntimeError(f"gunicorn master {self.web.pid} has children {pids}")
        return pids[0]

    # --- requests ----------------------------------------------------------------------
    def get(self, path: str, **headers: str) -> requests.Response:
        response = self.http.get(self.base + path, headers=headers, timeout=120)
        if response.status_code not in (200, 286, 304):
            raise RuntimeError(f"GET {path}: {response.status_code}\n{response.text[:2000]}")
        return response

    def csrf(self, path: str) -> str:
        if not self.token:
            self.token = TOKEN.search(self.get(path).text).group(1)
        return self.token

    def post_molecule(self, smiles: str, **headers: str) -> str:
        """The home form's POST; the result page's path (the redirect, not followed)."""
        data = {"csrfmiddlewaretoken": self.csrf("/"), "smiles": smiles}
        response = self.http.post(
            self.base + "/",
            data=data,
            headers={"Referer": self.base + "/", **headers},
            allow_redirects=False,
            timeout=120,
        )
        if response.status_code != 302:
            raise RuntimeError(f"POST {smiles}: {response.status_code}\n{response.text[:2000]}")
        return response.headers["Location"].removeprefix(self.base)

    def upload_batch(self, body: bytes) -> str:
        data = {"csrfmiddlewaretoken": self.csrf("/batches/"), "text": ""}
        files = {"file": ("bench.csv", body, "text/csv")}
        response = self.http.post(
            self.base + "/batches/",
            data=data,
            files=files,
            headers={"Referer": self.base + "/batches/"},
            allow_redirects=False,
            timeout=300,
        )
        if response.status_code != 302:
            raise RuntimeError(f"batch upload: {response.status_code}\n{response.text[:2000]}")
        return response.headers["Location"].removeprefix(self.base)

    def wait_batch(self, path: str, timeout: float = 1800) -> tuple[str, int, int]:
        """Poll the progress fragment until finished: (status, rows processed, predicted)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            response = self.get(path + "progress/", **{"HX-Request": "true"})
            status = STATUS.search(response.text)
            status = status.group(1) if status else "?"
            if response.status_code == 286 or status in ("Finished", "Cancelled", "Failed"):
                processed = PROCESSED.search(response.text)
                done = DONE_COUNT.search(response.text)
                return (
                    status,
                    int(processed.group(1)) if processed else -1,
                    int(done.group(1)) if done else -1,
                )
            time.sleep(POLL_SECONDS)
        raise RuntimeError(f"the batch {path} did not finish\n{self.logs()}")


def timed(call, *args, **kwargs) -> tuple[float, object]:
    start = time.perf_counter()
    result = call(*args, **kwargs)
    return (time.perf_counter() - start) * 1000, result


def timed_site(site: Site, key: str, result: dict, call, *args, **headers):
    """`timed`, both ways: client wall time under `key`, gunicorn's own under `key_server`."""
    mark = f"{key}-{len(result[key])}-{os.urandom(4).hex()}"
    ms, answer = timed(call, *args, **headers, **{"X-Bench": mark})
    result[key].append(ms)
    result[key + "_server"].append(site.served_ms(mark))
    return answer


def measure(tree: Tree, smiles: list[str], batch_rows: int) -> dict[str, float]:
    site = Site(tree)
    try:
        site.start()
        # Warm up: the web worker's model and pictures, the queue worker's model.
        warm = warmup_molecules()
        page = site.post_molecule(warm[0])
        site.get(page)
        site.get(page + "molecule.svg")
        site.get("/gallery/?page_size=24")
        site.wait_batch(site.upload_batch(("smiles\n" + "\n".join(warm) + "\n").encode()))

        result: dict[str, list[float]] = {
            key + suffix: [] for key in TIMED for suffix in ("", "_server")
        }
        pages = []
        for text in smiles:
            page = timed_site(site, "new", result, site.post_molecule, text)
            pages.append(page)
            site.get(page)  # as the browser follows the redirect (and reads the messages)
        for text, page in zip(smiles, pages, strict=True):
            again = timed_site(site, "stored", result, site.post_molecule, text)
            if again != page:
                raise RuntimeError(f"{text}: stored at {page}, posted again went to {again}")
            site.get(page)
        for page in pages:
            timed_site(site, "page", result, site.get, page)
        for _ in pages:
            timed_site(site, "gallery", result, site.get, "/gallery/?page_size=24")
        for page in pages:
            tag = site.get(page + "molecule.svg").headers["ETag"]
            headers = {"If-None-Match": tag}
            response = timed_site(
                site, "not_modified", result, site.get, page + "molecule.svg", **headers
            )
            if response.status_code != 304:
                raise RuntimeError(f"{page}molecule.svg with If-None-Match: not 304")
        summary = {key: statistics.median(values) for key, values in result.items()}

        mixed = [
            lambda p: site.get("/"),
            lambda p: site.get(p),
            lambda p: site.get("/gallery/?page_size=24"),
            lambda p: site.get(p + "molecule.svg"),
            lambda p: site.get(p + "values.csv"),
            lambda p: site.get(p + "plot.svg"),
            lambda p: site.get(p + "molecule.svg", **{"If-None-Match": "x"}),
            lambda p: site.get(site.post_molecule(smiles[pages.index(p)])),
        ]
        for number in range(MIXED_REQUESTS):
            mixed[number % len(mixed)](pages[number % len(pages)])
        summary["web_rss"] = rss_mb(site.web_worker_pid())

        body = batch_csv(batch_rows)
        start = time.perf_counter()
        status, processed, done = site.wait_batch(site.upload_batch(body))
        seconds = time.perf_counter() - start
        if status != "Finished" or processed != batch_rows:
            raise RuntimeError(f"batch ended {status} at {processed}/{batch_rows} rows")
        summary["batch"] = batch_rows / seconds
        summary["batch_predicted"] = done
        summary["queue_rss"] = rss_mb(site.worker.pid)
        return summary
    except Exception:
        print(site.logs(), file=sys.stderr)
        raise
    finally:
        site.stop()


def cpu_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def table(trees: list[Tree], results: dict[str, list[dict]], args, batch_rows: int) -> str:
    count = len(molecules(args.molecules))
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    commits = "; ".join(f"{tree.label.split(' (')[0]}: {tree.commit}" for tree in trees)
    lines = [
        f"Site benchmark, {now}: {platform.node()}, {os.cpu_count()} cores ({cpu_name()}); "
        f"{commits}; {args.runs} run(s) per tree, interleaved; {count} molecules "
        "(median per run, mean of the runs); gunicorn 1 sync worker + 1 Huey consumer, "
        "TORCH_THREADS=1.",
        "",
        "| | " + " | ".join(tree.label for tree in trees) + " |",
        "|---" * (len(trees) + 1) + "|",
    ]
    for key, label, unit in ROWS:
        cells = []
        for tree in trees:
            value = statistics.mean(run[key] for run in results[tree.label])
            digits = 1 if unit == "ms" and value < 100 else 0
            cells.append(f"{value:,.{digits}f} {unit}")
        lines.append(f"| {label.format(rows=batch_rows)} | " + " | ".join(cells) + " |")
    predicted = ", ".join(
        f"{tree.label}: {results[tree.label][-1]['batch_predicted']:,}" for tree in trees
    )
    lines += ["", f"Batch rows predicted (the rest refused, e.g. metals): {predicted}."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--before", metavar="REV", help="also run this commit (a git worktree)")
    parser.add_argument("--runs", type=int, default=2, help="runs per tree (default 2)")
    parser.add_argument("--quick", action="store_true", help="5 molecules, 200 rows, 1 run")
    parser.add_argument("--write", type=Path, metavar="PATH", help="also write the table here")
    args = parser.parse_args()
    args.molecules, batch_rows = 40, 1900
    if args.quick:
        args.molecules, batch_rows, args.runs = 5, 200, 1
    smiles = molecules(args.molecules)

    def stop(signum, frame):  # SIGTERM as Ctrl-C: clean up on the way out
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    head = git("rev-parse", "--short", "HEAD")
    dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    trees = []
    worktree = None
    try:
        if args.before:
            commit = git("rev-parse", "--short", args.before + "^{commit}")
            worktree = Path(tempfile.mkdtemp(prefix=f"bench-site-{commit}-")) / "tree"
            git("worktree", "add", "--detach", str(worktree), commit)
            trees.append(Tree(f"before ({commit})", worktree, commit))
        trees.append(Tree("now", ROOT, head + (" + uncommitted changes" if dirty else "")))
        results: dict[str, list[dict]] = {tree.label: [] for tree in trees}
        for run in range(args.runs):
            for tree in trees:
                print(f"run {run + 1}/{args.runs}: {tree.label} ...", file=sys.stderr, flush=True)
                summary = measure(tree, smiles, batch_rows)
                print(f"  {summary}", file=sys.stderr, flush=True)
                results[tree.label].append(summary)
    finally:
        if worktree is not None:
            subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=ROOT)
            shutil.rmtree(worktree.parent, ignore_errors=True)
    text = table(trees, results, args, batch_rows)
    print(text, end="")
    if args.write:
        args.write.write_text(text)


if __name__ == "__main__":
    main()
