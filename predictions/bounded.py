"""RDKit calls with an enforced time budget: run in a helper process, killed at the deadline.

Some RDKit calls can run for minutes on a small input: CoordGen's 2D layout on a large ring
(a 34-atom ring 3 s, 40 atoms > 10 min), a substructure match of long `*~*` paths against a
dense cage (exponential). Python cannot interrupt a C++ call from another thread, so the call
is made in a helper process that is killed when the budget runs out.

A helper is a plain `python -I predictions/bounded.py` (RDKit only: no Django, no torch, no
matplotlib; ~60 MB), started on first use and kept, one per thread that needs one at a time
(a sync gunicorn worker or a Huey worker thread: one), talking over a socket pair with
`multiprocessing.connection` (pickled messages). A call costs about 0.1 ms more than in the
process itself (measured: tests/test_budgets.py). A helper killed at a deadline is replaced
at once (the new one imports RDKit while the caller goes on), and the time a helper takes to
start is not counted against a budget.

    bounded.call("layout", mol_bytes, True, budget=0.3)      # -> the result, or OverBudget
    for message in bounded.stream("screen", ..., budget=2):  # progress as it comes

This file is also the helper itself (`__main__` below); the functions it runs are the
`task_…` functions here, so they import nothing from the site.
"""

from __future__ import annotations

import array
import atexit
import logging
import os
import socket
import subprocess
import sys
import threading
import time
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


def task_screen(pattern_bytes: bytes, smiles: list[str], max_matches: int, every: float = 0.01):
    """Which of `smiles` contain the pickled pattern, in order, stopping after `max_matches`.

    Yields (checked so far, indices found since the last message) every `every` seconds and
    at the end, so a caller that kills the helper at its deadline knows how far it got."""
    pattern = Chem.Mol(pattern_bytes)
    found, total, last = [], 0, time.monotonic()
    for index, text in enumerate(smiles):
        mol = trusted_mol(text)
        if mol is not None and mol.HasSubstructMatch(pattern):
            found.append(index)
            total += 1
        now = time.monotonic()
        if now - last >= every:
            yield index + 1, found
            found, last = [], now
        if total >= max_matches:
            yield index + 1, found
            return
    yield len(smiles), found


TASKS = {"layout": task_layout, "highlight": task_highlight, "screen": task_screen}
STREAMS = {"screen"}


def _serve(fd: int) -> None:
    """The helper's loop: one request at a time, until the socket closes."""
    _die_with_parent()
    rdDepictor.SetPreferCoordGen(True)
    conn = Connection(fd)
    conn.send(("ready", os.getpid()))
    while True:
        try:
            name, args = conn.recv()
        except (EOFError, OSError):
            return
        try:
            if name in STREAMS:
                for message in TASKS[name](*args):
                    conn.send(("more", message))
                conn.send(("done", None))
            else:
                conn.send(("done", TASKS[name](*args)))
        except Exception as error:  # an RDKit error is the caller's answer, not the helper's end
            conn.send(("error", f"{type(error).__name__}: {error}"))


def _die_with_parent() -> None:
    """Linux: this helper is killed when the process that started it dies (even by SIGKILL),
    so a helper busy with a long call never outlives a killed gunicorn worker."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


# --- The caller's side ---------------------------------------------------------------------

START_TIMEOUT = 30.0  # seconds a new helper may take to import RDKit (not part of a budget)
KEEP_IDLE = 2  # helpers kept per process for the next call


class OverBudget(Exception):
    """The call ran out of its budget; its helper was killed."""


class HelperError(RuntimeError):
    """The call raised in the helper (its message says what), or the helper died."""


class _Helper:
    def __init__(self) -> None:
        ours, theirs = socket.socketpair()
        with theirs:
            self.process = subprocess.Popen(
                [sys.executable, "-I", os.path.abspath(__file__), str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
            )
        self.conn = Connection(ours.detach())
        self.ready = False

    def wait_ready(self) -> None:
        if self.ready:
            return
        if not self.conn.poll(START_TIMEOUT):
            self.kill()
            raise HelperError("the RDKit helper did not start")
        self.conn.recv()
        self.ready = True

    def receive(self, deadline: float):
        """The next message, or OverBudget (the helper killed) once `deadline` has passed."""
        try:
            if self.conn.poll(max(0.0, deadline - time.monotonic())):
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


_idle: list[_Helper] = []
_lock = threading.Lock()
_owner = os.getpid()


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


def _replace() -> None:
    """After a kill: a fresh helper starts importing RDKit now, for the next call."""
    with _lock:
        if _idle:
            return
    _give(_Helper())


def stream(name: str, *args, budget: float):
    """Messages of a streaming task as they come; OverBudget when `budget` seconds pass."""
    helper = _take()
    try:
        helper.wait_ready()
        deadline = time.monotonic() + budget
        helper.conn.send((name, args))
        while True:
            kind, value = helper.receive(deadline)
            if kind != "more":
                break
            yield value
    except OverBudget:
        _replace()
        raise
    except GeneratorExit:  # the caller stopped early: the helper may still be busy
        helper.kill()
        _replace()
        raise
    _give(helper)
    if kind == "error":
        raise HelperError(value)


def call(name: str, *args, budget: float):
    """The result of task `name` run in a helper, or OverBudget after `budget` seconds."""
    helper = _take()
    try:
        helper.wait_ready()
        helper.conn.send((name, args))
        kind, value = helper.receive(time.monotonic() + budget)
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
    _serve(int(sys.argv[1]))
