"""The desk at a nurse's pace (issue 31, items 1–5): the outcome at the row, the answer
Enter picks that fits the row, the SMS column's past and future apart, and an activation
by mistake taken back with the arrival. The browser side (cursor, live region, Enter) is
in tests/test_browser_desk.py."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from bookings.models import Appointment
from bookings.services import appointment_upsert
from consent.desk.selectors import desk_rows
from consent.services import consent_activate
from core.staff import Role
from reminders.models import Message
from tests.factories import ClinicFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def mid_morning() -> Any:
    with time_machine.travel(datetime(2026, 11, 26, 9, 0, tzinfo=UTC)):
        yield


@pytest.fixture
def desk(db: None) -> dict[str, Any]:
    clinic = ClinicFactory(name="Hudkliniken", arrival_question=True)
    user = UserFactory(role=Role.RECEPTION, clinics=[clinic])
    client = Client()
    client.force_login(user)
    return {"clinic": clinic, "user": user, "client": client}


def book(clinic: Any, patient: Any = None, ext: str = "D1") -> Appointment:
    return appointment_upsert(
        external_id=ext,
        patient=patient or PatientFactory(),
        clinic=clinic,
        starts_at=timezone.now() + timedelta(hours=1),
        status="booked",
        contact_type="visit",
    )[0]


def _row(page: str, appointment: Appointment) -> str:
    start = page.index(f'id="row-{appointment.pk}"')
    return page[start : page.index("</tr>", start)]


def _defaults(row: str) -> list[str]:
    """The values of the buttons that Enter in the search box would put the cursor on."""
    return re.findall(r'<button name="outcome" value="(\w*)"[^>]*data-default', row)


def test_the_outcome_is_shown_at_the_row_and_not_at_the_top(desk: dict[str, Any]) -> None:
    appointment = book(desk["clinic"], PatientFactory(given_name="Bo", family_name="Holm"))
    page = (
        desk["client"]
        .post(f"/desk/{appointment.pk}/arrive/", {"outcome": "declined"}, follow=True)
        .content.decode()
    )
    assert 'class="messages"' not in page
    start = page.index(f'<tr class="row-outcome" data-for="row-{appointment.pk}">')
    note = page[start : page.index("</tr>", start)]
    assert (
        '<p class="outcome success">11:00 Bo Holm: ankomst registrerad (Fick inget – vill inte '
        "ha sms). Fel? Ångra på raden inom 5 minuter.</p>"
    ) in note
    # the live region is there, empty, for the page's script to fill after load
    assert '<div id="desk-live" class="sr-only" aria-live="polite"></div>' in page
    # shown once: the next page has no outcome row
    assert '<tr class="row-outcome"' not in desk["client"].get("/desk/").content.decode()


def test_a_refusal_is_shown_at_the_row_too(desk: dict[str, Any]) -> None:
    appointment = book(desk["clinic"])
    page = (
        desk["client"]
        .post(f"/desk/{appointment.pk}/arrive/", {"outcome": ""}, follow=True)
        .content.decode()
    )
    assert ('<p class="outcome error">Välj vad patienten svarade på frågan om sms.</p>') in page
    assert 'class="messages"' not in page


def test_enter_never_defaults_to_received_for_a_patient_who_got_no_sms(
    desk: dict[str, Any], settings: Any
) -> None:
    from reminders.dispatch import dispatch_in_process

    settings.SMS_GATEWAY = "outbox"
    clinic = desk["clinic"]
    sent = PatientFactory(mobile_number="+46701234567")
    protected = PatientFactory(protected_identity=True)
    protected_not_activated = PatientFactory(protected_identity=True)
    no_number = PatientFactory(mobile_number="")
    for p in (sent, protected):
        consent_activate(patient=p, actor=None, channel="phone")
    rows = {
        "sent": book(clinic, sent, "E1"),
        "protected": book(clinic, protected, "E2"),
        "protected_not_activated": book(clinic, protected_not_activated, "E3"),
        "no_number": book(clinic, no_number, "E4"),
        "not_activated": book(clinic, ext="E5"),
    }
    dispatch_in_process()
    page = desk["client"].get("/desk/").content.decode()
    assert {name: _defaults(_row(page, a)) for name, a in rows.items()} == {
        "sent": ["received"],
        "protected": ["cannot"],
        "protected_not_activated": ["cannot"],
        "no_number": ["activated"],
        "not_activated": ["activated"],
    }


def test_a_failed_reminder_has_no_default_answer(desk: dict[str, Any], settings: Any) -> None:
    """Active, a number, the reminder failed: nothing fits without asking."""
    from reminders.dispatch import dispatch_in_process

    settings.SMS_GATEWAY = "outbox"
    patient = PatientFactory(mobile_number="+46701234567")
    consent_activate(patient=patient, actor=None, channel="phone")
    appointment = book(desk["clinic"], patient)
    dispatch_in_process()
    Message.objects.filter(appointment=appointment).update(status="failed")
    (row,) = desk_rows(desk["clinic"], timezone.localdate())
    assert (row.sms.status, row.default_outcome) == ("failed", "")
    page = desk["client"].get("/desk/").content.decode()
    assert _defaults(_row(page, appointment)) == []


def test_the_sms_column_says_what_happened_and_what_will_happen_apart(
    desk: dict[str, Any], settings: Any
) -> None:
    from reminders.dispatch import dispatch_in_process

    settings.SMS_GATEWAY = "outbox"
    patient = PatientFactory(given_name="Ebba", family_name="Ros", mobile_number="+46701234567")
    appointment = book(desk["clinic"], patient)
    dispatch_in_process()  # not activated: the reminder is not sent
    desk["client"].post(f"/desk/{appointment.pk}/arrive/", {"outcome": "activated"})
    page = desk["client"].get("/desk/").content.decode()
    cell = _row(page, appointment)
    cell = cell[cell.index('<td class="sms">') :]
    text = " ".join(re.sub(r"<[^>]+>", " ", cell[: cell.index("</td>")]).split())
    assert text == (
        "Påminnelse skickades inte: Sms-påminnelse är inte aktiverad (samtycke i 1177 räcker "
        "inte) Från nu: Får sms Sms-historik för Ebba Ros"
    )


@pytest.mark.parametrize(
    ("history", "state_after_undo"),
    [([], "not_activated"), (["block"], "blocked")],
)
def test_an_activation_undone_with_its_arrival_leaves_the_consent_as_it_was(
    desk: dict[str, Any], history: list[str], state_after_undo: str
) -> None:
    from consent.models import ConsentEvent
    from consent.selectors import snapshot_of
    from consent.services import consent_block, consent_block_clinic

    patient = PatientFactory()
    if history:
        consent_block(patient=patient, actor=None, channel="phone")
    consent_block_clinic(patient=patient, actor=None, channel="phone", clinic=desk["clinic"])
    before = snapshot_of(patient)
    appointment = book(desk["clinic"], patient)
    desk["client"].post(f"/desk/{appointment.pk}/arrive/", {"outcome": "activated"})
    assert snapshot_of(patient).state == "active"
    assert snapshot_of(patient).blocked_clinics == frozenset()
    page = desk["client"].post(f"/desk/{appointment.pk}/undo/", follow=True).content.decode()
    assert "Aktiveringen av sms-påminnelser är också ångrad." in page
    after = snapshot_of(patient)
    assert (after.state, after.blocked_clinics) == (state_after_undo, before.blocked_clinics)
    assert after == before
    undo_actions = list(
        ConsentEvent.objects.filter(note="Ångrad i receptionen (fel rad)")
        .order_by("id")
        .values_list("action", "channel", "actor_user")
    )
    assert undo_actions == [  # the latest change first
        ("block_clinic", "arrival_desk", desk["user"].pk),
        ("block" if history else "activation_undone", "arrival_desk", desk["user"].pk),
    ]
    appointment.refresh_from_db()
    assert appointment.status == "booked"


def test_an_arrival_without_activation_undone_changes_no_consent(desk: dict[str, Any]) -> None:
    from consent.models import ConsentEvent

    appointment = book(desk["clinic"])
    desk["client"].post(f"/desk/{appointment.pk}/arrive/", {"outcome": "received"})
    desk["client"].post(f"/desk/{appointment.pk}/undo/")
    assert not ConsentEvent.objects.exists()
