#!/usr/bin/env bash
# The test command: installs what the tests need, brings up a throwaway PostgreSQL (unless
# DATABASE_URL is set), runs ruff, mypy, the migrations check and pytest, and stops the
# database afterwards. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/bootstrap.sh requirements-dev.txt

# What the end-to-end and browser tests use: Debian's redis-server (else the embedded broker)
# and chromium (Playwright drives it; it cannot download a browser of its own here); and
# promtool, from Debian's prometheus package, for the alert rules.
need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)  # promtool checks the alert rules
command -v npm >/dev/null 2>&1 || need+=(nodejs npm)  # the FHIR validator and test server
if [ ${#need[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "==> installing ${need[*]} (Debian packages)"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"; } \
    >/dev/null 2>&1 || echo "    (could not install ${need[*]}; continuing without)"
fi

# Node packages the tests use, each pinned by its lockfile and installed again only when the
# lockfile changed: the FHIR validator that is not our FHIR library (tests/fhirvalidator)
# and the real FHIR server the connector's tests run (Medplum's FHIR router, tests/fhirserver).
for dir in tests/fhirvalidator tests/fhirserver; do
  command -v npm >/dev/null 2>&1 || break
  lock_sum=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  if [ "$(cat "$dir/node_modules/.lock-sha256" 2>/dev/null)" != "$lock_sum" ]; then
    echo "==> npm ci ($dir)"
    npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
    echo "$lock_sum" > "$dir/node_modules/.lock-sha256"
  fi
done

if [ -z "${DATABASE_URL:-}" ]; then
  eval "$(scripts/throwaway-postgres.sh start)"
  trap 'scripts/throwaway-postgres.sh stop "$PGDIR"' EXIT
  export DATABASE_URL
  echo "==> throwaway PostgreSQL at ${DATABASE_URL}"
fi
export VAR_DIR=${VAR_DIR:-$(pwd)/var/test}
# Production settings, as a region runs them (DEBUG off: keys of their own, secure cookies,
# HSTS), except that the tests speak plain HTTP to the test server.
export SECRET_KEY=${SECRET_KEY:-$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(50))')}
export SMS_WEBHOOK_SECRET=${SMS_WEBHOOK_SECRET:-$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(32))')}
export SECURE_SSL_REDIRECT=false
# The test process itself needs no broker: nudges go nowhere, the database is the queue.
export CELERY_BROKER_URL=${CELERY_BROKER_URL:-memory://}

echo "==> ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "==> mypy"
.venv/bin/mypy .
echo "==> alert rules (promtool)"
if ! command -v promtool >/dev/null 2>&1; then
  echo "promtool is missing: install Debian's prometheus package" >&2
  exit 1
fi
promtool check rules config/prometheus/alerts.yml
(cd config/prometheus && promtool test rules alerts_test.yml)
echo "==> migrations are up to date"
.venv/bin/python manage.py makemigrations --check --dry-run
echo "==> pytest"
.venv/bin/python -m pytest "$@"
# The zero-setup default (`make run`) runs on SQLite, where the dispatch loop and the hot
# API writes take their portable paths (no SKIP LOCKED, no arrays, no prepared
# statements), and where the audit trails' triggers must survive table rebuilds: prove
# those too, and the audit page's dates at the calendar's edges (year 1 has no UTC start
# there).
echo "==> pytest on SQLite: the portable paths of the dispatch loop and the hot API writes"
env -u DATABASE_URL ALLOW_SQLITE_TESTS=1 .venv/bin/python -m pytest -q -m "not postgresql" \
  tests/reminders/test_dispatch.py tests/core/test_bulk.py \
  tests/reminders/test_schedule.py tests/reminders/test_checkin.py tests/core/test_db.py \
  tests/core/test_append_only.py \
  "tests/test_backoffice_fuzz.py::test_the_audit_page_refuses_dates_outside_this_century_in_swedish"
