"""Booked contacts through the API, and the messages they plan (rules 3.3; contract 1)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from bookings.models import Appointment
from core.models import ApiClient, Scope
from reminders.models import Message
from tests.factories import AppointmentFactory, ClinicFactory, PatientFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen() -> Any:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def api(make_api: Callable[..., tuple[APIClient, ApiClient]]) -> APIClient:
    return make_api(Scope.BOOKINGS_WRITE)[0]


@pytest.fixture
def patient() -> Any:
    return PatientFactory()


@pytest.fixture
def clinic() -> Any:
    return ClinicFactory(self_checkin=True)


def book(
    api: APIClient, patient: Any, clinic: Any, starts_at: datetime, ext: str = "B1", **extra: Any
) -> Any:
    body = {
        "patient": patient.personal_id,
        "clinic": clinic.hsa_id,
        "starts_at": starts_at.isoformat(),
        "status": "booked",
        "contact_type": "visit",
        **extra,
    }
    return api.put(f"/api/v1/appointments/{ext}/", body, format="json")


def plan(ext: str = "B1") -> list[tuple[str, datetime, str, str]]:
    return [
        (m.kind, m.due_at, m.status, m.reason)
        for m in Message.objects.filter(appointment__external_id=ext).order_by("id")
    ]


def test_booking_days_ahead_plans_reminder_48h_and_checkin_2h_before(api, patient, clinic) -> None:
    start = NOW + timedelta(days=5)
    response = book(api, patient, clinic, start)
    assert response.status_code == 201
    body = response.json()
    assert {k: body[k] for k in ("external_id", "patient", "clinic", "status", "contact_type")} == {
        "external_id": "B1",
        "patient": patient.personal_id,
        "clinic": clinic.hsa_id,
        "status": "booked",
        "contact_type": "visit",
    }
    assert datetime.fromisoformat(body["booked_at"]) == NOW
    assert datetime.fromisoformat(response.json()["starts_at"]) == start
    assert plan() == [
        ("reminder", start - timedelta(hours=48), "scheduled", ""),
        ("checkin", start - timedelta(hours=2), "scheduled", ""),
    ]


def test_booking_less_than_48h_ahead_makes_the_reminder_due_at_booking(
    api, patient, clinic
) -> None:
    start = NOW + timedelta(hours=10)
    book(api, patient, clinic, start)
    assert plan()[0] == ("reminder", NOW, "scheduled", "")


def test_booked_after_the_start_plans_nothing(api, patient, clinic) -> None:
    book(api, patient, clinic, NOW - timedelta(minutes=5))
    assert plan() == []


@pytest.mark.parametrize(
    ("contact_type", "self_checkin"), [("phone", True), ("video", True), ("visit", False)]
)
def test_checkin_sms_only_for_visits_at_self_checkin_clinics(
    api, patient, contact_type, self_checkin
) -> None:
    clinic = ClinicFactory(self_checkin=self_checkin)
    book(api, patient, clinic, NOW + timedelta(days=3), contact_type=contact_type)
    assert [kind for kind, *_ in plan()] == ["reminder"]


def test_cancelled_contact_cancels_its_pending_messages(api, patient, clinic) -> None:
    start = NOW + timedelta(days=5)
    book(api, patient, clinic, start)
    book(api, patient, clinic, start, status="cancelled")
    assert [(s, r) for _, _, s, r in plan()] == [("cancelled", "appointment_cancelled")] * 2


def test_moved_contact_cancels_and_replans_as_if_booked_at_the_move(
    api, patient, clinic, frozen
) -> None:
    book(api, patient, clinic, NOW + timedelta(days=5))
    frozen.shift(timedelta(days=1))
    new_start = NOW + timedelta(days=2, hours=12)  # 36 h after the move
    assert book(api, patient, clinic, new_start).status_code == 200
    assert plan() == [
        ("reminder", NOW + timedelta(days=3), "cancelled", "appointment_moved"),
        ("checkin", NOW + timedelta(days=5) - timedelta(hours=2), "cancelled", "appointment_moved"),
        ("reminder", NOW + timedelta(days=1), "scheduled", ""),  # due at the move
        ("checkin", new_start - timedelta(hours=2), "scheduled", ""),
    ]
    generations = list(Message.objects.order_by("id").values_list("generation", flat=True))
    assert generations == [1, 1, 2, 2]


def test_a_move_leaves_what_was_sent_and_each_move_plans_the_next_generation(
    api, patient, clinic
) -> None:
    book(api, patient, clinic, NOW + timedelta(days=1))  # the reminder is due at once
    Message.objects.filter(kind="reminder").update(status="sent", sent_at=NOW)
    book(api, patient, clinic, NOW + timedelta(days=3))
    book(api, patient, clinic, NOW + timedelta(days=4))
    assert [(m.kind, m.generation, m.status, m.reason) for m in Message.objects.order_by("id")] == [
        ("reminder", 1, "sent", ""),
        ("checkin", 1, "cancelled", "appointment_moved"),
        ("reminder", 2, "cancelled", "appointment_moved"),
        ("checkin", 2, "cancelled", "appointment_moved"),
        ("reminder", 3, "scheduled", ""),
        ("checkin", 3, "scheduled", ""),
    ]


def test_a_change_is_stored_whole_and_keeps_when_it_was_booked_and_created(
    api, patient, clinic, frozen
) -> None:
    book(api, patient, clinic, NOW + timedelta(days=5), booked_at=NOW.isoformat())
    frozen.shift(timedelta(hours=1))
    other = ClinicFactory(self_checkin=False)
    later = NOW + timedelta(hours=20)
    response = book(api, patient, other, later, status="cancelled", contact_type="phone")
    assert response.status_code == 200
    stored = Appointment.objects.get()
    assert (stored.clinic, stored.starts_at, stored.status, stored.contact_type) == (
        other,
        later,
        "cancelled",
        "phone",
    )
    moment = NOW + timedelta(hours=1)
    assert (stored.cancelled_at, stored.late_cancellation) == (moment, True)
    assert (stored.booked_at, stored.created_at, stored.updated_at) == (NOW, NOW, moment)
    assert response.json() == api.get("/api/v1/appointments/B1/").json()


def test_same_booking_sent_again_changes_nothing(api, patient, clinic) -> None:
    start = NOW + timedelta(days=5)
    book(api, patient, clinic, start)
    before = plan()
    assert book(api, patient, clinic, start).status_code == 200
    assert plan() == before


def test_change_to_phone_cancels_the_checkin_and_back_to_visit_plans_it(
    api, patient, clinic
) -> None:
    start = NOW + timedelta(days=5)
    book(api, patient, clinic, start)
    book(api, patient, clinic, start, contact_type="phone")
    assert [(k, s, r) for k, _, s, r in plan()] == [
        ("reminder", "scheduled", ""),
        ("checkin", "cancelled", "not_applicable"),
    ]
    book(api, patient, clinic, start, contact_type="visit")
    assert [(k, s) for k, _, s, _ in plan()][-1] == ("checkin", "scheduled")


def test_a_change_of_contact_type_cancels_only_this_contact_s_pending_sms_and_says_when(
    api, patient, clinic, frozen
) -> None:
    start = NOW + timedelta(days=5)
    for ext in ("B1", "B2", "B3"):
        book(api, patient, clinic, start, ext=ext)
    Message.objects.filter(appointment__external_id="B3", kind="checkin").update(status="sent")
    frozen.shift(timedelta(hours=1))
    for ext in ("B1", "B3"):
        book(api, patient, clinic, start, ext=ext, contact_type="phone")
    checkins = dict(
        Message.objects.filter(kind="checkin").values_list("appointment__external_id", "status")
    )
    # B2 was not changed; B3's check-in SMS was already sent and stays so.
    assert checkins == {"B1": "cancelled", "B2": "scheduled", "B3": "sent"}
    cancelled = Message.objects.get(appointment__external_id="B1", kind="checkin")
    assert cancelled.updated_at == NOW + timedelta(hours=1)


def test_contact_type_back_and_forth_never_duplicates_a_message(api, patient, clinic) -> None:
    start = NOW + timedelta(days=5)
    for contact_type in ("visit", "phone", "visit", "video", "visit", "visit"):
        book(api, patient, clinic, start, contact_type=contact_type)
    live = Message.objects.filter(status="scheduled").order_by("kind")
    assert list(live.values_list("kind", flat=True)) == ["checkin", "reminder"]


def test_rebooking_a_cancelled_contact_plans_anew(api, patient, clinic) -> None:
    start = NOW + timedelta(days=5)
    book(api, patient, clinic, start)
    book(api, patient, clinic, start, status="cancelled")
    book(api, patient, clinic, start)
    assert [s for _, _, s, _ in plan()] == ["cancelled", "cancelled", "scheduled", "scheduled"]


def test_get_appointment_returns_the_same_representation(api, patient, clinic) -> None:
    created = book(api, patient, clinic, NOW + timedelta(days=5)).json()
    assert api.get("/api/v1/appointments/B1/").json() == created
    assert api.get("/api/v1/appointments/NOPE/").status_code == 404


BAD_BODIES = [
    ({"patient": "19121212-1213"}, "patient", "invalid_personal_id"),
    ({"patient": "19121212-1212"}, "patient", "unknown_patient"),
    ({"clinic": "SE2321000115-E999999999"}, "clinic", "unknown_clinic"),
    ({"starts_at": "2026-12-01T09:30:00"}, "starts_at", "naive_datetime"),
    ({"starts_at": "tomorrow at nine"}, "starts_at", "invalid"),
    ({"starts_at": "0279-04-25T19:32:11+15:12"}, "starts_at", "out_of_range"),
    ({"booked_at": "2100-01-01T00:00:00Z"}, "booked_at", "out_of_range"),
    ({"status": "maybe"}, "status", "invalid_choice"),
    ({"contact_type": "letter"}, "contact_type", "invalid_choice"),
    ({"extra": 1}, "extra", "unknown_field"),
]


@pytest.mark.parametrize(("change", "field", "code"), BAD_BODIES)
def test_bad_booking_is_refused_and_nothing_is_stored(
    api, patient, clinic, change, field, code
) -> None:
    body = {
        "patient": patient.personal_id,
        "clinic": clinic.hsa_id,
        "starts_at": (NOW + timedelta(days=5)).isoformat(),
        "status": "booked",
        "contact_type": "visit",
        **change,
    }
    response = api.put("/api/v1/appointments/B1/", body, format="json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [(field, code)]
    assert not Appointment.objects.exists()
    assert not Message.objects.exists()


def test_bad_external_id_is_refused(api, patient, clinic) -> None:
    response = book(api, patient, clinic, NOW + timedelta(days=5), ext="a b")
    assert response.status_code in (400, 404)
    assert not Appointment.objects.exists()


def test_a_contact_cannot_change_patient(api, patient, clinic) -> None:
    book(api, patient, clinic, NOW + timedelta(days=5))
    response = book(api, PatientFactory(), clinic, NOW + timedelta(days=5))
    assert response.status_code == 400
    assert Appointment.objects.get().patient == patient


@pytest.mark.parametrize(
    ("scope", "allowed"),
    [
        (Scope.BOOKINGS_WRITE, True),
        (Scope.STATUS_READ, True),
        (Scope.REGISTRY_WRITE, False),
        (Scope.ESERVICE, False),
        (Scope.OUTBOX_READ, False),
    ],
)
def test_messages_endpoint_scopes(make_api, api, patient, clinic, scope, allowed) -> None:
    book(api, patient, clinic, NOW + timedelta(days=5))
    reader = make_api(scope)[0]
    response = reader.get("/api/v1/appointments/B1/messages/")
    assert response.status_code == (200 if allowed else 403)
    if allowed:
        results = response.json()["results"]
        assert [(r["kind"], r["status"], r["to"], r["reason"], r["sent_at"]) for r in results] == [
            ("reminder", "scheduled", None, None, None),
            ("checkin", "scheduled", None, None, None),
        ]


@pytest.mark.parametrize("scope", [Scope.REGISTRY_WRITE, Scope.STATUS_READ, Scope.ESERVICE])
def test_booking_needs_the_bookings_scope(make_api, patient, clinic, scope) -> None:
    response = book(make_api(scope)[0], patient, clinic, NOW + timedelta(days=5))
    assert response.status_code == 403
    assert not Appointment.objects.exists()


def test_a_burst_of_due_bookings_nudges_the_dispatcher_once(
    api, patient, clinic, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    from config.celery import app
    from reminders import schedule

    sent: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(schedule, "_last_nudge", 0.0)
    monkeypatch.setattr(app, "send_task", lambda name, **kw: sent.append((name, kw)))
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(3):  # due at once: booked 10 hours ahead
            book(api, patient, clinic, NOW + timedelta(hours=10), ext=f"N{n}")
    assert sent == [("reminders.tasks.tick", {"ignore_result": True, "expires": 25})]


def test_a_booking_days_ahead_does_not_nudge(
    api, patient, clinic, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    from config.celery import app
    from reminders import schedule

    sent: list[str] = []
    monkeypatch.setattr(schedule, "_last_nudge", 0.0)
    monkeypatch.setattr(app, "send_task", lambda name, **kw: sent.append(name))
    with django_capture_on_commit_callbacks(execute=True):
        book(api, patient, clinic, NOW + timedelta(days=5))
    assert sent == []


def test_a_move_reads_the_patient_and_clinic_with_the_contact(api, patient, clinic) -> None:
    # The booking system's most common PUT: the contact exists; its patient and clinic
    # come with its locked row, not from look-ups of their own.
    book(api, patient, clinic, NOW + timedelta(days=5))
    with CaptureQueriesContext(connection) as queries:
        response = book(api, patient, clinic, NOW + timedelta(days=6))
    reads = [q["sql"] for q in queries.captured_queries if "bookings_patient" in q["sql"]]
    assert response.status_code == 200
    assert (response.json()["patient"], response.json()["clinic"]) == (
        patient.personal_id,
        clinic.hsa_id,
    )
    # One statement names the patient: the contact's locked read, which joins it.
    assert len(reads) == 1
    assert "bookings_appointment" in reads[0]
    assert "FOR UPDATE" in reads[0] or not connection.features.has_select_for_update


@pytest.mark.parametrize(
    ("status", "hours", "kinds"),
    [("booked", 120, ["checkin", "reminder"]), ("arrived", 1, []), ("cancelled", 10, [])],
)
def test_a_new_contact_is_stored_as_given_and_found_with_its_patient_and_clinic(
    api, patient, clinic, status, hours, kinds
) -> None:
    # On PostgreSQL the new contact is inserted by the statement that finds its patient and
    # clinic (no look-ups of their own); elsewhere they are looked up. Stored the same.
    booked_at = NOW - timedelta(days=3)
    with CaptureQueriesContext(connection) as queries:
        response = book(
            api,
            patient,
            clinic,
            NOW + timedelta(hours=hours),
            status=status,
            booked_at=booked_at.isoformat(),
        )
    assert response.status_code == 201
    lookups = [
        q["sql"]
        for q in queries.captured_queries  # read before the next request empties the log
        if q["sql"].startswith(('SELECT "bookings_patient"', 'SELECT "bookings_clinic"'))
    ]
    assert len(lookups) == (0 if connection.vendor == "postgresql" else 2)
    stored = Appointment.objects.select_related("patient", "clinic").get()
    assert (stored.patient, stored.clinic, stored.status) == (patient, clinic, status)
    assert (stored.starts_at, stored.booked_at) == (NOW + timedelta(hours=hours), booked_at)
    assert stored.created_at == stored.updated_at == NOW
    assert (stored.arrived_at, stored.arrived_via) == (
        (NOW, "booking_system") if status == "arrived" else (None, "")
    )
    assert (stored.cancelled_at, stored.late_cancellation) == (
        (NOW, True) if status == "cancelled" else (None, False)
    )
    # The plan saw the clinic's own settings (self check-in: the check-in message).
    assert sorted(kind for kind, *_ in plan()) == kinds
    assert api.get("/api/v1/appointments/B1/").json() == response.json()


def test_a_move_to_another_clinic_looks_it_up_and_an_unknown_one_changes_nothing(
    api, patient, clinic
) -> None:
    book(api, patient, clinic, NOW + timedelta(days=5))
    other = ClinicFactory(self_checkin=False)
    moved = book(api, patient, other, NOW + timedelta(days=5))
    assert moved.status_code == 200
    assert Appointment.objects.get().clinic == other
    assert [kind for kind, _, status, _ in plan() if status == "scheduled"] == ["reminder"]

    gone = ClinicFactory.build(hsa_id="SE2321000115-E404")
    refused = book(api, patient, gone, NOW + timedelta(days=7))
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["field"] == "clinic"
    assert Appointment.objects.get().clinic == other
    assert Appointment.objects.get().starts_at == NOW + timedelta(days=5)


def test_an_unknown_patient_on_an_existing_contact_is_refused(api, patient, clinic) -> None:
    book(api, patient, clinic, NOW + timedelta(days=5))
    stranger = PatientFactory.build(personal_id="191212121212")
    refused = book(api, stranger, clinic, NOW + timedelta(days=6))
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["field"] == "patient"
    assert Appointment.objects.get().starts_at == NOW + timedelta(days=5)


@pytest.mark.parametrize("status", ["arrived", "completed", "no_show"])
def test_a_contact_that_ended_cancels_its_pending_messages_as_closed(
    api, patient, clinic, status
) -> None:
    book(api, patient, clinic, NOW + timedelta(days=3))
    book(api, patient, clinic, NOW + timedelta(days=3), status=status)
    assert {(kind, state, reason) for kind, _, state, reason in plan()} == {
        ("reminder", "cancelled", "appointment_closed"),
        ("checkin", "cancelled", "appointment_closed"),
    }


def test_each_check_in_sms_gets_a_link_token_of_its_own(api, patient, clinic) -> None:
    book(api, patient, clinic, NOW + timedelta(days=3), ext="T1")
    book(api, patient, clinic, NOW + timedelta(days=3), ext="T2")
    tokens = list(Message.objects.filter(kind="checkin").values_list("checkin_token", flat=True))
    assert len(set(tokens)) == 2
    assert all(len(t) == 22 and t.replace("-", "").replace("_", "").isalnum() for t in tokens)
    assert set(Message.objects.filter(kind="reminder").values_list("checkin_token", flat=True)) == {
        None
    }


def test_the_beat_ticks_every_30_seconds_settles_every_minute_and_erases_daily() -> None:
    """The intervals, pinned (never crontabs): as beat_schedule_install restores them
    (the migrations install them with it), once each however often it runs."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    from reminders.schedule import beat_schedule_install

    def installed() -> list[tuple[Any, ...]]:
        tasks = PeriodicTask.objects.filter(task__startswith="reminders.").select_related(
            "interval"
        )
        return sorted(
            (t.name, t.task, t.interval.every, t.interval.period, t.enabled, t.expire_seconds)
            for t in tasks
        )

    day, module = 24 * 3600, "reminders.tasks"
    expected = [
        (
            "Gallring av personuppgifter (retention)",
            f"{module}.erase_expired",
            day,
            "seconds",
            True,
            3600,
        ),
        ("Utfall av sms i ovisshet (settle)", f"{module}.settle", 60, "seconds", True, 55),
        ("Utskick av sms-påminnelser (tick)", f"{module}.tick", 30, "seconds", True, 25),
    ]
    PeriodicTask.objects.filter(task__startswith="reminders.").delete()
    IntervalSchedule.objects.all().delete()
    beat_schedule_install()
    assert installed() == expected
    PeriodicTask.objects.filter(task="reminders.tasks.tick").update(
        enabled=False, expire_seconds=None
    )
    beat_schedule_install()
    beat_schedule_install()
    assert installed() == expected


