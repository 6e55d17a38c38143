"""The arrival desk (SPEC 1): the SMS question and its outcomes, no-shows, late
cancellations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from bookings.models import Appointment
from bookings.services import appointment_upsert
from bookings.staff import Role
from consent.models import (
    ArrivalQuestion,
    ConsentEvent,
    ExcludedAtClinic,
    LegacyImport,
    MigrationExclusion,
)
from consent.selectors import snapshot_of
from consent.services import consent_activate, consent_block_clinic
from reminders.models import Message
from tests.factories import ClinicFactory, PatientFactory, UserFactory
from tests.pages import seen

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def mid_morning() -> Any:
    """The desk shows today's contacts: keep the test's contacts inside one local day."""
    with time_machine.travel(datetime(2026, 11, 26, 9, 0, tzinfo=UTC)):
        yield


@pytest.fixture
def desk(db: None) -> dict[str, Any]:
    clinic = ClinicFactory(name="Hudkliniken", self_checkin=True, arrival_question=True)
    user = UserFactory(role=Role.RECEPTION, clinics=[clinic])
    client = Client()
    client.force_login(user)
    return {"clinic": clinic, "user": user, "client": client}


def book(clinic: Any, patient: Any = None, hours: float = 1.5, ext: str = "D1") -> Appointment:
    return appointment_upsert(
        external_id=ext,
        patient=patient or PatientFactory(),
        clinic=clinic,
        starts_at=timezone.now() + timedelta(hours=hours),
        status="booked",
        contact_type="visit",
    )[0]


def arrive(desk: dict[str, Any], appointment: Appointment, outcome: str) -> Any:
    return desk["client"].post(f"/desk/{appointment.pk}/arrive/", {"outcome": outcome}, follow=True)


def test_activate_now_at_arrival_activates_with_channel_arrival_desk(desk: dict[str, Any]) -> None:
    appointment = book(desk["clinic"])
    arrive(desk, appointment, "activated")
    appointment.refresh_from_db()
    assert (appointment.status, appointment.arrived_via) == ("arrived", "desk")
    event = ConsentEvent.objects.get()
    assert (event.action, event.channel, event.actor_user, event.handled_at) == (
        "activate",
        "arrival_desk",
        desk["user"],
        desk["clinic"],
    )
    question = ArrivalQuestion.objects.get()
    assert (question.outcome, question.asked_by) == ("activated", desk["user"])
    # the contact has begun: its pending check-in SMS is not needed any more
    assert set(Message.objects.values_list("status", flat=True)) == {"cancelled"}


def test_activate_now_lifts_a_block_of_this_clinic(desk: dict[str, Any]) -> None:
    patient = PatientFactory()
    consent_activate(patient=patient, actor=None, channel="phone")
    consent_block_clinic(patient=patient, clinic=desk["clinic"], actor=None, channel="phone")
    arrive(desk, book(desk["clinic"], patient), "activated")
    assert snapshot_of(patient).blocked_clinics == frozenset()


def test_patient_who_cannot_get_sms_cannot_be_activated_and_nothing_changes(
    desk: dict[str, Any],
) -> None:
    appointment = book(desk["clinic"], PatientFactory(protected_identity=True))
    page = arrive(desk, appointment, "activated").content.decode()
    assert "Sms kan inte aktiveras: Skyddad identitet" in page
    appointment.refresh_from_db()
    assert appointment.status == "booked"
    assert not ConsentEvent.objects.exists()
    assert not ArrivalQuestion.objects.exists()


def test_cannot_stores_the_reason(desk: dict[str, Any]) -> None:
    appointment = book(desk["clinic"], PatientFactory(mobile_number=""))
    arrive(desk, appointment, "cannot")
    assert ArrivalQuestion.objects.values_list("outcome", "reason").get() == (
        "cannot",
        "no_mobile_number",
    )


@pytest.mark.parametrize("outcome", ["received", "declined"])
def test_received_and_declined_are_stored_and_change_no_consent(
    desk: dict[str, Any], outcome: str
) -> None:
    arrive(desk, book(desk["clinic"]), outcome)
    assert ArrivalQuestion.objects.get().outcome == outcome
    assert not ConsentEvent.objects.exists()


def test_asking_clinic_needs_an_answer(desk: dict[str, Any]) -> None:
    appointment = book(desk["clinic"])
    page = arrive(desk, appointment, "").content.decode()
    assert "Välj vad patienten svarade" in page
    appointment.refresh_from_db()
    assert appointment.status == "booked"


def test_central_reception_is_not_asked(desk: dict[str, Any]) -> None:
    lab = ClinicFactory(name="Klinisk kemi", arrival_question=False)
    desk["user"].clinics.add(lab)
    page = desk["client"].get("/desk/")  # the session's clinic is still Hudkliniken
    assert page.status_code == 200
    appointment = book(lab)
    arrive(desk, appointment, "activated")
    assert ArrivalQuestion.objects.get().outcome == "not_asked"
    assert not ConsentEvent.objects.exists()


def test_patients_left_out_by_the_migration_are_marked_until_activated(
    desk: dict[str, Any],
) -> None:
    patient = PatientFactory(given_name="Märta")
    exclusion = MigrationExclusion.objects.create(
        patient=patient, source=LegacyImport.objects.create(file_name="x", file_sha256="0")
    )
    ExcludedAtClinic.objects.create(exclusion=exclusion, clinic=ClinicFactory())
    book(desk["clinic"], patient)
    assert "Flyttades inte över – fråga!" in desk["client"].get("/desk/").content.decode()
    consent_activate(patient=patient, actor=None, channel="phone")
    assert "Flyttades inte över" not in desk["client"].get("/desk/").content.decode()


def test_desk_lists_today_s_contacts_of_the_clinic_only(desk: dict[str, Any]) -> None:
    mine = book(desk["clinic"], PatientFactory(given_name="Astrid"), hours=0.5, ext="M")
    book(ClinicFactory(), PatientFactory(given_name="Bertil"), hours=0.5, ext="O")
    book(desk["clinic"], PatientFactory(given_name="Cecilia"), hours=72, ext="L")
    page = desk["client"].get("/desk/").content.decode()
    assert f'id="row-{mine.pk}"' in page
    assert "Astrid" in page and "Bertil" not in page and "Cecilia" not in page


def test_other_clinic_s_contact_cannot_be_registered(desk: dict[str, Any]) -> None:
    other = book(ClinicFactory())
    assert (
        desk["client"].post(f"/desk/{other.pk}/arrive/", {"outcome": "received"}).status_code == 403
    )
    other.refresh_from_db()
    assert other.status == "booked"


def test_auditor_has_no_desk() -> None:
    client = Client()
    client.force_login(UserFactory(role=Role.AUDITOR))
    assert seen(client.get("/desk/")) == "refused"


def test_no_show_at_the_desk_and_no_second_arrival(desk: dict[str, Any]) -> None:
    appointment = book(desk["clinic"])
    desk["client"].post(f"/desk/{appointment.pk}/no-show/")
    appointment.refresh_from_db()
    assert appointment.status == "no_show"
    page = arrive(desk, appointment, "received").content.decode()
    assert "redan uteblev" in page
    assert not ArrivalQuestion.objects.exists()


def test_desk_query_count_does_not_grow_with_contacts(
    desk: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    for n in range(15):
        book(desk["clinic"], hours=0.2 + n / 10, ext=f"Q{n}")
    with django_assert_max_num_queries(15):  # one of them writes the access log, in bulk
        page = desk["client"].get("/desk/").content.decode()
    assert page.count('id="row-') == Appointment.objects.filter(clinic=desk["clinic"]).count()
    assert page.count('id="row-') >= 15


@pytest.mark.parametrize(("hours", "late"), [(10, True), (23.9, True), (24.5, False)])
def test_cancellation_less_than_24_hours_before_is_late(
    desk: dict[str, Any], hours: float, late: bool
) -> None:
    appointment = book(desk["clinic"], hours=hours)
    appointment_upsert(
        external_id="D1",
        patient=appointment.patient,
        clinic=desk["clinic"],
        starts_at=appointment.starts_at,
        status="cancelled",
        contact_type="visit",
    )
    appointment.refresh_from_db()
    assert (appointment.status, appointment.late_cancellation) == ("cancelled", late)
    assert appointment.cancelled_at is not None
