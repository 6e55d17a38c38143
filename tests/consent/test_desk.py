"""The arrival desk (rules 1): the SMS question and its outcomes, no-shows, late
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
from consent.models import (
    ArrivalQuestion,
    ConsentEvent,
    ExcludedAtClinic,
    LegacyImport,
    MigrationExclusion,
)
from consent.selectors import snapshot_of
from consent.services import consent_activate, consent_block, consent_block_clinic
from core.staff import Role
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
    assert (event.action, event.channel, event.actor_user, event.handled_at_clinic) == (
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


def test_activating_a_patient_with_no_number_records_the_wish_and_says_no_sms_will_come(
    desk: dict[str, Any],
) -> None:
    """As on the patient page: the wish is kept (a number added in 1177 later brings the
    SMS), and the desk tells the truth about what happens now."""
    appointment = book(desk["clinic"], PatientFactory(mobile_number=""))
    page = arrive(desk, appointment, "activated").content.decode()
    assert "Sms-påminnelse är aktiverad, men inga sms skickas: Inget mobilnummer i 1177" in page
    appointment.refresh_from_db()
    assert appointment.status == "arrived"
    assert ConsentEvent.objects.get().action == "activate"
    assert ArrivalQuestion.objects.values_list("outcome", "reason").get() == (
        "activated",
        "no_mobile_number",
    )


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


def work_at(desk: dict[str, Any], unit: Any) -> None:
    desk["user"].clinics.add(unit)
    session = desk["client"].session
    session["clinic_id"] = unit.pk
    session.save()


def test_the_question_follows_the_unit_registering_the_arrival(desk: dict[str, Any]) -> None:
    """rules 3.5b: a central reception serving Hudkliniken lists its contacts and is not
    asked; the same kind of contact registered at Hudkliniken's own desk is."""
    central = ClinicFactory(name="Centralreceptionen", arrival_question=False)
    central.serves.add(desk["clinic"])
    at_central = book(desk["clinic"], ext="C1")
    at_clinic = book(desk["clinic"], ext="C2")

    page = desk["client"].get("/desk/").content.decode()  # at Hudkliniken: asked
    assert "Fick du sms-påminnelsen?" in page
    arrive(desk, at_clinic, "")  # no answer: refused, nothing registered
    at_clinic.refresh_from_db()
    assert at_clinic.status == "booked"
    arrive(desk, at_clinic, "received")
    assert ArrivalQuestion.objects.get(appointment=at_clinic).clinic == desk["clinic"]

    work_at(desk, central)
    page = desk["client"].get("/desk/").content.decode()
    assert f"row-{at_central.pk}" in page  # the served clinic's contacts are listed here
    assert "Registrerar ankomst även för: Hudkliniken" in page
    assert "Fick du sms-påminnelsen?" not in page
    arrive(desk, at_central, "activated")  # whatever is posted: not asked here
    question = ArrivalQuestion.objects.get(appointment=at_central)
    assert (question.outcome, question.clinic) == ("not_asked", central)
    assert not ConsentEvent.objects.exists()


def test_a_clinic_that_does_not_ask_does_not_silence_a_unit_that_does(
    desk: dict[str, Any],
) -> None:
    lab = ClinicFactory(name="Klinisk kemi", arrival_question=False)
    desk["clinic"].serves.add(lab)  # Hudkliniken's desk also registers the lab's visits
    appointment = book(lab)
    arrive(desk, appointment, "activated")
    question = ArrivalQuestion.objects.get()
    assert (question.outcome, question.clinic) == ("activated", desk["clinic"])
    assert ConsentEvent.objects.get().handled_at_clinic == desk["clinic"]


def test_a_desk_cannot_register_a_contact_of_a_clinic_it_does_not_serve(
    desk: dict[str, Any],
) -> None:
    other = ClinicFactory(name="Ögonkliniken")
    desk["user"].clinics.add(other)  # works there too, but is at Hudkliniken's desk now
    appointment = book(other)
    assert (
        desk["client"].post(f"/desk/{appointment.pk}/arrive/", {"outcome": "received"}).status_code
        == 403
    )
    appointment.refresh_from_db()
    assert appointment.status == "booked"


def test_an_excluded_resident_is_activated_and_their_old_blocks_offered_again(
    desk: dict[str, Any],
) -> None:
    eye, ortho = ClinicFactory(name="Ögonkliniken"), ClinicFactory(name="Ortopedikliniken")
    patient = PatientFactory(given_name="Märta")
    exclusion = MigrationExclusion.objects.create(
        patient=patient, source=LegacyImport.objects.create(file_name="x", file_sha256="0")
    )
    for clinic in (eye, ortho, desk["clinic"]):
        ExcludedAtClinic.objects.create(exclusion=exclusion, clinic=clinic)
    appointment = book(desk["clinic"], patient)
    page = desk["client"].get("/desk/").content.decode()
    assert "Hade blockerat: Hudkliniken, Ortopedikliniken, Ögonkliniken" in page
    assert f'name="reblock" value="{eye.pk}" checked' in page
    assert f'name="reblock" value="{desk["clinic"].pk}"' not in page  # they came for its SMS
    # Staff untick Ortopedikliniken: the patient wants its SMS now.
    desk["client"].post(
        f"/desk/{appointment.pk}/arrive/", {"outcome": "activated", "reblock": [str(eye.pk)]}
    )
    events = ConsentEvent.objects.order_by("id")
    assert [(e.action, e.clinic, e.channel, e.handled_at_clinic) for e in events] == [
        ("activate", None, "arrival_desk", desk["clinic"]),
        ("block_clinic", eye, "arrival_desk", desk["clinic"]),
    ]
    assert snapshot_of(patient).blocked_clinics == frozenset({eye.pk})


def test_the_state_is_shown_right_and_1177_consent_is_marked(desk: dict[str, Any]) -> None:
    blocked = PatientFactory(given_name="Bo")
    consent_block(patient=blocked, actor=None, channel="phone")
    believer = PatientFactory(given_name="Tove", sms_consent_1177=True)
    book(desk["clinic"], blocked, ext="S1")
    book(desk["clinic"], believer, ext="S2")
    page = desk["client"].get("/desk/").content.decode()
    assert "Blockerad (alla sms)" in page
    assert "Samtycke i 1177 – inte aktiverad" in page
    assert page.count("Inte aktiverad") == 1  # the believer only, not the one who blocked


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
    with django_assert_max_num_queries(16):  # one writes the access log in bulk, one reads facts
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
