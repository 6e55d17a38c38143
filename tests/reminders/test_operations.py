"""What operations watch (operations 3): /healthz, /readyz turning 503 when beat stops, the
broker is down or a reminder is late (and 200 again when they recover), on PostgreSQL and
a real Redis; /metrics behind its token, and in Prometheus' multiprocess mode across
gunicorn's workers."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.test import Client
from django.utils import timezone

from bookings.models import Appointment
from reminders.dispatch import dispatch_in_process
from reminders.health import heartbeat_record
from reminders.models import Message

from .processes import ROOT, env, free_port, start_redis

pytestmark = pytest.mark.django_db


@pytest.fixture
def redis_broker(tmp_path: Path, settings: Any) -> Iterator[dict[str, Any]]:
    assert shutil.which("redis-server"), "needs redis-server (scripts/test.sh installs it)"
    port = free_port()
    proc = start_redis(port, tmp_path)
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{port}/0"
    state = {"port": port, "proc": proc, "dir": tmp_path}
    yield state
    state["proc"].terminate()
    state["proc"].wait(timeout=10)


def ready(client: Client) -> tuple[int, dict[str, Any]]:
    response = client.get("/readyz")
    return response.status_code, response.json()


def test_healthz_answers_while_the_process_runs(client: Client) -> None:
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_readyz_follows_the_beat_the_broker_and_late_reminders(
    client: Client,
    redis_broker: dict[str, Any],
    booked: Callable[..., Appointment],
    recording: Any,
    on_postgres: None,
) -> None:
    heartbeat_record("tick")
    status, body = ready(client)
    assert status == 200, body
    assert set(body["checks"]) == {"database", "broker", "beat", "queue"}

    # The beat stops: after two minutes without a tick, not ready; a tick brings it back.
    heartbeat_record("tick", at=timezone.now() - timedelta(minutes=3))
    status, body = ready(client)
    assert (status, body["checks"]["beat"]["ok"]) == (503, False)
    heartbeat_record("tick")
    assert ready(client)[0] == 200

    # A reminder more than five minutes late: not ready until it has gone out.
    appointment = booked()
    Message.objects.filter(appointment=appointment).update(
        due_at=timezone.now() - timedelta(minutes=7)
    )
    status, body = ready(client)
    assert (status, body["checks"]["queue"]["late"]) == (503, 1)
    assert body["checks"]["queue"]["oldest_due_seconds"] >= 420
    dispatch_in_process()
    assert ready(client)[0] == 200

    # Redis goes down: not ready; it comes back: ready.
    subprocess.run(
        ["redis-cli", "-p", str(redis_broker["port"]), "shutdown", "nosave"],
        check=False,
        capture_output=True,
    )
    redis_broker["proc"].wait(timeout=10)
    status, body = ready(client)
    assert (status, body["checks"]["broker"]["ok"]) == (503, False)
    redis_broker["proc"] = start_redis(redis_broker["port"], redis_broker["dir"])
    assert ready(client)[0] == 200


def test_readyz_says_so_when_the_database_is_gone(client: Client, monkeypatch: Any) -> None:
    from config import operations

    heartbeat_record("tick")

    def broken() -> dict[str, Any]:
        raise OSError("connection refused")

    monkeypatch.setitem(operations.CHECKS, "database", broken)
    status, body = ready(client)
    assert status == 503
    assert body["checks"]["database"] == {"ok": False, "detail": "OSError"}


def test_metrics_need_the_token_and_show_the_queue(
    client: Client, settings: Any, booked: Callable[..., Appointment], recording: Any
) -> None:
    settings.METRICS_TOKEN = "metrics-token-for-tests"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 401
    settings.METRICS_TOKEN = "metrics-token-for-tests"

    booked()
    booked(patient=None, activate=False)
    dispatch_in_process()
    heartbeat_record("tick")
    client.get("/healthz")
    text = client.get("/metrics", HTTP_AUTHORIZATION="Bearer metrics-token-for-tests")
    body = text.content.decode()
    assert text["Content-Type"].startswith("text/plain")
    for name in (
        "sms_due_messages 0.0",
        "sms_late_messages 0.0",
        'sms_messages{gateway="recording",reason="",status="sent"}',
        'sms_messages{gateway="",reason="not_activated",status="suppressed"}',
        "sms_beat_last_tick_age_seconds",
        'http_request_duration_seconds_count{method="GET",route="healthz",status="200"}',
        'sms_dispatch_outcomes_total{outcome="sent"}',
    ):
        assert name in body, name


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_gunicorn_workers_report_their_metrics_together(tmp_path: Path) -> None:
    """Multiprocess mode: four requests spread over two workers are all counted."""
    port = free_port()
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.py", "config.wsgi"],
        cwd=ROOT,
        env=env(
            WEB_HOST="127.0.0.1",
            WEB_PORT=port,
            WEB_WORKERS=2,
            PROMETHEUS_MULTIPROC_DIR=metrics_dir,
            METRICS_TOKEN="metrics-token-for-tests",
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        for _ in range(40):
            assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
        body = httpx.get(
            f"{base}/metrics", headers={"Authorization": "Bearer metrics-token-for-tests"}
        ).text
        line = next(
            row
            for row in body.splitlines()
            if row.startswith("http_request_duration_seconds_count{") and 'route="healthz"' in row
        )
        assert float(line.rsplit(" ", 1)[1]) >= 40  # every worker's requests, summed
        assert len(list(metrics_dir.glob("histogram_*.db"))) >= 2  # two processes wrote
    finally:
        proc.terminate()
        proc.wait(timeout=20)
