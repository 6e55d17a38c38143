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
    DeskUndo,
    ExcludedAtClinic,
    LegacyImport,
    MigrationExclusion,
    NoShow,
)
from consent.selectors import guardian_choice, snapshot_of
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
    assert "Säg till patienten: lägg in ditt mobilnummer i 1177" in page
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


def test_an_arrival_at_the_clinic_s_own_desk_takes_ten_queries(
    desk: dict[str, Any], django_assert_num_queries: Any
) -> None:
    """The desk's most frequent click, counted: the session, the user with their roles (2),
    the unit, then in one transaction the contact locked with its patient and clinic (its
    only read), the decision, the answer, the contact written, its SMS ended (BEGIN and
    COMMIT around them). Not the clinics the unit serves (its own clinic), not the session
    written again within the minute, no savepoints."""
    first, second = book(desk["clinic"], ext="Q1"), book(desk["clinic"], ext="Q2")
    client = desk["client"]
    client.post(f"/desk/{first.pk}/arrive/", {"outcome": "received"})  # the unit chosen
    with django_assert_num_queries(10):
        response = client.post(f"/desk/{second.pk}/arrive/", {"outcome": "received"})
    assert response.status_code == 302
    second.refresh_from_db()
    assert (second.status, second.arrived_via) == ("arrived", "desk")


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


def test_an_arrival_for_a_contact_that_does_not_exist_is_a_404(desk: dict[str, Any]) -> None:
    pk = book(desk["clinic"]).pk + 1000
    assert desk["client"].post(f"/desk/{pk}/arrive/", {"outcome": "received"}).status_code == 404
    assert not ArrivalQuestion.objects.exists()


def test_a_contact_cancelled_meanwhile_is_not_registered_and_the_row_says_why(
    desk: dict[str, Any],
) -> None:
    """The desk's list was read before the booking system cancelled the contact: the
    arrival reads the contact again, locked, and refuses it at its row."""
    appointment = book(desk["clinic"])
    Appointment.objects.filter(pk=appointment.pk).update(status="cancelled")
    response = arrive(desk, appointment, "received")
    assert "redan avbokad" in response.content.decode()
    assert not ArrivalQuestion.objects.exists()
    appointment.refresh_from_db()
    assert appointment.status == "cancelled"


def test_auditor_has_no_desk() -> None:
    client = Client()
    client.force_login(UserFactory(role=Role.AUDITOR))
    assert seen(client.get("/desk/")) == "refused"


def test_no_show_at_the_desk_and_no_second_arrival(desk: dict[str, Any]) -> None:
    appointment = book(desk["clinic"], hours=-0.25)  # began a quarter of an hour ago
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
    # One writes the access log in bulk, one reads the facts, one each the standing
    # questions, no-shows, guardians and this visit's reminders, one the user's HSA-id for
    # the log's entries: none grows with the rows.
    with django_assert_max_num_queries(21):
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


# --- Confirm, undo, never a no-show before the start --------------------------------------
def test_no_show_is_refused_before_the_start_time_and_nothing_changes(
    desk: dict[str, Any],
) -> None:
    appointment = book(desk["clinic"], hours=7)  # 16:00 seen at 09:00
    page = desk["client"].post(f"/desk/{appointment.pk}/no-show/", follow=True).content.decode()
    assert "Kontakten har inte börjat än (kl. 17:00)" in page
    appointment.refresh_from_db()
    assert appointment.status == "booked"
    assert not NoShow.objects.exists()
    # and the desk offers no "Uteblev" button for it yet, only when it may be marked
    row = _row(desk, appointment)
    assert "Ja, markera som utebliven" not in row
    assert "Uteblev kan markeras från kl. 17:00" in row


def _row(desk: dict[str, Any], appointment: Appointment) -> str:
    page = desk["client"].get("/desk/").content.decode()
    start = page.index(f'id="row-{appointment.pk}"')
    return page[start : page.index("</tr>", start)]


