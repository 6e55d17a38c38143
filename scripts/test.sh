#!/usr/bin/env bash
# The test command: installs what the tests need, brings up a throwaway PostgreSQL (unless
# DATABASE_URL is set), runs ruff, mypy, the migrations check and pytest, and stops the
# database afterwards. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/bootstrap.sh requirements-dev.txt

if [ -z "${DATABASE_URL:-}" ]; then
  eval "$(scripts/throwaway-postgres.sh start)"
  trap 'scripts/throwaway-postgres.sh stop "$PGDIR"' EXIT
  export DATABASE_URL
  echo "==> throwaway PostgreSQL at ${DATABASE_URL}"
fi
export VAR_DIR=${VAR_DIR:-$(pwd)/var/test}

echo "==> ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "==> mypy"
.venv/bin/mypy .
echo "==> migrations are up to date"
.venv/bin/python manage.py makemigrations --check --dry-run
echo "==> pytest"
.venv/bin/python -m pytest "$@"
