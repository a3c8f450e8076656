"""RDKit calls with an enforced time budget: run in a helper process, killed at the deadline.

Some RDKit calls can run for minutes on a small input: CoordGen's 2D layout on a large ring
(a 34-atom ring 3 s, 40 atoms > 10 min), a substructure match of long `*~*` paths against a
dense cage (exponential). Python cannot interrupt a C++ call from another thread, so the call
is made in a helper process that is killed when the budget runs out.

A helper is a plain `python -I chemreport/bounded.py` (RDKit only: no Django, no torch, no
matplotlib; ~60 MB), started on first use and kept, one per thread that needs one at a time
(a sync gunicorn worker or a Huey worker thread: one), talking over a socket pair with
`multiprocessing.connection` (pickled messages). A call costs ~0.2 ms more than in the
process itself (an aspirin layout: 0.4 ms instead of 0.2). A helper killed at a deadline is
replaced at once (the new one imports RDKit, ~0.3 s, while the caller goes on), and the time
a helper takes to start is not counted against a budget. A helper dies with the process that
started it (Linux: PR_SET_PDEATHSIG), so one busy with a long call never outlives a killed
gunicorn worker; since that signal follows the *thread* that started it, helpers are started
by one long-lived thread of each process (`_spawn`), not by request threads that end.

    bounded.call("layout", mol_bytes, True, budget=0.3)  # the result, or OverBudget
    bounded.screen(pattern_bytes, smiles, 1000, budget=3)  # as far as it got in 3 s

This file is also the helper itself (`__main__` below); the functions it runs are the
`task_…` functions here, so they import nothing from the site.
"""

from __future__ import annotations

import array
import atexit
import logging
import mmap
import os
import queue
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from multiprocessing.connection import Connection

from rdkit import Chem
from rdkit.Chem import rdDepictor
from rdkit.Geometry import Point3D

log = logging.getLogger(__name__)

# CoordGen takes ~0.08 s for a 30-atom ring, 0.8 s for 32, 3.3 s for 34, minutes for 38+:
# above this ring size (smallest set of smallest rings) RDKit's own layout is used at once.
COORDGEN_MAX_RING = 30


# --- What the helper runs (plain RDKit: importable anywhere) -----------------------------


def trusted_mol(smiles: str) -> Chem.Mol | None:
    """A stored canonical SMILES read without full sanitisation (RDKit wrote it): valences and
    rings (SSSR, for ring-size queries) only, ~40 % cheaper than MolFromSmiles."""
    mol = Chem.MolFromSmiles(smiles, sanitize=False)
    if mol is not None:
        mol.UpdatePropertyCache(strict=False)
        Chem.SanitizeMol(mol, Chem.SanitizeFlags.SANITIZE_SYMMRINGS)
    return mol


def coordgen_is_safe(mol: Chem.Mol) -> bool:
    """False for a molecule CoordGen is known to take seconds or minutes over (a large ring)."""
    return all(len(ring) <= COORDGEN_MAX_RING for ring in Chem.GetSymmSSSR(Chem.Mol(mol)))


def task_layout(mol_bytes: bytes, coordgen: bool) -> bytes:
    """2D coordinates (x, y per atom, as doubles) of the pickled molecule: CoordGen, or
    RDKit's own layout."""
    mol = Chem.Mol(mol_bytes)
    rdDepictor.Compute2DCoords(mol, forceRDKit=not coordgen)
    positions = mol.GetConformer().GetPositions()
    return array.array("d", positions[:, :2].ravel().tolist()).tobytes()


def task_highlight(smiles: str, pattern_bytes: bytes, max_matches: int) -> list[int]:
    """The atoms of `smiles` (read as RDKit reads it) in any of the first matches of the
    pickled pattern."""
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return []
    pattern = Chem.Mol(pattern_bytes)
    matches = mol.GetSubstructMatches(pattern, maxMatches=max_matches)
    return sorted({atom for match in matches for atom in match})


# Shared with the process that started the helper: where `task_screen` says how far it got,
# readable after the helper is killed. Bytes 0-7: candidates checked; then one per candidate
# (1: it matches).
SHARED_BYTES = 1 << 20
SHARED: mmap.mmap | None = None


def task_screen(pattern_bytes: bytes, smiles: list[str], max_matches: int) -> int:
    """Which of `smiles` contain the pickled pattern, in order, stopping after `max_matches`:
    written to SHARED as it goes (a killed helper's progress is known to the last molecule);
    returns the number of matches."""
    pattern = Chem.Mol(pattern_bytes)
    found = 0
    for index, text in enumerate(smiles):
        mol = trusted_mol(text)
        if mol is not None and mol.HasSubstructMatch(pattern):
            SHARED[8 + index] = 1
            found += 1
        SHARED[0:8] = (index + 1).to_bytes(8, "little")
        if found >= max_matches:
            break
    return found


