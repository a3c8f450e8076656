"""Which worker process holds a piece of work, written so that a dead one can be recognised.

A ZIP build records `worker_id()`, "host:pid:start-token"; a batch lease `lease_id()`, the
same plus "/<run>" (two threads of one process must not share a lease). A worker that
starts on the same host can tell that the process named there is gone (no such pid, or its
own pid with another start token: the old process died and the pid was reused) and take the
work over at once instead of waiting for the lease to run out. A holder on another host, or
an id in any other form, is judged by its lease alone.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import socket

_START_TOKEN = secrets.token_hex(4)  # new in every process that imports this module


def _host() -> str:
    """The host name, or (when long) a prefix and a hash: distinct hosts stay distinct."""
    name = socket.gethostname()
    if len(name) <= 32:
        return name
    return f"{name[:23]}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def worker_id() -> str:
    """This process: host, pid and a token new at every start (a reused pid differs in it)."""
    return f"{_host()}:{os.getpid()}:{_START_TOKEN}"


def lease_id() -> str:
    """One run in this process; at most 56 characters (`Batch.lease_owner` holds 64)."""
    return f"{worker_id()}/{secrets.token_hex(3)}"


def is_gone(holder: str) -> bool:
    """True only when `holder` is surely dead: a process of this host that no longer runs."""
    try:
        host, pid_text, token = holder.split("/", 1)[0].rsplit(":", 2)
        pid = int(pid_text)
    except ValueError:
        return False
    if host != _host() or pid <= 0:
        return False
    if pid == os.getpid():
        return token != _START_TOKEN
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False
