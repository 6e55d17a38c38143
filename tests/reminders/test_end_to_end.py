"""End to end: a real Celery worker and beat (on Redis when the machine has it, else on the
embedded file-system broker), a contact booked over real HTTP, its SMS in the outbox."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.utils import timezone

from consent.services import consent_activate
from core.models import Scope
from core.services import api_client_create
from reminders.models import FINAL, Message
from reminders.schedule import beat_schedule_install
from tests.factories import ClinicFactory, PatientFactory

from .processes import ROOT, env, free_port, start_redis

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def broker_url(tmp_path: Path) -> Iterator[str]:
    server = shutil.which("redis-server")
    if server is None or os.environ.get("E2E_BROKER") == "filesystem":
        yield "filesystem://localhost//"  # the embedded broker; folders under VAR_DIR=tmp_path
        return
    port = free_port()
    proc = start_redis(port, tmp_path)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(timeout=10)


def celery(
    *args: str, broker: str, var_dir: Path, log_name: str = "", **extra: Any
) -> subprocess.Popen[str]:
    log = open(var_dir / f"{log_name or args[0]}.log", "w")  # noqa: SIM115 (closed with it)
    settings = {"SMS_GATEWAY": "outbox", **extra}
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", *args, "--loglevel", "INFO"],
        cwd=ROOT,
        env=env(CELERY_BROKER_URL=broker, VAR_DIR=var_dir, **settings),
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_worker_and_beat_send_a_contact_booked_through_the_api(
    live_server: Any, broker_url: str, tmp_path: Path, on_postgres: None
) -> None:
    beat_schedule_install()
    clinic = ClinicFactory(sms_name="Hudkliniken")
    patient = PatientFactory(mobile_number="+46705550101")
    consent_activate(patient=patient, actor=None, channel="visit")
    _, key = api_client_create(
        name="booking-system", scopes=[Scope.BOOKINGS_WRITE, Scope.OUTBOX_READ]
    )
    workers = [
        celery("worker", "--pool", "solo", broker=broker_url, var_dir=tmp_path),
        celery(
            "beat",
            "--scheduler",
            "django_celery_beat.schedulers:DatabaseScheduler",
            "--max-interval",
            "5",
            broker=broker_url,
            var_dir=tmp_path,
        ),
    ]
    try:
        http = httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {key}"})
        start = timezone.now() + timedelta(hours=20)  # within 48 h: due right after booking
        response = http.put(
            "/api/v1/appointments/E2E-1/",
            json={
                "patient": patient.personal_id,
                "clinic": clinic.hsa_id,
                "starts_at": start.isoformat(),
                "status": "booked",
                "contact_type": "phone",
            },
        )
        assert response.status_code == 201, response.text

        deadline = time.time() + 120
        while not Message.objects.filter(status="sent").exists() and time.time() < deadline:
            assert all(p.poll() is None for p in workers), "a Celery process died"
            time.sleep(0.5)
        logs = {
            p: (tmp_path / f"{n}.log").read_text()
            for p, n in zip(workers, ("worker", "beat"), strict=True)
        }
        assert Message.objects.filter(status="sent").exists(), logs

        outbox = http.get("/api/v1/outbox/", params={"to": "+46705550101"}).json()["results"]
        assert [(r["appointment"], r["kind"], r["status"], r["segments"]) for r in outbox] == [
            ("E2E-1", "reminder", "sent", 1)
        ]
        assert outbox[0]["body"].startswith("Påminnelse om bokad kontakt med Hudkliniken ")
        messages = http.get("/api/v1/appointments/E2E-1/messages/").json()["results"]
        assert [(m["kind"], m["status"], m["to"]) for m in messages] == [
            ("reminder", "sent", "+46705550101")
        ]
        assert "reminders.tasks.send_batch" in logs[workers[0]]  # the worker sent it
    finally:
        for proc in workers:
            proc.terminate()
        for proc in workers:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_two_workers_through_a_faulty_gateway_survive_a_killed_worker_and_a_redis_restart(
    broker_url: str, tmp_path: Path, on_postgres: None
) -> None:
    """Two Celery workers and beat on Redis send 150 reminders through the fake gateway
    with 100 ms latency and faults of every kind but 'down'. One worker is SIGKILLed in
    the middle and Redis is restarted. Counted at the gateway afterwards: every SMS reached
    the phone exactly once, and every message ends in one final state with its reason."""
    assert broker_url.startswith("redis://"), "needs redis-server (scripts/test.sh installs it)"
    from django_celery_beat.models import PeriodicTask

    from tests.fakegateway import FakeGateway

    from .test_processes import seed_due_messages

    beat_schedule_install()
    # The tick and the settling every 2 s instead of 30 and 60: the same tasks, sooner.
    for task in PeriodicTask.objects.filter(
        task__in=["reminders.tasks.tick", "reminders.tasks.settle"]
    ):
        interval = task.interval
        assert interval is not None
        interval.every = 2
        interval.save()
    ids = seed_due_messages(150, patients=150)
    fake = FakeGateway(
        latency=0.1,
        fault_rate=0.15,
        faults=("accept_502", "accept_timeout", "throttle", "broken_200", "refuse"),
        timeout_hold=2.0,
    ).start()
    gateway = {
        "SMS_GATEWAY": "46elks",
        "ELKS46_API_URL": f"{fake.url}/a1",
        "SMS_HTTP_TIMEOUT": 1,
        "SMS_MAX_IN_FLIGHT": 4,
        "DISPATCH_BATCH_SIZE": 10,
        "DISPATCH_CLAIM_TIMEOUT": 4,
        "SMS_UNKNOWN_SETTLE_MINUTES": 1,
    }
    beat_args = ("beat", "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler")
    port = int(broker_url.rsplit(":", 1)[1].split("/")[0])
    procs: list[subprocess.Popen[Any]] = []
    try:
        worker_a = celery(
            "worker",
            "--pool",
            "solo",
            "-n",
            "a@%h",
            broker=broker_url,
            var_dir=tmp_path,
            log_name="worker-a",
            **gateway,
        )
        worker_b = celery(
            "worker",
            "--pool",
            "solo",
            "-n",
            "b@%h",
            broker=broker_url,
            var_dir=tmp_path,
            log_name="worker-b",
            **gateway,
        )
        beat = celery(
            *beat_args, "--max-interval", "1", broker=broker_url, var_dir=tmp_path, **gateway
        )
        procs += [worker_a, worker_b, beat]

        def wait_for(condition: Any, seconds: float) -> None:
            deadline = time.time() + seconds
            while not condition() and time.time() < deadline:
                time.sleep(0.2)

        wait_for(lambda: len(fake.stored) >= 40, 90)
        assert len(fake.stored) >= 40, (tmp_path / "worker-a.log").read_text()[-3000:]
        worker_a.kill()  # SIGKILL, in the middle of its batches
        worker_a.wait(timeout=10)
        subprocess.run(
            ["redis-cli", "-p", str(port), "shutdown", "nosave"], check=False, capture_output=True
        )
        time.sleep(1)
        procs.append(start_redis(port, tmp_path))  # a restarted Redis, empty

        def settled() -> bool:
            return not Message.objects.filter(pk__in=ids).exclude(status__in=FINAL).exists()

        wait_for(settled, 150)
        left = list(
            Message.objects.filter(pk__in=ids)
            .exclude(status__in=FINAL)
            .values_list("pk", "status", "claim_token", "submitted_at")
        )
        assert left == [], left
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        fake.stop()
    sends = fake.sends_per_message()
    assert set(sends.values()) == {1}  # no SMS reached a phone twice
    outcomes = Counter(Message.objects.filter(pk__in=ids).values_list("status", "reason"))
    assert set(outcomes) <= {
        ("sent", ""),
        ("failed", "gateway_refused"),
        ("failed", "outcome_unknown"),
    }
    sent = set(Message.objects.filter(pk__in=ids, status="sent").values_list("pk", flat=True))
    assert sent == {pk for pk in sends if pk is not None} - set(
        Message.objects.filter(pk__in=ids, reason="outcome_unknown").values_list("pk", flat=True)
    )
    assert outcomes[("sent", "")] >= 100