def test_the_nudge_asks_for_a_tick_at_most_every_two_seconds(monkeypatch) -> None:
    from types import SimpleNamespace

    from config.celery import app
    from reminders import schedule

    clock = SimpleNamespace(now=1000.0)
    monkeypatch.setattr(schedule, "time", SimpleNamespace(monotonic=lambda: clock.now))
    monkeypatch.setattr(schedule, "_last_nudge", 0.0)
    sent: list[float] = []
    monkeypatch.setattr(app, "send_task", lambda name, **kw: sent.append(clock.now))
    for moment in (1000.0, 1001.0, 1001.99, 1002.0, 1003.0, 1004.5):
        clock.now = moment
        schedule.dispatcher_nudge()
    assert sent == [1000.0, 1002.0, 1004.5]


def test_a_nudge_the_broker_refuses_is_logged_and_harms_nothing(monkeypatch, caplog) -> None:
    from config.celery import app
    from reminders import schedule

    def broker_away(name: str, **kw: Any) -> None:
        raise ConnectionRefusedError("broker away")

    monkeypatch.setattr(schedule, "_last_nudge", 0.0)
    monkeypatch.setattr(app, "send_task", broker_away)
    with caplog.at_level("WARNING", logger="reminders.schedule"):
        schedule.dispatcher_nudge()
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", "Could not nudge the dispatcher; the next beat will send.")
    ]
    exc_info = caplog.records[0].exc_info
    assert exc_info and exc_info[0] is ConnectionRefusedError  # the traceback goes with it


