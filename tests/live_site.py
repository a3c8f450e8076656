"""A real site in processes of its own: `runserver` and a `run_huey` worker on a file database.

For what an in-process test cannot show: how soon a real worker picks a batch up, and what
the progress fragment says meanwhile. Used by tests/batches/test_batch_progress.py and
bench/bench_progress.py (which also runs it on an older checkout, for the before figures).
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
COUNT = re.compile(r'<span data-count="processed">(\d+)</span>')


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LiveSite:
    """Web server and worker processes for `root` (a checkout), state under `tmp`."""

    def __init__(self, root: Path, tmp: Path, **env: str) -> None:
        self.root, self.tmp, self.port = root, tmp, free_port()
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "smiles_site.settings_test",
            "SMILES_VAR_DIR": str(tmp),
            "SQLITE_PATH": str(tmp / "db.sqlite3"),
            "HUEY_SQLITE_PATH": str(tmp / "huey.sqlite3"),
            "HUEY_IMMEDIATE": "false",
            "TORCH_THREADS": "1",
            "TOKENIZERS_PARALLELISM": "false",
            **env,
        }
        self.processes: list[subprocess.Popen] = []
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        self.log = tmp / "site.log"

    def manage(self, *args: str) -> None:
        subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=self.root,
            env=self.env,
            check=True,
            capture_output=True,
            timeout=300,
        )

    def _start(self, *args: str) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=self.root,
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        self.processes.append(process)
        return process

    def start_worker(self) -> subprocess.Popen:
        return self._start("run_huey", "--workers", "1")

    def start_web(self, timeout: float = 120) -> None:
        self._start("runserver", "--noreload", "--nothreading", f"127.0.0.1:{self.port}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.get("/")
                return
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
        raise RuntimeError(f"the web server did not start\n{self.log.read_text()[-3000:]}")

    def wait_for_log(self, pattern: re.Pattern, timeout: float) -> None:
        """Until a line matching `pattern` is in the processes' log (the worker is ready)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pattern.search(self.log.read_text(errors="replace")):
                return
            time.sleep(0.1)
        raise RuntimeError(f"not in the log: {pattern.pattern}\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()

    def get(self, path: str, **headers: str) -> tuple[int, str]:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", headers=headers)
        with self.opener.open(request, timeout=60) as response:
            return response.status, response.read().decode()

    def post_form(self, path: str, fields: dict) -> str:
        """POST a form as a browser would (CSRF token from the page); the URL it ends on."""
        token = TOKEN.search(self.get(path)[1]).group(1)
        data = urllib.parse.urlencode({"csrfmiddlewaretoken": token, **fields}).encode()
        url = f"http://127.0.0.1:{self.port}{path}"
        request = urllib.request.Request(url, data=data, headers={"Referer": url})
        with self.opener.open(request, timeout=120) as response:
            return response.url

    def poll_progress(self, batch_id: str, *, every: float = 0.02, timeout: float = 300):
        """(seconds since called, status code, rows shown, fragment) until the batch ends."""
        start, seen = time.monotonic(), []
        while time.monotonic() - start < timeout:
            status, body = self.get(f"/batches/{batch_id}/progress/", **{"HX-Request": "true"})
            count = COUNT.search(body)
            seen.append((time.monotonic() - start, status, int(count.group(1)), body))
            if status == 286:
                return seen
            time.sleep(every)
        raise RuntimeError(f"the batch did not finish\n{self.log.read_text()[-3000:]}")


def batch_id_of(url: str) -> str:
    return url.rstrip("/").split("/")[-1]
