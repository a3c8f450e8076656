#!/bin/sh
# Container start: migrate, load the examples (idempotent), then run what was asked.
set -e
if [ "${RUN_MIGRATIONS:-true}" = "true" ]; then
  python manage.py migrate --noinput
  python manage.py load_examples
  python manage.py assess_domain  # verdicts for predictions stored before the check existed
fi
exec "$@"
