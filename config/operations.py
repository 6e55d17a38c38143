"""What the region's operations team reads (operations 3): `/healthz` (the process runs),
`/readyz` (it can do its work: database, broker, beat, no late reminders) and `/metrics`
(Prometheus text, behind `METRICS_TOKEN`). None of them touches patient data."""

from __future__ import annotations

import hmac
import os
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from prometheus_client import REGISTRY as PROCESS_REGISTRY

from bookings.fhir.pull.metrics import FhirPullCollector
from reminders.health import BEAT_SILENT_AFTER, QueueCollector, heartbeat_age, queue_state

from .celery import app as celery_app


@never_cache
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"status": "ok"})


def _check_database() -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"ok": True}


def _check_broker() -> dict[str, Any]:
    """Connects and, where the transport can (Redis), asks the server to answer: kombu
    may open a Redis "connection" without touching the network."""
    with celery_app.connection_for_write(settings.CELERY_BROKER_URL) as conn:
        conn.ensure_connection(max_retries=1, timeout=settings.READYZ_BROKER_TIMEOUT)
        ping = getattr(getattr(conn.default_channel, "client", None), "ping", None)
        if callable(ping):
            ping()
    return {"ok": True}


def _check_beat() -> dict[str, Any]:
    age = heartbeat_age("tick")
    if age is None:
        return {"ok": False, "detail": "the beat's tick has never run"}
    seconds = round(age.total_seconds(), 1)
    return {"ok": age <= BEAT_SILENT_AFTER, "last_tick_seconds_ago": seconds}


def _check_queue() -> dict[str, Any]:
    state = queue_state()
    return {
        "ok": state.late == 0,
        "due": state.due,
        "late": state.late,
        "oldest_due_seconds": round(state.oldest_due_seconds, 1),
    }


CHECKS = {
    "database": _check_database,
    "broker": _check_broker,
    "beat": _check_beat,
    "queue": _check_queue,
}


@never_cache
@require_GET
def readyz(request: HttpRequest) -> HttpResponse:
    """200 only when every check holds; the body names each (a load balancer reads the
    status, a person the body). A check that fails by raising is reported, not a 500."""
    results: dict[str, dict[str, Any]] = {}
    for name, check in CHECKS.items():
        try:
            results[name] = check()
        except Exception as error:  # the check's own failure is its answer
            results[name] = {"ok": False, "detail": type(error).__name__}
            if name == "database":  # the later checks read the database too
                connection.close()
    ready = all(result["ok"] for result in results.values())
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": results},
        status=200 if ready else 503,
    )


# The queue's gauges, read from the database when scraped (the same from every process).
_QUEUE_REGISTRY = CollectorRegistry()
_QUEUE_REGISTRY.register(QueueCollector())
_QUEUE_REGISTRY.register(FhirPullCollector())


def _process_metrics() -> bytes:
    """Every process's metrics (multiprocess mode, when PROMETHEUS_MULTIPROC_DIR is set:
    gunicorn's workers and Celery's processes each write their own files), else this
    process's own."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(PROCESS_REGISTRY)


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_TOKEN
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not token or not hmac.compare_digest(given.encode(), token.encode()):
        return HttpResponse("metrics need METRICS_TOKEN as a bearer token\n", status=401)
    body = _process_metrics() + generate_latest(_QUEUE_REGISTRY)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
