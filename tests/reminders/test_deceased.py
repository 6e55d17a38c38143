"""The deceased (rules 3.1, reason `deceased`): a patient the population register reports
as deceased never gets an SMS, nor do their guardians get one for them; a deceased
guardian's number is not used for their children. Pending messages are suppressed at
once when the register reports the death, and the dispatcher refuses at sending time
too. The desk and the patient page say so."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from bookings.models import Appointment, Patient
from bookings.services import patient_sync
from core.models import Scope
from core.staff import Role
from reminders import dispatch as dispatching
from reminders import schedule
from reminders.models import Message
from tests.factories import ClinicFactory, PatientFactory, UserFactory
from tests.pages import page_text

from .fakes import RecordingGateway
from .test_dispatch import child_with_two_guardian_numbers

pytestmark = pytest.mark.django_db
Booked = Callable[..., Appointment]
DIED = "2026-03-01T14:20:00+01:00"


def sync_body(patient: Patient, **changes: Any) -> dict[str, Any]:
    """The register's sync of the patient as stored, with `changes`."""
    return {
        "protected_identity": patient.protected_identity,
        "mobile_number": patient.mobile_number or None,
        "sms_consent_1177": patient.sms_consent_1177,
        "guardians": [g.personal_id for g in patient.guardians.all()],
        **changes,
    }


def report_death(api: APIClient, patient: Patient, when: str | None = DIED) -> Any:
    return api.put(
        f"/api/v1/patients/{patient.personal_id}/",
        sync_body(patient, deceased_at=when),
        format="json",
    )


def statuses(patient: Patient) -> list[tuple[str, str, str]]:
    return sorted(
        Message.objects.filter(appointment__patient=patient).values_list(
            "appointment__external_id", "status", "reason"
        )
    )


def test_the_register_reporting_a_death_suppresses_pending_messages_at_once(
    booked: Booked, recording: type[RecordingGateway], registry_api: APIClient
) -> None:
    patient, other = PatientFactory(), PatientFactory()
    soon = booked(patient=patient, starts_in=timedelta(hours=10))
    dispatching.dispatch_in_process()  # the reminder due at once is sent before the death
    later = booked(patient=patient, starts_in=timedelta(days=5))
    someone_else = booked(patient=other, starts_in=timedelta(days=5))

    response = report_death(registry_api, patient)

    assert response.status_code == 200
    assert response.json()["deceased_at"] == "2026-03-01T14:20:00+01:00"
    assert statuses(patient) == [
        (soon.external_id, "sent", ""),
        (later.external_id, "suppressed", "deceased"),
    ]
    assert statuses(other) == [(someone_else.external_id, "scheduled", "")]
    patient.refresh_from_db()
    assert patient.deceased_at == datetime(2026, 3, 1, 13, 20, tzinfo=UTC)


def test_suppressing_a_deceased_patient_s_messages_touches_only_their_pending_ones(
    booked: Booked,
) -> None:
    """The service itself: each of the patient's scheduled messages is suppressed with the
    reason and the moment given, and counted; what was sent or cancelled, and another
    patient's, keep their status, reason and time of writing."""
    patient, other = PatientFactory(), PatientFactory()
    first = booked(patient=patient, starts_in=timedelta(days=5))
    second = booked(patient=patient, starts_in=timedelta(days=6))
    sent = booked(patient=patient, starts_in=timedelta(days=7))
    cancelled = booked(patient=patient, starts_in=timedelta(days=8))
    someone_else = booked(patient=other, starts_in=timedelta(days=5))
    Message.objects.filter(appointment=sent).update(status="sent")
    Message.objects.filter(appointment=cancelled).update(
        status="cancelled", reason="appointment_cancelled"
    )
    before = dict(Message.objects.values_list("appointment__external_id", "updated_at"))
    moment = datetime(2026, 3, 1, 13, 20, tzinfo=UTC)

    assert schedule.messages_suppress_deceased(patient=patient, moment=moment) == 2

    assert statuses(patient) == [
        (first.external_id, "suppressed", "deceased"),
        (second.external_id, "suppressed", "deceased"),
        (sent.external_id, "sent", ""),
        (cancelled.external_id, "cancelled", "appointment_cancelled"),
    ]
    assert statuses(other) == [(someone_else.external_id, "scheduled", "")]
    written = dict(Message.objects.values_list("appointment__external_id", "updated_at"))
    assert written == before | {first.external_id: moment, second.external_id: moment}


def test_a_refused_sync_reporting_a_death_suppresses_nothing(
    booked: Booked, registry_api: APIClient
) -> None:
    patient = PatientFactory()
    booked(patient=patient, starts_in=timedelta(days=5))
    body = sync_body(patient, deceased_at=DIED, guardians=["19121212-1212"])  # unknown
    response = registry_api.put(f"/api/v1/patients/{patient.personal_id}/", body, format="json")
    assert response.status_code == 400
    assert [s for _, s, _ in statuses(patient)] == ["scheduled"]
    patient.refresh_from_db()
    assert patient.deceased_at is None


def test_a_contact_booked_after_the_death_is_refused_at_sending(
    booked: Booked, recording: type[RecordingGateway]
) -> None:
    patient = PatientFactory()
    patient_sync(
        personal_id=patient.personal_id,
        protected_identity=False,
        mobile_number=patient.mobile_number,
        sms_consent_1177=False,
        guardians=[],
        deceased_at=timezone.now() - timedelta(days=1),
    )
    booked(patient=patient)
    assert dispatching.dispatch_in_process()["suppressed"] == 1
    assert [(s, r) for _, s, r in statuses(patient)] == [("suppressed", "deceased")]
    assert recording.sent == []