def test_a_cancellation_touches_only_that_contact_s_pending_messages(
    api, patient, clinic, frozen
) -> None:
    """What was sent stays sent, another contact's messages stay planned, and each
    cancelled message records when it was cancelled."""
    start = NOW + timedelta(hours=30)  # the reminder is due at booking, the check-in later
    book(api, patient, clinic, start, ext="A")
    book(api, patient, clinic, start, ext="B")
    Message.objects.filter(appointment__external_id="A", kind="reminder").update(status="sent")
    frozen.move_to(NOW + timedelta(hours=1))
    book(api, patient, clinic, start, ext="A", status="cancelled")
    assert [(k, s, r) for k, _, s, r in plan("A")] == [
        ("reminder", "sent", ""),
        ("checkin", "cancelled", "appointment_cancelled"),
    ]
    assert [(k, s) for k, _, s, _ in plan("B")] == [
        ("reminder", "scheduled"),
        ("checkin", "scheduled"),
    ]
    cancelled = Message.objects.get(appointment__external_id="A", kind="checkin")
    assert cancelled.updated_at == NOW + timedelta(hours=1)


def test_a_visit_changed_to_at_another_contact_s_time_gets_its_own_check_in(
    api, patient, clinic
) -> None:
    """The kinds a contact already has are its own: another contact at the same time with
    a check-in SMS does not stand in for this one's."""
    start = NOW + timedelta(days=5)
    book(api, patient, clinic, start, ext="V")  # a visit: reminder and check-in
    book(api, patient, clinic, start, ext="P", contact_type="phone")
    book(api, patient, clinic, start, ext="P", contact_type="visit")
    assert [(k, s) for k, _, s, _ in plan("P")] == [
        ("reminder", "scheduled"),
        ("checkin", "scheduled"),
    ]
    assert list(
        Message.objects.filter(appointment__external_id="P").values_list("kind", "generation")
    ) == [("reminder", 1), ("checkin", 2)]  # a kind planned anew is the next generation