TASKS = {"layout": task_layout, "highlight": task_highlight, "screen": task_screen}


def _serve(fd: int, shared_fd: int) -> None:
    """The helper's loop: one request at a time, until the socket closes."""
    global SHARED
    _die_with_parent()
    # Ctrl-C in the terminal of ./scripts/run.sh reaches every process of the group: the
    # helper leaves with its parent (above), quietly, not with a KeyboardInterrupt traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    SHARED = mmap.mmap(shared_fd, SHARED_BYTES)
    rdDepictor.SetPreferCoordGen(True)
    conn = Connection(fd)
    conn.send(("ready", os.getpid()))
    while True:
        try:
            name, args = conn.recv()
        except (EOFError, OSError):
            return
        try:
            conn.send(("done", TASKS[name](*args)))
        except Exception as error:  # an RDKit error is the caller's answer, not the helper's end
            conn.send(("error", f"{type(error).__name__}: {error}"))


def _die_with_parent() -> None:
    """Linux: this helper is killed when the process that started it dies (even by SIGKILL),
    so a helper busy with a long call never outlives a killed gunicorn worker."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


# --- The caller's side ---------------------------------------------------------------------

START_TIMEOUT = 30.0  # seconds a new helper may take to import RDKit (not part of a budget)
KEEP_IDLE = 1  # helpers kept per process for the next call (more start when threads need them)


class OverBudget(Exception):
    """The call ran out of its budget; its helper was killed."""


class HelperError(RuntimeError):
    """The call raised in the helper (its message says what), or the helper died."""


class _Helper:
    def __init__(self) -> None:
        ours, theirs = socket.socketpair()
        shared = os.memfd_create("rdkit-helper") if hasattr(os, "memfd_create") else None
        if shared is None:
            with tempfile.TemporaryFile() as file:
                shared = os.dup(file.fileno())
        try:
            os.ftruncate(shared, SHARED_BYTES)  # sparse: pages cost memory once written
            self.shared = mmap.mmap(shared, SHARED_BYTES)
            with theirs:
                fds = (theirs.fileno(), shared)
                self.process = _spawn(
                    [sys.executable, "-I", os.path.abspath(__file__), *map(str, fds)], fds
                )
        finally:
            os.close(shared)
        self.conn = Connection(ours.detach())
        self.ready = False

    def ask(self, name: str, args: tuple, budget: float):
        """Send one request and wait for its answer, at most `budget` seconds from when the
        helper is ready (its start is not counted): the (kind, value) answer, OverBudget or
        HelperError (the helper killed in both cases)."""
        try:
            if not self.ready:
                if not self.conn.poll(START_TIMEOUT):
                    self.kill()
                    raise HelperError("the RDKit helper did not start")
                self.conn.recv()
                self.ready = True
            self.conn.send((name, args))
            if self.conn.poll(budget):
                return self.conn.recv()
        except (EOFError, OSError) as error:
            self.kill()
            raise HelperError(f"the RDKit helper died ({error!r})") from None
        self.kill()
        raise OverBudget

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.conn.close()

    @property
    def alive(self) -> bool:
        return not self.conn.closed and self.process.poll() is None


_spawner: tuple[int, threading.Thread, queue.SimpleQueue] | None = None


def _spawn(command: list[str], fds: tuple[int, ...]) -> subprocess.Popen:
    """`command` started by this process's spawner thread (see the module's docstring)."""
    global _spawner
    with _lock:
        if _spawner is None or _spawner[0] != os.getpid() or not _spawner[1].is_alive():
            requests = queue.SimpleQueue()
            thread = threading.Thread(
                target=_spawn_loop, args=(requests,), name="rdkit-helpers", daemon=True
            )
            thread.start()
            _spawner = (os.getpid(), thread, requests)
        requests = _spawner[2]
    answer = queue.SimpleQueue()
    requests.put((command, fds, answer))
    started = answer.get()
    if isinstance(started, BaseException):
        raise started
    return started


def _spawn_loop(requests: queue.SimpleQueue) -> None:
    while True:
        command, fds, answer = requests.get()
        try:
            answer.put(
                subprocess.Popen(
                    command, pass_fds=fds, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL
                )
            )
        except BaseException as error:  # the caller raises it
            answer.put(error)


_idle: list[_Helper] = []
_lock = threading.Lock()
_owner = os.getpid()


def _after_fork_in_child() -> None:
    """A forked child starts afresh: its parent's helpers, spawner and lock are not its own."""
    global _lock, _owner, _spawner
    _lock, _owner, _spawner = threading.Lock(), os.getpid(), None
    _idle.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _take() -> _Helper:
    global _owner
    with _lock:
        if _owner != os.getpid():  # a forked child: the helpers are its parent's
            _idle.clear()
            _owner = os.getpid()
        while _idle:
            helper = _idle.pop()
            if helper.alive:
                return helper
    return _Helper()


