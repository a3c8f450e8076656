"""Submit 200 rows, time first visible progress and the end: before and after, one run.

    python bench/bench_progress.py [--idle 20] [--before-commit e1a4070]

Each variant is a real site (tests/live_site.py: `runserver` + `run_huey --workers 1`, file
SQLite, the shipped model) started fresh; the worker is left idle for `--idle` seconds (as
a worker waits between uploads), then 199 good rows and one bad row are pasted into
/batches/ and the progress fragment is polled every 20 ms as htmx would (the page itself
polls every second). Times count from the upload's POST; the web server is started with
WEB_PRELOAD_MODEL=true, as scripts/run.sh does (the old code ignores it). "before" runs the same protocol on `--before-commit`, exported with
`git archive` to a temporary directory. Writes JSON lines to stdout.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.batches.test_batch_worker import molecules  # noqa: E402
from tests.live_site import LiveSite, batch_id_of  # noqa: E402

STATUS = re.compile(r"<strong>(\w+)</strong>([^:]*):")
# The worker is ready: the consumer has started (before: it loads the model on first use),
# or it has loaded the model (after).
READY = {"before": re.compile(r"Huey consumer started"), "after": re.compile(r"Model loaded in")}


def export(commit: str) -> Path:
    target = Path(tempfile.mkdtemp(prefix=f"bench-progress-{commit[:8]}-"))
    archive = subprocess.run(
        ["git", "archive", commit], cwd=ROOT, check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    for shared in ("checkpoints",):  # the model files may be LFS/ignored: use this checkout's
        link = target / shared
        if not (link / "default").exists():
            subprocess.run(["rm", "-rf", str(link)], check=True)
            link.symlink_to(ROOT / shared)
    return target


def run(root: Path, idle: float, ready: re.Pattern) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="bench-progress-state-"))
    site = LiveSite(root, tmp, WEB_PRELOAD_MODEL="true")  # as scripts/run.sh (ignored before)
    site.manage("migrate", "-v", "0")
    try:
        site.start_web()
        site.start_worker()
        site.wait_for_log(ready, timeout=600)
        time.sleep(idle)
        text = "\n".join([*molecules()[:199], "C1CC("])
        submitted = time.monotonic()
        batch = batch_id_of(site.post_form("/batches/", {"text": text}))
        redirected = time.monotonic() - submitted
        seen = site.poll_progress(batch)
    finally:
        site.stop()
    offset = redirected  # polling starts once the upload's redirect is back
    first = next((t for t, _, count, _ in seen if count > 0), None)
    states = []
    for _, _, count, body in seen:
        match = STATUS.search(body)
        state = (match.group(1) + match.group(2)).strip() if match else "?"
        if not states or states[-1][0] != state:
            states.append((state, count))
    return {
        "upload_s": round(redirected, 2),
        "first_progress_s": round(offset + first, 2) if first is not None else None,
        "finished_s": round(offset + seen[-1][0], 2),
        "first_progress_after_redirect_s": round(first, 2) if first is not None else None,
        "finished_after_redirect_s": round(seen[-1][0], 2),
        "polls": len(seen),
        "states": states,
        "final_has_bad_rows": 'class="bad-rows"' in seen[-1][3],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--idle", type=float, default=20.0)
    parser.add_argument("--before-commit", default="e1a4070")
    parser.add_argument("--only", choices=["before", "after"])
    args = parser.parse_args()
    variants = {"before": lambda: export(args.before_commit), "after": lambda: ROOT}
    for name, root in variants.items():
        if args.only and name != args.only:
            continue
        result = run(root(), args.idle, READY[name])
        print(json.dumps({"variant": name, "idle_s": args.idle, **result}), flush=True)


if __name__ == "__main__":
    main()
