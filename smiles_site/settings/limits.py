"""How much one request or batch may ask for: sizes, rows, time budgets, batch work."""

import os
from pathlib import Path

from .env import env_float, env_int, env_path

# Uploads: refuse large bodies before they reach a view.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 2 * 1024 * 1024, minimum=0)
# Longest SMILES text accepted (characters); the model's token limit is checked separately.
SMILES_MAX_CHARS = env_int("SMILES_MAX_CHARS", 500, minimum=1)
# Most molecules in one POST /api/v1/predict call.
API_MAX_MOLECULES = env_int("API_MAX_MOLECULES", 100, minimum=1)

# --- Time budgets on RDKit calls that can run for minutes (chemreport/bounded.py) -----
# Enforced: the call runs in a helper process, killed at the deadline.
# A 2D layout (CoordGen, then RDKit's own) gets this long each; then the picture is a
# placeholder. The picture is stored either way, so the time is spent once.
DEPICTION_BUDGET_SECONDS = env_float("DEPICTION_BUDGET_SECONDS", 0.4)
# A substructure search's atom-by-atom matching gets this long (the page then says how many
# candidates were checked); drawing its page's highlighted matches as long again.
SEARCH_BUDGET_SECONDS = env_float("SEARCH_BUDGET_SECONDS", 3.0)

# --- Batch predictions -----------------------------------------------------------------
# Uploads larger than this, or with more data rows, are refused before anything is queued.
BATCH_MAX_UPLOAD_BYTES = env_int("BATCH_MAX_UPLOAD_BYTES", 20 * 1024 * 1024, minimum=0)
BATCH_MAX_ROWS = env_int("BATCH_MAX_ROWS", 100_000, minimum=1)
# Columns (CSV/TSV) or distinct SD fields: every row stores its carried cells by column name.
BATCH_MAX_COLUMNS = env_int("BATCH_MAX_COLUMNS", 200, minimum=1)
# Rows per unit of work: parsed, predicted and stored together, then progress is saved.
BATCH_CHUNK_ROWS = env_int("BATCH_CHUNK_ROWS", 500, minimum=1)
# Helper processes that compute a batch's RDKit profiles while the worker predicts the next
# rows (batches/worker/profiles.py); 0: the worker computes them itself, after the rows.
BATCH_PROFILE_PROCESSES = env_int(
    "BATCH_PROFILE_PROCESSES", max(0, min(2, (os.cpu_count() or 1) - 1)), minimum=0
)
# Fairness: after this many seconds of work a batch steps aside (between two chunks) when other
# tasks wait in the queue, and is queued again behind them, so visitors' batches take turns.
BATCH_SLICE_SECONDS = env_float("BATCH_SLICE_SECONDS", 5.0)
# A worker holds a chunk of a batch this long between renewals; a dead worker's chunk is taken
# over after it (at once by a worker on the same host that sees the process is gone).
BATCH_LEASE_SECONDS = env_int("BATCH_LEASE_SECONDS", 120, minimum=1)
# Scale-out: a batch starting queues this many tasks in all (itself included), each taking its
# chunks one at a time, so as many workers (on any hosts sharing the database and the queue)
# work one batch together. 1: one worker per batch at a time.
BATCH_PARALLEL_TASKS = env_int("BATCH_PARALLEL_TASKS", 2, minimum=1)
# Storage a batch may take for the columns / SD fields it carries beside the SMILES (every row
# keeps each one by name): estimated at upload as rows x names + the file's bytes; over it, the
# upload is refused (a 100,000-record SDF with 200 fields once stored 229 MB of them).
BATCH_MAX_CARRIED_BYTES = env_int("BATCH_MAX_CARRIED_BYTES", 64 * 1024 * 1024, minimum=0)
# Expiry (`manage.py expire_batches`, run hourly by the worker): finished batches (their rows,
# upload and ZIP) this many days after they finished; a built results.zip this many days after
# it was built (asked for again, it is built again); partial files left by a killed upload or
# ZIP build, and uploads no batch refers to, after this many hours. 0: never.
BATCH_EXPIRY_DAYS = env_int("BATCH_EXPIRY_DAYS", 30, minimum=0)
BATCH_ZIP_EXPIRY_DAYS = env_int("BATCH_ZIP_EXPIRY_DAYS", 7, minimum=0)
BATCH_TEMP_EXPIRY_HOURS = env_int("BATCH_TEMP_EXPIRY_HOURS", 6, minimum=0)


def state(var_dir: Path) -> dict:
    """Where uploads and results.zip files wait: under `var_dir` unless told otherwise."""
    # Uploads over FILE_UPLOAD_MAX_MEMORY_SIZE are spooled here (not the system /tmp), so that
    # a request killed mid-upload leaves its temporary file where expiry finds it.
    spool = env_path("FILE_UPLOAD_TEMP_DIR", var_dir / "upload-tmp")
    spool.mkdir(parents=True, exist_ok=True)
    return {
        # Uploaded files wait here for the worker (share this directory between web and worker).
        "BATCH_UPLOAD_DIR": env_path("BATCH_UPLOAD_DIR", var_dir / "batches"),
        # results.zip files the worker builds, served from here (web and worker share it too).
        "BATCH_EXPORT_DIR": env_path("BATCH_EXPORT_DIR", var_dir / "exports"),
        "FILE_UPLOAD_TEMP_DIR": spool,
    }
