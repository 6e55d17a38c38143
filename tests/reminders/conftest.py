from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from bookings.models import Appointment
from bookings.services import appointment_upsert
from consent.services import consent_activate
from tests.factories import ClinicFactory, PatientFactory

from .fakes import RecordingGateway


@pytest.fixture
def recording(settings: Any) -> Iterator[type[RecordingGateway]]:
    settings.SMS_GATEWAY = "tests.reminders.fakes.RecordingGateway"
    RecordingGateway.reset()
    yield RecordingGateway
    RecordingGateway.reset()


@pytest.fixture
def booked(db: None) -> Callable[..., Appointment]:
    """Books a contact through the real service for an activated adult (by default)."""
    counter = {"n": 0}

    def make(
        *,
        starts_in: timedelta = timedelta(hours=10),
        patient: Any = None,
        clinic: Any = None,
        activate: bool = True,
        contact_type: str = "phone",
        starts_at: datetime | None = None,
        patient_fee: Decimal | None = None,
    ) -> Appointment:
        counter["n"] += 1
        patient = patient or PatientFactory()
        if activate:
            consent_activate(patient=patient, actor=None, channel="phone")
        appointment, _ = appointment_upsert(
            external_id=f"T-{counter['n']}",
            patient=patient,
            clinic=clinic or ClinicFactory(),
            starts_at=starts_at or timezone.now() + starts_in,
            status="booked",
            contact_type=contact_type,
            patient_fee=patient_fee,
        )
        return appointment

    return make


@pytest.fixture
def own_pool(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The hand-over's pool of threads made afresh, the size the test's chain asks for. A
    pool left larger by an earlier test (one per process, grown, never shrunk) starts at
    once what the hand-over queues ahead of the open requests, so the gateway would see
    more than `max_in_flight` at a time whenever the first answers are slow."""
    from reminders import handover

    monkeypatch.setattr(handover, "_pool", None)
    yield
    if handover._pool is not None:
        handover._pool.shutdown(wait=False)
