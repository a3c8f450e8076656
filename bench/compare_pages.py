"""Do pages and downloads answer the same as at an earlier commit? Bodies compared, byte for byte
after normalising what differs on every run.

    .venv/bin/python bench/compare_pages.py --before REV [--molecules 6] [--keep DIR]

Each tree (REV, checked out with `git worktree add --detach` under /tmp and removed afterwards,
and the working tree) gets a fresh state directory (`migrate`, `load_examples`: the shipped
examples) and, in one process of its own with settings `smiles_site.settings` (DEBUG off), the
Django test client asks, in a fixed order: the home page; the form POST of the first N molecules
of bench/data/molecules40.smi (new), then again (stored); each one's result page, and the first
featured examples'; their downloads (pictures, plots, scatter, alerts, values CSV/JSON, the
phone plot, report.png; not report.pdf or bundle.zip, which carry their build date); gallery
pages (24, page 2, featured, a verdict, a text and a similarity search), the model page and the
API's model and prediction reads. Before comparing, each body has its CSRF tokens and nonces
blanked and each prediction's link id (24 characters) replaced by its order of first
appearance (they are random per run); times of day are blanked (dates kept:
both runs are today).
Prints one line per request that differs (with the first differing lines) and exits 1 if any.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOWNLOADS = (
    "molecule.svg",
    "molecule.png",
    "plot.svg",
    "plot.png",
    "plot-phone.svg",
    "drugs.svg",
    "drugs.png",
    "alerts.svg",
    "values.csv",
    "values.json",
    "values.csv?precision=full",
    "plot.svg?download=1",
    "report.png",
)
GALLERY = (
    "/gallery/?page_size=24",
    "/gallery/?page_size=24&page=2",
    "/gallery/?featured=on",
    "/gallery/?verdict=in",
    "/gallery/?q=acid",
    "/gallery/?q=CC(=O)Oc1ccccc1C(=O)O&mode=similarity&similarity=0.3",
    "/gallery/?q=c1ccccc1&mode=substructure",
)

# Run inside the tree (cwd), after django.setup(): writes one file per request to OUT.
DUMP = r"""
import json, os, sys
from pathlib import Path
import django
django.setup()
from django.test import Client
from predictions.models import Prediction

out = Path(sys.argv[1]); smiles = json.loads(sys.argv[2])
client = Client()
seq = [0]
def save(name, response):
    seq[0] += 1
    head = f"{response.status_code} {response.get('Content-Type', '')}\n".encode()
    body = b"".join(response.streaming_content) if response.streaming else response.content
    (out / f"{seq[0]:04d} {name.replace('/', '|')}").write_bytes(head + body)
    return response

save("home", client.get("/"))
pages = []
for i, s in enumerate(smiles):
    r = save(f"post new {i}", client.post("/", {"smiles": s}))
    pages.append(r["Location"])
for i, s in enumerate(smiles):
    save(f"post stored {i}", client.post("/", {"smiles": s}))
featured = Prediction.objects.filter(featured=True).order_by("created_at", "pk")[:3]
pages += [p.get_absolute_url() for p in featured]
for i, url in enumerate(pages):
    save(f"page {i}", client.get(url))
    save(f"page again {i}", client.get(url))
for i, url in enumerate(pages):
    for name in json.loads(sys.argv[3]):
        save(f"download {i} {name}", client.get(url + name))
for url in json.loads(sys.argv[4]):
    save(f"gallery {url}", client.get(url))
save("home after", client.get("/"))
save("model", client.get("/model/"))
save("api model", client.get("/api/v1/model"))
for i, url in enumerate(pages[:3]):
    public_id = url.rstrip("/").rsplit("/", 1)[1]
    save(f"api prediction {i}", client.get(f"/api/v1/predictions/{public_id}"))