# --- An arrival or no-show taken back -------------------------------------------------------------
@pytest.mark.parametrize("status", ["arrived", "no_show"])
def test_an_ending_taken_back_brings_back_only_what_it_cancelled(
    api, patient, clinic, status
) -> None:
    """The reminder went out; the arrival cancelled the check-in SMS; the desk takes the
    arrival back: the check-in SMS comes back at its own time, as the next generation, and
    the reminder is not sent again."""
    start = NOW + timedelta(days=5)
    book(api, patient, clinic, start)
    Message.objects.filter(kind="reminder").update(status="sent", sent_at=NOW)
    book(api, patient, clinic, start, status=status)
    assert book(api, patient, clinic, start).status_code == 200
    rows = Message.objects.order_by("id").values_list(
        "kind", "generation", "due_at", "status", "reason"
    )
    assert list(rows) == [
        ("reminder", 1, start - timedelta(hours=48), "sent", ""),
        ("checkin", 1, start - timedelta(hours=2), "cancelled", "appointment_closed"),
        ("checkin", 2, start - timedelta(hours=2), "scheduled", ""),
    ]


def test_what_a_move_cancelled_or_sent_for_the_old_time_does_not_count(
    api, patient, clinic
) -> None:
    """Only the messages for the contact's current start: the reminder sent for the old
    time neither comes back nor stands in for the new time's."""
    old, start = NOW + timedelta(days=1), NOW + timedelta(days=5)
    book(api, patient, clinic, old)
    Message.objects.filter(kind="reminder").update(status="sent", sent_at=NOW)
    book(api, patient, clinic, start)  # moved: the old check-in cancelled, both planned anew
    book(api, patient, clinic, start, status="arrived")
    book(api, patient, clinic, start)
    back = Message.objects.filter(status="scheduled").order_by("id")
    assert list(back.values_list("kind", "generation", "due_at")) == [
        ("reminder", 3, start - timedelta(hours=48)),
        ("checkin", 3, start - timedelta(hours=2)),
    ]
    moved = Message.objects.filter(reason="appointment_moved").values_list("kind", "generation")
    assert list(moved) == [("checkin", 1)]