def test_an_arrival_undone_within_minutes_is_a_new_record_and_the_contact_is_booked_again(
    desk: dict[str, Any],
) -> None:
    appointment = book(desk["clinic"])
    arrive(desk, appointment, "received")
    assert "Ångra" in _row(desk, appointment)
    with time_machine.travel(timezone.now() + timedelta(minutes=4), tick=False):
        page = desk["client"].post(f"/desk/{appointment.pk}/undo/", follow=True)
    assert "ångrat – kontakten är bokad igen" in page.content.decode()
    appointment.refresh_from_db()
    assert (appointment.status, appointment.arrived_at, appointment.arrived_via) == (
        "booked",
        None,
        "",
    )
    question = ArrivalQuestion.objects.get()  # kept, with the undo beside it
    undo = DeskUndo.objects.get()
    assert (undo.question, undo.no_show, undo.undone_by, undo.clinic) == (
        question,
        None,
        desk["user"],
        desk["clinic"],
    )
    # booked again: the patient who really arrives is registered anew
    arrive(desk, appointment, "declined")
    appointment.refresh_from_db()
    assert appointment.status == "arrived"
    assert list(ArrivalQuestion.objects.order_by("id").values_list("outcome", flat=True)) == [
        "received",
        "declined",
    ]
    assert "Fick inget – vill inte ha sms" in _row(desk, appointment)


def test_an_undo_after_the_few_minutes_is_refused_and_changes_nothing(
    desk: dict[str, Any],
) -> None:
    appointment = book(desk["clinic"])
    arrive(desk, appointment, "received")
    with time_machine.travel(timezone.now() + timedelta(minutes=6), tick=False):
        assert "Ångra" not in _row(desk, appointment)
        page = desk["client"].post(f"/desk/{appointment.pk}/undo/", follow=True)
    assert "Det går bara att ångra inom 5 minuter" in page.content.decode()
    appointment.refresh_from_db()
    assert appointment.status == "arrived"
    assert not DeskUndo.objects.exists()


def test_a_no_show_is_undone_as_a_record_of_its_own(desk: dict[str, Any]) -> None:
    appointment = book(desk["clinic"], hours=-0.1)
    desk["client"].post(f"/desk/{appointment.pk}/no-show/")
    no_show = NoShow.objects.get()
    assert (no_show.appointment, no_show.marked_by) == (appointment, desk["user"])
    desk["client"].post(f"/desk/{appointment.pk}/undo/")
    appointment.refresh_from_db()
    assert appointment.status == "booked"
    assert DeskUndo.objects.get().no_show == no_show
    # nothing left to take back
    page = desk["client"].post(f"/desk/{appointment.pk}/undo/", follow=True).content.decode()
    assert "Det finns inget att ångra" in page
    assert DeskUndo.objects.count() == 1


def test_an_undone_arrival_brings_back_only_what_the_arrival_cancelled(
    desk: dict[str, Any],
) -> None:
    """The reminder already went: it is never sent again. The check-in SMS the arrival
    cancelled comes back at its own due time."""
    appointment = book(desk["clinic"], hours=3)
    Message.objects.filter(appointment=appointment, kind="reminder").update(status="sent")
    checkin = Message.objects.get(appointment=appointment, kind="checkin")
    arrive(desk, appointment, "received")
    desk["client"].post(f"/desk/{appointment.pk}/undo/")
    pending = Message.objects.filter(appointment=appointment, status="scheduled")
    assert [(m.kind, m.due_at, m.generation) for m in pending] == [
        ("checkin", checkin.due_at, checkin.generation + 1)
    ]
    assert Message.objects.filter(appointment=appointment, kind="reminder").count() == 1


# --- Never a blank SMS column; what to tell; the number to confirm --------------------------
def test_a_patient_known_only_from_the_old_export_is_never_blank(desk: dict[str, Any]) -> None:
    from datetime import date

    from bookings.identity import personal_id_for
    from bookings.services import patient_get_or_create_from_legacy

    patient, _ = patient_get_or_create_from_legacy(
        personal_id=personal_id_for(date(1940, 1, 8), 980), legacy_number="+46701112233"
    )
    consent_activate(patient=patient, actor=None, channel="migration")
    appointment = book(desk["clinic"], patient)
    row = _row(desk, appointment)
    assert '<span class="warn">Väntar på folkbokföringen</span>' in row
    assert ">Namn saknas</a>" in row
    assert ">–</a>" not in row