"""

CSRF = re.compile(
    rb'(name="csrfmiddlewaretoken" value=")[^"]+"|(csrf[-_]?token[^A-Za-z0-9]{1,6})[A-Za-z0-9]{32,}',
    re.I,
)
NONCE = re.compile(rb'(nonce=")[^"]+"')
PUBLIC_ID = re.compile(rb"\b[a-z0-9]{24}\b")
# Times of day (creation, publication): ISO and as pages show them; the date itself is kept.
ISO_TIME = re.compile(rb"(\d{4}-\d\d-\d\d[T ])\d\d:\d\d:\d\d(\.\d+)?")
SHOWN_TIME = re.compile(rb"\b\d\d:\d\d( UTC)")


def env_for(tree: Path, state: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SMILES_"))}
    return {
        **env,
        "DJANGO_SETTINGS_MODULE": "smiles_site.settings",
        "DJANGO_SECRET_KEY": "compare-" + "s" * 60,
        "DJANGO_DEBUG": "false",
        "DJANGO_ALLOWED_HOSTS": "testserver,localhost",
        "DJANGO_SECURE": "false",
        "DJANGO_STATIC_ROOT": str(state / "static"),
        "SMILES_VAR_DIR": str(state / "var"),
        "BATCH_UPLOAD_RATE": "off",
        "HEAVY_DOWNLOAD_RATE": "off",
        "API_ANON_RATE": "off",
        "HUEY_IMMEDIATE": "true",
        "TORCH_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "PYTHONPATH": str(tree),
    }


def dump(tree: Path, out: Path, count: int) -> None:
    state = Path(tempfile.mkdtemp(prefix="compare-state-"))
    env = env_for(tree, state)
    try:
        for args in (["migrate", "-v0"], ["collectstatic", "--noinput", "-v0"], ["load_examples"]):
            subprocess.run(
                [sys.executable, "manage.py", *args],
                cwd=tree,
                env=env,
                check=True,
                capture_output=True,
            )
        lines = (ROOT / "bench" / "data" / "molecules40.smi").read_text().splitlines()
        smiles = [line.split()[0] for line in lines if line.strip()][:count]
        out.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                sys.executable,
                "-c",
                DUMP,
                str(out),
                json.dumps(smiles),
                json.dumps(DOWNLOADS),
                json.dumps(GALLERY),
            ],
            cwd=tree,
            env=env,
            check=True,
        )
    finally:
        shutil.rmtree(state, ignore_errors=True)


def normalised(directory: Path) -> dict[str, bytes]:
    ids: dict[bytes, bytes] = {}

    def name_id(match: re.Match) -> bytes:
        return ids.setdefault(match.group(0), b"ID%03d" % len(ids))

    bodies = {}
    for path in sorted(directory.iterdir()):
        body = path.read_bytes()
        body = CSRF.sub(lambda m: (m.group(1) or m.group(2)) + b"CSRF", body)
        body = NONCE.sub(rb'\1NONCE"', body)
        body = PUBLIC_ID.sub(name_id, body)
        body = ISO_TIME.sub(rb"\1TIME", body)
        body = SHOWN_TIME.sub(rb"TIME\1", body)
        bodies[path.name] = body
    return bodies


def compare(before: Path, now: Path) -> int:
    a, b = normalised(before), normalised(now)
    differ = 0
    for name in sorted(set(a) | set(b)):
        if a.get(name) == b.get(name):
            continue
        differ += 1
        print(f"DIFFERS: {name}")
        if name in a and name in b:
            try:
                left, right = a[name].decode().splitlines(), b[name].decode().splitlines()
            except UnicodeDecodeError:
                print(f"  binary, {len(a[name])} vs {len(b[name])} bytes")
                continue
            for line in list(difflib.unified_diff(left, right, lineterm="", n=0))[2:12]:
                print("  " + line[:200])
    print(f"{len(set(a) | set(b))} responses compared, {differ} differ")
    return 1 if differ else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="git revision to compare against")
    parser.add_argument("--molecules", type=int, default=6)
    parser.add_argument("--keep", type=Path, help="keep the dumps here")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="compare-pages-"))
    worktree = Path(tempfile.mkdtemp(prefix="compare-before-")) / "tree"
    subprocess.run(
        ["git", "worktree", "add", "--detach", str(worktree), args.before],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    try:
        checkpoints = worktree / "checkpoints"
        if not (checkpoints / "default").exists():  # weights not in git: use this tree's
            shutil.rmtree(checkpoints, ignore_errors=True)
            checkpoints.symlink_to(ROOT / "checkpoints")
        dump(worktree, work / "before", args.molecules)
        dump(ROOT, work / "now", args.molecules)
    finally:
        subprocess.run(
            ["git", "worktree", "remove", "--force", str(worktree)], cwd=ROOT, capture_output=True
        )
    status = compare(work / "before", work / "now")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
