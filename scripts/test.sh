#!/usr/bin/env bash
# Sets up a virtual environment (if needed) and runs the whole test suite,
# browser tests included (Debian's Chromium and redis-server are installed when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q --disable-pip-version-check -r requirements-dev.txt
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null; then
  echo "Installing Debian's chromium for the browser tests..."
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >/dev/null \
    || echo "warning: could not install chromium; browser tests will fail" >&2
fi
if ! command -v redis-server >/dev/null && [ ! -x /usr/bin/redis-server ] && command -v apt-get >/dev/null; then
  echo "Installing Debian's redis-server for the two-worker queue tests..."
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; } >/dev/null \
    || echo "warning: could not install redis-server; the Redis tests will be skipped" >&2
fi
export TOKENIZERS_PARALLELISM=false
exec "$VENV/bin/python" -m pytest "$@"
