#!/usr/bin/env bash
# Sets up a virtual environment, migrates the embedded SQLite database, loads the example
# drugs, starts the background worker and serves the site on http://127.0.0.1:8000/.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q --disable-pip-version-check -r requirements.txt
export DJANGO_DEBUG=${DJANGO_DEBUG:-true}
export TOKENIZERS_PARALLELISM=false
PY="$VENV/bin/python"
"$PY" manage.py migrate --noinput
"$PY" manage.py load_examples
"$PY" manage.py assess_domain
# One torch thread in the worker measured fastest on 2 cores (bench/batch_results.md). The
# worker loads the model at start and polls the idle queue every HUEY_MAX_DELAY s at most.
TORCH_THREADS=1 "$PY" manage.py run_huey --workers 1 &
WORKER=$!
trap 'kill $WORKER 2>/dev/null || true' EXIT INT TERM
# The server loads the model as it starts (smiles_site/wsgi.py), so no visitor waits for it.
WEB_PRELOAD_MODEL=true "$PY" manage.py runserver "${HOST:-127.0.0.1}:${PORT:-8000}"
