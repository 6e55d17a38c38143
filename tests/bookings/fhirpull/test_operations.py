"""Operating the connector: the beat's task polls when due, one poll at a time; its state
is kept between polls; /metrics shows its health."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from bookings import tasks
from bookings.fhir.pull.models import FhirPullState
from bookings.fhir.pull.poll import PollReport, fhir_pull_poll
from bookings.models import Appointment, Patient
from reminders.models import Message
from tests.bookings.fhirpull.conftest import HSA
from tests.bookings.fhirpull.test_sync import at, load_family
from tests.fhirserver.harness import FhirTestServer, appointment

pytestmark = pytest.mark.django_db

Poll = Callable[..., PollReport]
TOKEN = "metrics-token-for-tests"


def test_the_beat_runs_the_task_on_an_interval() -> None:
    entry = PeriodicTask.objects.get(task="bookings.tasks.fhir_pull")
    assert (entry.interval.every, entry.interval.period, entry.crontab) == (15, "seconds", None)
    assert entry.enabled


def test_the_task_does_nothing_while_the_connector_is_off(settings: Any) -> None:
    settings.FHIR_PULL_BASE_URL = ""
    assert tasks.fhir_pull() == {"ran": False, "applied": 0, "error": ""}
    assert not FhirPullState.objects.exists()


def test_the_task_polls_every_interval_and_sooner_after_a_failure(
    fhir_server: FhirTestServer, clinic: Any, settings: Any
) -> None:
    settings.FHIR_PULL_INTERVAL = 300
    settings.FHIR_PULL_RETRIES = 0
    load_family(fhir_server)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert tasks.fhir_pull()["applied"] == 6
    with time_machine.travel(start + timedelta(seconds=120), tick=False):
        assert tasks.fhir_pull()["ran"] is False  # not due
    fhir_server.faults({"path": "/metadata", "status": 503, "times": -1})
    with time_machine.travel(start + timedelta(seconds=300), tick=False):
        assert tasks.fhir_pull()["error"] == "the server failed 1 times (HTTP 503)"
    with time_machine.travel(start + timedelta(seconds=310), tick=False):
        assert tasks.fhir_pull()["ran"] is False
    with time_machine.travel(start + timedelta(seconds=316), tick=False):
        assert tasks.fhir_pull()["ran"] is True  # retried 15 s after the failure
    state = FhirPullState.objects.get()
    assert (state.failures_in_row, state.errors_total, state.polls_total) == (2, 2, 3)


def test_one_poll_at_a_time(fhir_server: FhirTestServer, clinic: Any) -> None:
    load_family(fhir_server)
    FhirPullState.objects.create(name="default", lease_until=timezone.now() + timedelta(minutes=5))

    report = fhir_pull_poll(force=True)

    assert report.ran is False
    assert not Appointment.objects.exists()


def test_a_lease_left_by_a_killed_poll_runs_out(fhir_server: FhirTestServer, clinic: Any) -> None:
    load_family(fhir_server)
    FhirPullState.objects.create(name="default", lease_until=timezone.now() - timedelta(seconds=1))

    assert fhir_pull_poll(force=True).applied == 6
    assert FhirPullState.objects.get().lease_until is None


def test_metrics_show_the_connector(
    fhir_server: FhirTestServer, clinic: Any, poll: Poll, client: Client, settings: Any
) -> None:
    settings.METRICS_TOKEN = TOKEN
    settings.FHIR_PULL_ALERT_AFTER = 600
    body = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()
    assert "fhir_pull_last_success_age_seconds -1.0" in body
    assert "fhir_pull_lag_seconds -1.0" in body

    load_family(fhir_server)
    poll()
    fhir_server.faults({"path": "/metadata", "status": 400, "times": 1})
    poll()

    body = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()
    for line in (
        "fhir_pull_enabled 1.0",
        "fhir_pull_alert_after_seconds 600.0",
        "fhir_pull_polls_total 2.0",
        "fhir_pull_errors_total 1.0",
        "fhir_pull_pages_total 4.0",
        "fhir_pull_applied_total 6.0",
        "fhir_pull_rejected_total 0.0",
        "fhir_pull_failures_in_row 1.0",
    ):
        assert line in body, line
    age = next(
        row for row in body.splitlines() if row.startswith("fhir_pull_last_success_age_seconds")
    )
    assert 0 <= float(age.split()[1]) < 60
    lag = next(row for row in body.splitlines() if row.startswith("fhir_pull_lag_seconds"))
    assert 0 <= float(lag.split()[1]) < 60


@pytest.mark.django_db(transaction=True)
def test_several_threads_apply_a_poll_guardians_first(
    fhir_server: FhirTestServer, clinic: Any, poll: Poll, settings: Any
) -> None:
    settings.FHIR_PULL_WORKERS = 3
    load_family(fhir_server)
    fhir_server.put(
        *[
            appointment(f"BOK-T{i}", pid="199001012385", hsa_id=HSA, start=at(30 + i))
            for i in range(12)
        ]
    )

    report = poll()

    assert (report.applied, report.created, report.rejected) == (18, 18, 0)
    assert Appointment.objects.count() == 15
    child = Patient.objects.get(personal_id="201501022386")
    assert [g.personal_id for g in child.guardians.all()] == ["198112189876"]
    assert Message.objects.filter(kind="reminder", status="scheduled").count() == 15