def test_a_deceased_child_s_guardians_get_nothing_for_the_child(
    booked: Booked, recording: type[RecordingGateway], registry_api: APIClient
) -> None:
    child = child_with_two_guardian_numbers()
    appointment = booked(patient=child, starts_in=timedelta(days=5))
    assert report_death(registry_api, child).status_code == 200
    assert statuses(child) == [(appointment.external_id, "suppressed", "deceased")]
    dispatching.dispatch_in_process()
    assert recording.sent == []


def test_a_deceased_guardian_s_number_is_not_used_the_other_guardian_s_is(
    booked: Booked, recording: type[RecordingGateway], registry_api: APIClient
) -> None:
    child = child_with_two_guardian_numbers()
    first = child.guardianships.order_by("id")[0].guardian
    assert report_death(registry_api, first).status_code == 200
    booked(patient=child)
    dispatching.dispatch_in_process()
    assert sorted((m.to, m.status) for m in Message.objects.all()) == [("+46702222222", "sent")]
    assert [s.to for s in recording.sent] == ["+46702222222"]


def test_the_sms_status_api_gives_the_reason(
    registry_api: APIClient, status_api: APIClient
) -> None:
    patient = PatientFactory()
    report_death(registry_api, patient)
    clinic = ClinicFactory()
    status = status_api.get(
        f"/api/v1/patients/{patient.personal_id}/sms-status/", {"clinic": clinic.hsa_id}
    ).json()
    assert (status["will_receive"], status["reasons"]) == (False, ["deceased", "not_activated"])


# --- what the register may say ---------------------------------------------------------------
def test_a_sync_that_leaves_deceased_at_out_keeps_it_and_null_clears_it(
    registry_api: APIClient,
) -> None:
    patient = PatientFactory()
    report_death(registry_api, patient)
    url = f"/api/v1/patients/{patient.personal_id}/"
    kept = registry_api.put(url, sync_body(patient), format="json")
    assert kept.json()["deceased_at"] == "2026-03-01T14:20:00+01:00"
    cleared = registry_api.put(url, sync_body(patient, deceased_at=None), format="json")
    assert cleared.json()["deceased_at"] is None
    patient.refresh_from_db()
    assert patient.deceased_at is None


def test_a_death_before_2000_is_taken(registry_api: APIClient) -> None:
    patient = PatientFactory(age=90)
    response = report_death(registry_api, patient, "1998-06-01T00:00:00+02:00")
    assert response.status_code == 200
    assert response.json()["deceased_at"] == "1998-06-01T00:00:00+02:00"


@pytest.mark.parametrize(
    ("when", "code"),
    [
        ("2999-01-01T00:00:00+01:00", "in_future"),
        ((datetime.now(UTC) + timedelta(days=1)).isoformat(), "in_future"),
        ("1900-01-01T00:00:00+01:00", "before_birth"),
        ("0001-01-01T00:00:00+14:00", "before_birth"),  # no UTC time of its own
        ("9999-12-31T23:00:00-14:00", "in_future"),
        ("2026-03-01T14:20:00", "naive_datetime"),
        ("1 mars", "invalid"),
        ("", "invalid"),
    ],
    # Fixed ids: the second case's value is the time of collection, and a test id must
    # name the same test when collected again (bench/mutation.py runs tests by id).
    ids=[
        "year-2999",
        "tomorrow",
        "before-birth",
        "year-1-east-of-utc",
        "year-9999-west-of-utc",
        "naive",
        "not-a-time",
        "empty",
    ],
)
def test_an_impossible_death_is_refused_and_nothing_changes(
    booked: Booked, registry_api: APIClient, when: str, code: str
) -> None:
    patient = PatientFactory()
    booked(patient=patient, starts_in=timedelta(days=5))
    response = report_death(registry_api, patient, when)
    assert response.status_code == 400, response.content
    assert {"field": "deceased_at", "code": code} in [
        {"field": e["field"], "code": e["code"]} for e in response.json()["errors"]
    ]
    patient.refresh_from_db()
    assert patient.deceased_at is None
    assert [s for _, s, _ in statuses(patient)] == ["scheduled"]


# --- the desk and the patient page say so -------------------------------------------------------
def test_the_patient_page_and_the_desk_say_the_patient_is_deceased(
    morning: None, booked: Booked, registry_api: APIClient
) -> None:
    clinic = ClinicFactory()
    patient = PatientFactory(given_name="Greta")
    booked(patient=patient, clinic=clinic, starts_in=timedelta(hours=1))
    report_death(registry_api, patient)
    client = Client()
    client.force_login(UserFactory(role=Role.RECEPTION, clinics=[clinic]))
    session = client.session
    session["clinic_id"] = clinic.pk
    session.save()

    page = page_text(client.get(f"/patients/{patient.page_key}/"))
    assert "Avliden 2026-03-01 enligt folkbokföringen – inga sms skickas" in page
    assert "Avliden enligt folkbokföringen: sms skickas aldrig" in page  # why nobody gets SMS
    desk = page_text(client.get("/desk/"))
    assert "Avliden – inga sms" in desk
    assert "Avliden enligt folkbokföringen: sms skickas aldrig" in desk
    assert "Fick inte – aktivera nu" not in desk  # activating would not help


def test_scope_registry_write_is_needed_to_report_a_death(
    make_api: Callable[..., tuple[APIClient, Any]],
) -> None:
    patient = PatientFactory()
    api, _ = make_api(Scope.BOOKINGS_WRITE)
    assert report_death(api, patient).status_code == 403
    patient.refresh_from_db()
    assert patient.deceased_at is None
