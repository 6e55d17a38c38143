"""End to end: a real Celery worker and beat (on Redis when the machine has it, else on the
embedded file-system broker), a contact booked over real HTTP, its SMS in the outbox."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.utils import timezone

from bookings.models import Scope
from bookings.services import api_client_create
from consent.services import consent_activate
from reminders.models import Message
from reminders.schedule import beat_schedule_install
from tests.factories import ClinicFactory, PatientFactory

from .processes import ROOT, env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def broker_url(tmp_path: Path) -> Iterator[str]:
    server = shutil.which("redis-server")
    if server is None or os.environ.get("E2E_BROKER") == "filesystem":
        yield "filesystem://localhost//"  # the embedded broker; folders under VAR_DIR=tmp_path
        return
    port = free_port()
    proc = subprocess.Popen(
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(timeout=10)


def celery(*args: str, broker: str, var_dir: Path) -> subprocess.Popen[str]:
    log = open(var_dir / f"{args[0]}.log", "w")  # noqa: SIM115 (closed with the process)
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", *args, "--loglevel", "INFO"],
        cwd=ROOT,
        env=env(CELERY_BROKER_URL=broker, VAR_DIR=var_dir, SMS_GATEWAY="outbox"),
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
