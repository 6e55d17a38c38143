#!/usr/bin/env bash
# The run command: installs, migrates, loads the demo data and runs web + Celery worker +
# beat together on the embedded defaults (SQLite, file-system broker, outbox gateway).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/bootstrap.sh requirements.txt
export WEB_HOST=${WEB_HOST:-127.0.0.1} WEB_PORT=${WEB_PORT:-8000}
export CHECKIN_BASE_URL=${CHECKIN_BASE_URL:-http://$WEB_HOST:$WEB_PORT/c/}

# Keys of its own, made once and kept under var/ (never the published development key).
mkdir -p var
for name in secret-key webhook-secret; do
  if [ ! -s "var/$name" ]; then
    (umask 077; .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(50))' > "var/$name")
  fi
done
export SECRET_KEY=${SECRET_KEY:-$(cat var/secret-key)}
export SMS_WEBHOOK_SECRET=${SMS_WEBHOOK_SECRET:-$(cat var/webhook-secret)}
# Plain HTTP on this machine: no HTTPS redirect, cookies and HSTS for http://127.0.0.1.
export SECURE_SSL_REDIRECT=${SECURE_SSL_REDIRECT:-false} SECURE_COOKIES=${SECURE_COOKIES:-false}
export SECURE_HSTS_SECONDS=${SECURE_HSTS_SECONDS:-0} TRUST_X_FORWARDED_PROTO=${TRUST_X_FORWARDED_PROTO:-false}
# A test installation: the outbox gateway is what it wants (check --deploy, reminders.E006).
export TEST_INSTALLATION=${TEST_INSTALLATION:-true}

# Readable logs on this machine (production writes JSON lines); two web workers; the
# processes' metrics in one folder, emptied at every start (Prometheus multiprocess mode).
export LOG_FORMAT=${LOG_FORMAT:-text} WEB_WORKERS=${WEB_WORKERS:-2}
export PROMETHEUS_MULTIPROC_DIR=${PROMETHEUS_MULTIPROC_DIR:-$(pwd)/var/prometheus}
rm -rf "$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
if [ ! -s var/metrics-token ]; then
  (umask 077; .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(24))' > var/metrics-token)
fi
export METRICS_TOKEN=${METRICS_TOKEN:-$(cat var/metrics-token)}

.venv/bin/python manage.py migrate --no-input -v 0
.venv/bin/python manage.py collectstatic --no-input -v 0
.venv/bin/python manage.py load_demo

cat <<TXT

  Sms-påminnelser körs nu:  http://$WEB_HOST:$WEB_PORT/
  Logga in:                 http://$WEB_HOST:$WEB_PORT/accounts/login/
  API-dokumentation:        http://$WEB_HOST:$WEB_PORT/api/docs/
  Demoanvändare (lösenord sms-demo-2026):
    reception   – reception, Kirurgikliniken, Ortopedikliniken och Centralreceptionen
    chef        – verksamhetschef, Kirurgikliniken och Ortopedikliniken
    chef.ogon   – verksamhetschef, Ögonkliniken
    admin       – regional administratör (även /admin/)
    granskare   – logggranskare
  Demo-API-nyckel (alla scopes): var/demo-api-key.txt
  Drift: /healthz, /readyz, /metrics (Bearer-token i var/metrics-token)
  Stoppa med Ctrl-C.

TXT
exec .venv/bin/honcho -f Procfile.dev start