def test_an_ending_taken_back_brings_back_a_plan_whose_guardian_sibling_went_out(
    api, patient, clinic
) -> None:
    """A child's reminder: the second guardian's SMS (a sibling) was accepted while the
    planned one to the first guardian waited for a retry; the arrival cancelled the planned
    one. Taken back, the reminder comes back: only the planned messages count, a sibling
    does not stand in for its parent."""
    start = NOW + timedelta(days=5)
    book(api, patient, clinic, start)
    planned = Message.objects.get(kind="reminder")
    Message.objects.filter(pk=planned.pk).update(attempts=1, due_at=NOW + timedelta(minutes=5))
    Message.objects.create(
        appointment=planned.appointment,
        kind="reminder",
        generation=1,
        starts_at=start,
        due_at=planned.due_at,
        status="sent",
        sent_at=NOW,
        parent=planned,
        to="+46701234568",
        recipient_role="guardian",
    )
    book(api, patient, clinic, start, status="arrived")
    assert book(api, patient, clinic, start).status_code == 200
    rows = Message.objects.filter(parent__isnull=True).order_by("id")
    assert list(rows.values_list("kind", "generation", "due_at", "status", "reason")) == [
        ("reminder", 1, NOW + timedelta(minutes=5), "cancelled", "appointment_closed"),
        ("checkin", 1, start - timedelta(hours=2), "cancelled", "appointment_closed"),
        ("reminder", 2, start - timedelta(hours=48), "scheduled", ""),
        ("checkin", 2, start - timedelta(hours=2), "scheduled", ""),
    ]
    assert Message.objects.get(parent=planned).status == "sent"