def test_where_only_the_number_is_missing_the_desk_activates_and_says_what_to_tell(
    desk: dict[str, Any],
) -> None:
    patient = PatientFactory(mobile_number="")
    appointment = book(desk["clinic"], patient)
    row = _row(desk, appointment)
    assert "Fick inte – aktivera nu" in row
    assert "lägg in ditt mobilnummer i 1177" in row
    page = arrive(desk, appointment, "activated").content.decode()
    assert snapshot_of(patient).state == "active"
    assert "Sms-påminnelser är aktiverade. Säg till patienten: lägg in ditt mobilnummer i 1177" in (
        page
    )


def test_activate_now_says_that_it_lifts_the_block_of_this_clinic(desk: dict[str, Any]) -> None:
    patient = PatientFactory()
    consent_activate(patient=patient, actor=None, channel="phone")
    consent_block_clinic(patient=patient, clinic=desk["clinic"], actor=None, channel="phone")
    row = _row(desk, book(desk["clinic"], patient))
    assert "Fick inte – aktivera nu (tar bort blockeringen av Hudkliniken)" in row


def test_a_guardian_s_number_is_entered_for_a_child_at_the_desk(desk: dict[str, Any]) -> None:
    from consent.models import GuardianNumber
    from tests.factories import GuardianshipFactory

    link = GuardianshipFactory(guardian__given_name="Mira", guardian__family_name="Lund")
    appointment = book(desk["clinic"], link.child)
    row = _row(desk, appointment)
    assert "Lägg in vårdnadshavares nummer" in row
    assert f"Mira Lund ({link.guardian.display_id})" in row  # the guardian by name
    desk["client"].post(
        f"/desk/{appointment.pk}/guardian-number/",
        {"guardian": guardian_choice(link.child, link.guardian), "number": "070-555 12 34"},
    )
    saved = GuardianNumber.objects.get()
    assert (saved.child, saved.guardian, saved.number) == (
        link.child,
        link.guardian,
        "+46705551234",
    )
    events = ConsentEvent.objects.order_by("id")
    assert [(e.action, e.channel, e.handled_at_clinic) for e in events] == [
        ("guardian_number_set", "arrival_desk", desk["clinic"]),
        ("activate", "arrival_desk", desk["clinic"]),  # the guardian wants the SMS
    ]


def test_a_stranger_cannot_be_given_as_the_child_s_guardian(desk: dict[str, Any]) -> None:
    from tests.factories import GuardianshipFactory

    link = GuardianshipFactory()
    stranger = PatientFactory()
    appointment = book(desk["clinic"], link.child)
    for value in (str(stranger.pk), str(link.guardian.pk), guardian_choice(link.child, stranger)):
        page = desk["client"].post(
            f"/desk/{appointment.pk}/guardian-number/",
            {"guardian": value, "number": "070-555 12 34"},
            follow=True,
        )
        assert "Välj en av barnets vårdnadshavare" in page.content.decode()
    assert not ConsentEvent.objects.exists()


def test_each_row_shows_this_visit_s_reminder_and_the_masked_number(
    desk: dict[str, Any], settings: Any
) -> None:
    from reminders.dispatch import dispatch_in_process

    settings.SMS_GATEWAY = "outbox"
    patient = PatientFactory(mobile_number="+46701234567")
    hidden = PatientFactory(mobile_number="+46709876543", protected_identity=True)
    for p in (patient, hidden):
        consent_activate(patient=p, actor=None, channel="phone")
    shown = book(desk["clinic"], patient, ext="N1")
    secret = book(desk["clinic"], hidden, ext="N2")
    dispatch_in_process()
    row = _row(desk, shown)
    assert "Påminnelse skickad" in row
    assert "070-••• 45 67" in row
    assert "+46701234567" not in row
    protected_row = _row(desk, secret)
    assert "Påminnelse skickades inte: Skyddad identitet" in protected_row
    assert "0709876543" not in protected_row.replace("-", "").replace(" ", "")
    assert "65 43" not in protected_row


def test_the_buttons_name_the_patient_for_screen_readers(desk: dict[str, Any]) -> None:
    appointment = book(desk["clinic"], PatientFactory(given_name="Ebba", family_name="Ros"))
    row = _row(desk, appointment)
    assert 'Fick sms<span class="sr-only">: Ebba Ros</span>' in row
    assert 'Sms-historik<span class="sr-only"> för Ebba Ros</span>' in row