def _give(helper: _Helper) -> None:
    with _lock:
        if helper.alive and len(_idle) < KEEP_IDLE and _owner == os.getpid():
            _idle.append(helper)
            return
    if helper.alive:
        helper.kill()


def start_helper() -> None:
    """A helper starts importing RDKit now, for the next call (unless one is idle): after a
    kill, and in a gunicorn worker as it starts (gunicorn.conf.py), so no request waits."""
    with _lock:
        if _idle:
            return
    _give(_Helper())


_replace = start_helper


def screen(
    pattern_bytes: bytes, smiles: list[str], max_matches: int, *, budget: float
) -> tuple[int, list[int], bool]:
    """`task_screen` within `budget` seconds: (candidates checked, indices of those that
    match, whether it finished). Killed at the deadline, the helper has still said (SHARED)
    how far it got, to the molecule."""
    if len(smiles) > SHARED_BYTES - 8:
        raise ValueError(f"at most {SHARED_BYTES - 8:,} candidates per call")
    if budget <= 0:
        return 0, [], False
    helper = _take()
    helper.shared[: 8 + len(smiles)] = bytes(8 + len(smiles))
    finished, kind, value = True, "done", None
    try:
        kind, value = helper.ask("screen", (pattern_bytes, smiles, max_matches), budget)
    except OverBudget:
        finished = False
        _replace()
    checked = int.from_bytes(helper.shared[:8], "little")
    flags = helper.shared[8 : 8 + checked]
    found = [index for index, flag in enumerate(flags) if flag]
    if finished:
        _give(helper)
    if kind == "error":
        raise HelperError(value)
    return checked, found, finished


def call(name: str, *args, budget: float):
    """The result of task `name` run in a helper, or OverBudget after `budget` seconds (at
    once for a budget <= 0)."""
    if budget <= 0:
        raise OverBudget
    helper = _take()
    try:
        kind, value = helper.ask(name, args, budget)
    except OverBudget:
        _replace()
        raise
    _give(helper)
    if kind == "error":
        raise HelperError(value)
    return value


def layouts(mol: Chem.Mol, budget: float):
    """Copies of `mol` with 2D coordinates, best first, each computed within `budget` seconds:
    CoordGen's layout (skipped where it is known to blow up: `coordgen_is_safe`), then RDKit's
    own; a layout that runs out of budget or fails is left out (logged). A caller takes the
    first it can draw; none at all means no picture can be drawn in time."""
    attempts = (True, False) if coordgen_is_safe(mol) else (False,)
    for coordgen in attempts:
        try:
            coords = call("layout", mol.ToBinary(), coordgen, budget=budget)
        except OverBudget:
            log.warning(
                "%s layout of %s ran past its %.2f s budget",
                "CoordGen" if coordgen else "RDKit",
                Chem.MolToSmiles(mol),
                budget,
            )
            continue
        except HelperError as error:
            log.warning("Layout of %s failed: %s", Chem.MolToSmiles(mol), error)
            continue
        yield with_coordinates(mol, coords)


def with_coordinates(mol: Chem.Mol, coords: bytes) -> Chem.Mol:
    """A copy of `mol` with one 2D conformer at `coords` (x, y per atom, as `task_layout`)."""
    xy = array.array("d", coords)
    conformer = Chem.Conformer(mol.GetNumAtoms())
    for atom in range(mol.GetNumAtoms()):
        conformer.SetAtomPosition(atom, Point3D(xy[2 * atom], xy[2 * atom + 1], 0.0))
    conformer.Set3D(False)
    copy = Chem.Mol(mol)
    copy.RemoveAllConformers()
    copy.AddConformer(conformer, assignId=True)
    return copy


@atexit.register
def _close_idle() -> None:
    with _lock:
        helpers, _idle[:] = list(_idle), []
    for helper in helpers:
        helper.kill()


if __name__ == "__main__":
    _serve(int(sys.argv[1]), int(sys.argv[2]))