def test_an_ending_taken_back_counts_only_this_contact_s_messages(api, patient, clinic) -> None:
    """The patient's other contact at the same time keeps its plan, and its planned
    messages do not stand in for this contact's: the undo brings back this contact's."""
    start = NOW + timedelta(days=5)
    book(api, patient, clinic, start, ext="A")
    book(api, patient, clinic, start, ext="B")
    book(api, patient, clinic, start, ext="A", status="arrived")
    assert book(api, patient, clinic, start, ext="A").status_code == 200
    assert _rows("A") == [
        ("reminder", 1, "cancelled", "appointment_closed"),
        ("checkin", 1, "cancelled", "appointment_closed"),
        ("reminder", 2, "scheduled", ""),
        ("checkin", 2, "scheduled", ""),
    ]
    assert _rows("B") == [("reminder", 1, "scheduled", ""), ("checkin", 1, "scheduled", "")]


def test_an_ending_taken_back_leaves_what_was_cancelled_for_another_reason(
    api, patient, clinic
) -> None:
    """Moved to a clinic without self check-in, the contact's check-in SMS was cancelled as
    no longer applying; the clinic has turned self check-in on since. Taken back, the
    arrival brings back only what it cancelled: the reminder, not the check-in SMS."""
    start = NOW + timedelta(days=5)
    other = ClinicFactory(self_checkin=False)
    book(api, patient, clinic, start)
    book(api, patient, other, start)
    book(api, patient, other, start, status="arrived")
    other.self_checkin = True
    other.save(update_fields=["self_checkin"])
    assert book(api, patient, other, start).status_code == 200
    assert _rows() == [
        ("reminder", 1, "cancelled", "appointment_closed"),
        ("checkin", 1, "cancelled", "not_applicable"),
        ("reminder", 2, "scheduled", ""),
    ]


