"""The booking system lets a system client read everyone: what the connector reads of a
person with a protected identity is kept as protected (never shown, never an SMS), and the
connector itself says nothing about them (logs, its command's output)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client

from bookings.fhir.pull.poll import PollReport
from bookings.models import Patient
from consent.services import consent_activate
from core.staff import Role
from reminders import dispatch as dispatching
from reminders.models import Message
from tests.bookings.fhirpull.conftest import HSA
from tests.bookings.fhirpull.test_sync import at
from tests.factories import UserFactory
from tests.fhirserver.harness import FhirTestServer, appointment, patient
from tests.reminders.fakes import RecordingGateway

pytestmark = pytest.mark.django_db

Poll = Callable[..., PollReport]
SECRET, OPEN, WARD, PARENT = "197507072382", "199001012385", "201806062384", "196505052388"
SECRET_NUMBER, PARENT_NUMBER = "+46708887766", "+46705554433"


@pytest.fixture
def recording(settings: Any) -> Iterator[type[RecordingGateway]]:
    settings.SMS_GATEWAY = "tests.reminders.fakes.RecordingGateway"
    RecordingGateway.reset()
    yield RecordingGateway
    RecordingGateway.reset()


def load(server: FhirTestServer) -> None:
    server.put(
        patient("p-secret", SECRET, given="Hemlig", mobile=SECRET_NUMBER, protected=True),
        patient("p-open", OPEN, given="Öppen", mobile="+46701112233"),
        # A child whose guardian is protected is protected too (rules 3.1).
        patient("p-parent", PARENT, given="Förälder", mobile=PARENT_NUMBER, protected=True),
        patient("p-ward", WARD, given="Barn", mobile=None, guardians=(PARENT,)),
        appointment("BOK-S", pid=SECRET, hsa_id=HSA, start=at(72)),
        appointment("BOK-O", pid=OPEN, hsa_id=HSA, start=at(72)),
        appointment("BOK-W", pid=WARD, hsa_id=HSA, start=at(72)),
    )


def test_protected_people_read_from_the_server_never_get_an_sms(
    fhir_server: FhirTestServer, clinic: Any, poll: Poll, recording: type[RecordingGateway]
) -> None:
    load(fhir_server)
    poll()
    assert Patient.objects.get(personal_id=SECRET).protected_identity is True
    assert Patient.objects.get(personal_id=PARENT).protected_identity is True
    for person in Patient.objects.all():
        consent_activate(patient=person, actor=None, channel="phone")

    with time_machine.travel(at(72) - timedelta(hours=47)):
        dispatching.dispatch_in_process()

    reminders = Message.objects.filter(kind="reminder").order_by("appointment__external_id")
    assert [(m.appointment.external_id, m.status, m.reason) for m in reminders] == [
        ("BOK-O", "sent", ""),
        ("BOK-S", "suppressed", "protected_identity"),
        ("BOK-W", "suppressed", "protected_identity"),
    ]
    assert [s.to for s in recording.sent] == ["+46701112233"]


def test_a_patient_who_becomes_protected_is_protected_before_their_booking_changes(
    fhir_server: FhirTestServer, clinic: Any, poll: Poll, recording: type[RecordingGateway]
) -> None:
    load(fhir_server)
    poll()
    consent_activate(patient=Patient.objects.get(personal_id=OPEN), actor=None, channel="phone")
    fhir_server.put(patient("p-open", OPEN, given="Öppen", mobile="+46701112233", protected=True))

    poll()

    assert Patient.objects.get(personal_id=OPEN).protected_identity is True
    with time_machine.travel(at(72) - timedelta(hours=47)):
        dispatching.dispatch_in_process()
    assert recording.sent == []


def test_the_connector_shows_nothing_of_a_protected_person(
    fhir_server: FhirTestServer, clinic: Any, poll: Poll, capsys: Any, caplog: Any
) -> None:
    load(fhir_server)
    fhir_server.put(
        appointment("BOK-X", pid=SECRET, hsa_id="SE2321000115-E999999999", start=at(60))
    )
    caplog.set_level("DEBUG", logger="bookings")

    call_command("fhir_pull", "--once", "--dry-run")
    poll()

    said = capsys.readouterr().out + capsys.readouterr().err + caplog.text
    assert "BOK-X" in said  # the refusal is logged, by the booking's id
    for secret in (SECRET, SECRET[2:], "Hemlig", SECRET_NUMBER, SECRET_NUMBER[3:], PARENT):
        assert secret not in said


def test_staff_do_not_see_the_number_the_connector_read(
    fhir_server: FhirTestServer, clinic: Any, poll: Poll
) -> None:
    load(fhir_server)
    poll()
    reception = Client()
    reception.force_login(UserFactory(role=Role.RECEPTION, clinics=[clinic]))
    secret = Patient.objects.get(personal_id=SECRET)
    open_ = Patient.objects.get(personal_id=OPEN)

    page = reception.get(f"/patients/{secret.page_key}/")
    control = reception.get(f"/patients/{open_.page_key}/")

    assert (page.status_code, control.status_code) == (200, 200)
    assert "701112233" in control.content.decode().replace(" ", "").replace("-", "")
    assert "708887766" not in page.content.decode().replace(" ", "").replace("-", "")
