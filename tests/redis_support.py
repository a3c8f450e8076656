"""A throwaway real Redis (Debian's redis-server) on a free port, without persistence."""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

# Tests that start a real redis-server skip where Debian's is missing.
needs_redis = pytest.mark.skipif(
    not (shutil.which("redis-server") or Path("/usr/bin/redis-server").exists()),
    reason="needs Debian's redis-server (scripts/test.sh installs it)",
)


def pid_of(owner: str) -> int | None:
    """The process id in a lease or `done_by` (host:pid:token/run)."""
    match = re.match(r"[^:]*:(\d+):", owner or "")
    return int(match.group(1)) if match else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def running_redis(directory: Path) -> Iterator[str]:
    """Start redis-server in `directory`; yields its URL; stops it (SIGTERM) afterwards."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    port = free_port()
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        + ["--dir", str(directory)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {port}")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(timeout=20)