def test_an_ending_taken_back_twice_does_not_bring_back_what_went_out_in_between(
    api, patient, clinic
) -> None:
    """Arrived, taken back, the reminder brought back went out; arrived and taken back
    again: the first arrival's cancelled reminder does not come back, as one of its kind
    went out since; the check-in SMS does, a third time."""
    start = NOW + timedelta(days=5)
    book(api, patient, clinic, start)
    book(api, patient, clinic, start, status="arrived")
    book(api, patient, clinic, start)
    Message.objects.filter(kind="reminder", generation=2).update(status="sent", sent_at=NOW)
    book(api, patient, clinic, start, status="arrived")
    assert book(api, patient, clinic, start).status_code == 200
    assert _rows() == [
        ("reminder", 1, "cancelled", "appointment_closed"),
        ("checkin", 1, "cancelled", "appointment_closed"),
        ("reminder", 2, "sent", ""),
        ("checkin", 2, "cancelled", "appointment_closed"),
        ("checkin", 3, "scheduled", ""),
    ]


def _rows(ext: str = "B1") -> list[tuple[str, int, str, str]]:
    return list(
        Message.objects.filter(appointment__external_id=ext)
        .order_by("id")
        .values_list("kind", "generation", "status", "reason")
    )


# --- The bulk first plan (messages_plan_new) ------------------------------------------------------
def test_the_bulk_first_plan_plans_booked_contacts_counts_and_nudges_when_one_is_due(
    monkeypatch, django_capture_on_commit_callbacks
) -> None:
    """A booked contact 10 hours ahead has its reminder due at booking (now): the bulk plan
    writes it and the check-in SMS, skips a cancelled contact, returns how many, and asks
    for a tick once the transaction commits."""
    from config.celery import app
    from reminders import schedule

    sent: list[str] = []
    monkeypatch.setattr(schedule, "_last_nudge", 0.0)
    monkeypatch.setattr(app, "send_task", lambda name, **kw: sent.append(name))
    at_checkin_clinic = ClinicFactory(self_checkin=True)
    soon = AppointmentFactory.create(clinic=at_checkin_clinic, starts_at=NOW + timedelta(hours=10))
    gone = AppointmentFactory.create(status="cancelled", starts_at=NOW + timedelta(hours=10))
    with django_capture_on_commit_callbacks(execute=True):
        count = schedule.messages_plan_new(appointments=[soon, gone], moment=NOW)
    assert count == 2
    assert list(
        Message.objects.order_by("id").values_list(
            "appointment__external_id", "kind", "generation", "due_at", "status"
        )
    ) == [
        (soon.external_id, "reminder", 1, NOW, "scheduled"),
        (soon.external_id, "checkin", 1, NOW + timedelta(hours=8), "scheduled"),
    ]
    assert sent == ["reminders.tasks.tick"]


def test_the_bulk_first_plan_of_contacts_days_ahead_does_not_nudge(
    monkeypatch, django_capture_on_commit_callbacks
) -> None:
    from config.celery import app
    from reminders import schedule

    sent: list[str] = []
    monkeypatch.setattr(schedule, "_last_nudge", 0.0)
    monkeypatch.setattr(app, "send_task", lambda name, **kw: sent.append(name))
    later = AppointmentFactory.create(contact_type="phone", starts_at=NOW + timedelta(days=5))
    with django_capture_on_commit_callbacks(execute=True):
        assert schedule.messages_plan_new(appointments=[later], moment=NOW) == 1
    assert Message.objects.get().due_at == NOW + timedelta(days=3)
    assert sent == []
