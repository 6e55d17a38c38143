"""The dispatch loop (rules 3.1, 3.3; architecture): each message ends in one final state with its
reason, and the four guarantees hold."""

from __future__ import annotations

import gc
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from bookings.models import Appointment
from bookings.services import appointment_upsert
from consent.services import consent_block, guardian_number_register
from reminders import dispatch as dispatching
from reminders import queue
from reminders.delivery import delivery_report_apply
from reminders.models import FINAL, Message, Status
from tests.factories import ClinicFactory, GuardianshipFactory, PatientFactory

from .fakes import RecordingGateway

pytestmark = pytest.mark.django_db
Booked = Callable[..., Appointment]


def dispatch() -> dict[str, int]:
    return dict(dispatching.dispatch_in_process())


def test_due_reminder_is_sent_with_the_exact_text_sender_and_number(
    booked: Booked, recording: type[RecordingGateway], settings: Any
) -> None:
    settings.SMS_SENDER = "RegHalland"
    clinic = ClinicFactory(sms_name="Ortopedkliniken Halmstad")
    patient = PatientFactory(mobile_number="+46701234567")
    appointment = booked(patient=patient, clinic=clinic)
    counts = dispatch()
    assert counts["sent"] == 1
    message = Message.objects.get()
    local = timezone.localtime(appointment.starts_at)
    assert (
        message.status,
        message.to,
        message.recipient_role,
        message.sender,
        message.segments,
    ) == ("sent", "+46701234567", "patient", "RegHalland", 1)
    assert message.body.startswith("Påminnelse om bokad kontakt med Ortopedkliniken Halmstad ")
    assert f"kl. {local:%H:%M}. Av/omboka" in message.body
    assert [s.body for s in recording.sent] == [message.body]


def test_the_decision_is_taken_again_at_sending(
    booked: Booked, recording: type[RecordingGateway]
) -> None:
    appointment = booked()
    consent_block(patient=appointment.patient, actor=None, channel="phone")
    dispatch()
    message = Message.objects.get()
    assert (message.status, message.reason) == ("suppressed", "blocked")
    assert recording.sent == []


def test_not_activated_patient_is_suppressed_with_the_reason(
    booked: Booked, recording: type[RecordingGateway]
) -> None:
    booked(activate=False)
    dispatch()
    assert Message.objects.get().reason == "not_activated"


def child_with_two_guardian_numbers() -> Any:
    """A 7-year-old whose two guardians registered 070-111 11 11 and 070-222 22 22."""
    child = PatientFactory(age=7, mobile_number="")
    for number in ("0701111111", "0702222222"):
        guardian = GuardianshipFactory(child=child).guardian
        guardian_number_register(
            child=child, guardian=guardian, number=number, actor=None, channel="phone"
        )
    return child


def test_child_with_two_guardian_numbers_gets_one_sms_on_each(
    booked: Booked, recording: type[RecordingGateway]
) -> None:
    child = child_with_two_guardian_numbers()
    booked(patient=child)
    dispatch()
    sent = sorted((m.to, m.recipient_role, m.status) for m in Message.objects.all())
    assert sent == [("+46701111111", "guardian", "sent"), ("+46702222222", "guardian", "sent")]
    assert sorted(s.to for s in recording.sent) == ["+46701111111", "+46702222222"]


def test_retry_to_the_first_guardian_does_not_send_to_the_second_again(
    booked: Booked, recording: type[RecordingGateway]
) -> None:
    child = child_with_two_guardian_numbers()
    booked(patient=child, starts_in=timedelta(days=1, hours=12))
    recording.unreachable = {"+46701111111"}
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert dispatch()["retry"] == 1
    planned = Message.objects.get(parent__isnull=True)
    assert (planned.to, planned.status) == ("+46701111111", "scheduled")
    assert Message.objects.get(parent=planned).status == "sent"
    recording.unreachable = set()
    with time_machine.travel(start + timedelta(seconds=31), tick=False):
        assert dispatch()["sent"] == 1
    sent = sorted((m.to, m.status) for m in Message.objects.all())
    assert sent == [("+46701111111", "sent"), ("+46702222222", "sent")]
    assert sorted(s.to for s in recording.sent) == ["+46701111111", "+46702222222"]


def test_message_whose_contact_started_expires(
    booked: Booked, recording: type[RecordingGateway]
) -> None:
    appointment = booked(starts_in=timedelta(hours=1))
    with time_machine.travel(appointment.starts_at + timedelta(minutes=1)):
        dispatch()
    message = Message.objects.get()
    assert (message.status, message.reason) == ("expired", "contact_started")
    assert recording.sent == []


def test_contact_cancelled_after_the_claim_is_not_sent(
    booked: Booked, recording: type[RecordingGateway]
) -> None:
    appointment = booked()
    token, ids = queue.messages_claim_due(now=timezone.now(), limit=10)
    appointment_upsert(
        external_id=appointment.external_id,
        patient=appointment.patient,
        clinic=appointment.clinic,
        starts_at=appointment.starts_at,
        status="cancelled",
        contact_type=appointment.contact_type,
    )
    dispatching.messages_dispatch(ids=ids, claim_token=token)
    message = Message.objects.get()
    assert (message.status, message.reason) == ("cancelled", "appointment_cancelled")
    assert recording.sent == []


def test_every_message_ends_in_exactly_one_final_state(
    booked: Booked, recording: type[RecordingGateway]
) -> None:
    booked()
    booked(activate=False)
    booked(patient=PatientFactory(protected_identity=True))
    booked(patient=PatientFactory(mobile_number=""))
    booked(starts_in=timedelta(minutes=1))
    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        dispatch()
    statuses = list(Message.objects.values_list("status", "reason"))
    assert all(status in FINAL for status, _ in statuses)
    assert sorted(statuses) == sorted(
        [
            ("sent", ""),
            ("suppressed", "not_activated"),
            ("suppressed", "protected_identity"),
            ("suppressed", "no_mobile_number"),
            ("expired", "contact_started"),
        ]
    )


# --- guarantee: a transient failure is retried with backoff; a refusal fails ------------
def test_transient_gateway_failure_is_retried_with_backoff(
    booked: Booked, recording: type[RecordingGateway]
) -> None:
    booked(starts_in=timedelta(days=1, hours=12))
    recording.mode = "transient"
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert dispatch()["retry"] == 1
    message = Message.objects.get()
    assert (message.status, message.attempts, message.due_at) == (
        "scheduled",
        1,
        start + timedelta(seconds=30),
    )
    assert "503" in message.reason_detail
    with time_machine.travel(start + timedelta(seconds=10), tick=False):
        assert dispatch().get("claimed", 0) == 0  # not due again yet
    with time_machine.travel(start + timedelta(seconds=31), tick=False):
        dispatch()
    message.refresh_from_db()
    assert (message.status, message.attempts, message.due_at) == (
        "scheduled",
        2,
        start + timedelta(seconds=31 + 60),
    )
    recording.mode = "ok"
    with time_machine.travel(start + timedelta(seconds=95), tick=False):
        dispatch()
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("sent", 3)
    assert recording.sends_per_message() == {message.pk: 1}


def test_transient_failure_inside_the_dispatch_transaction_is_retried_with_backoff(
    booked: Booked, recording: type[RecordingGateway], settings: Any
) -> None:
    settings.SMS_GATEWAY = "tests.reminders.fakes.TransactionalRecordingGateway"
    booked(starts_in=timedelta(days=1, hours=12))
    recording.mode = "transient"
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert dispatch()["retry"] == 1
        assert dispatch().get("claimed", 0) == 0  # not due again at once
    message = Message.objects.get()
    assert (message.status, message.attempts, message.due_at, message.claim_token) == (
        "scheduled",
        1,
        start + timedelta(seconds=30),
        None,
    )
    recording.mode = "ok"
    with time_machine.travel(start + timedelta(seconds=31), tick=False):
        assert dispatch()["sent"] == 1
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("sent", 2)


def test_gateway_that_stays_down_fails_the_message_after_the_last_attempt(
    booked: Booked, recording: type[RecordingGateway]
) -> None:
    booked(starts_in=timedelta(days=1, hours=12))
    recording.mode = "transient"
    moment = timezone.now()
    for _ in range(12):
        with time_machine.travel(moment, tick=False):
            dispatch()
        moment += timedelta(hours=1)
    message = Message.objects.get()
    assert (message.status, message.reason, message.attempts) == (
        "failed",
        "gateway_unavailable",
        8,
    )


def test_gateway_refusing_a_number_fails_the_message_with_the_reason(
    booked: Booked, recording: type[RecordingGateway]
) -> None:
    booked()
    recording.mode = "reject"
    assert dispatch()["failed"] == 1
    message = Message.objects.get()
    assert (message.status, message.reason) == ("failed", "gateway_refused")
    assert message.reason_detail == "HTTP 400: invalid to"


# --- guarantee: a duplicate tick or a replayed task sends nothing twice ----------------------
def test_replayed_send_task_sends_nothing_twice(
    booked: Booked, recording: type[RecordingGateway]
) -> None:
    for _ in range(5):
        booked()
    token, ids = queue.messages_claim_due(now=timezone.now(), limit=100)
    first = dispatching.messages_dispatch(ids=ids, claim_token=token)
    replay = dispatching.messages_dispatch(ids=ids, claim_token=token)
    assert first["sent"] == 5
    assert replay == {}
    assert set(recording.sends_per_message().values()) == {1}


def test_duplicate_beat_tick_claims_nothing_twice(
    booked: Booked, recording: type[RecordingGateway]
) -> None:
    for _ in range(7):
        booked()
    claims: list[tuple[list[int], Any]] = []
    dispatching.dispatch_tick(hand_off=lambda ids, token: claims.append((ids, token)))
    dispatching.dispatch_tick(hand_off=lambda ids, token: claims.append((ids, token)))
    assert sum(len(ids) for ids, _ in claims) == 7
    for ids, token in claims + claims:  # every hand-off delivered twice by the broker
        dispatching.messages_dispatch(ids=ids, claim_token=token)
    assert len(recording.sent) == 7
    assert set(recording.sends_per_message().values()) == {1}


def test_dispatch_of_a_claim_taken_over_by_recovery_sends_nothing(
    booked: Booked, recording: type[RecordingGateway], settings: Any
) -> None:
    booked()
    old_token, ids = queue.messages_claim_due(now=timezone.now(), limit=10)
    with time_machine.travel(
        timezone.now() + timedelta(seconds=settings.DISPATCH_CLAIM_TIMEOUT + 1)
    ):
        dispatch()  # recovers the stale claim and sends it
    assert dispatching.messages_dispatch(ids=ids, claim_token=old_token) == {}
    assert len(recording.sent) == 1


# --- guarantee: a dispatcher killed mid-send loses nothing -----------------------------------
def test_claim_of_a_killed_dispatcher_is_recovered_after_the_timeout(
    booked: Booked, recording: type[RecordingGateway], settings: Any
) -> None:
    for _ in range(3):
        booked()
    queue.messages_claim_due(now=timezone.now(), limit=10)  # ...and the dispatcher dies
    assert dispatch().get("claimed", 0) == 0  # still within the timeout: left alone
    assert Message.objects.filter(status=Status.SENDING).count() == 3
    later = timezone.now() + timedelta(seconds=settings.DISPATCH_CLAIM_TIMEOUT + 1)
    with time_machine.travel(later):
        counts = dispatch()
    assert (counts["requeued"], counts["sent"]) == (3, 3)
    assert set(recording.sends_per_message().values()) == {1}


class Crash(BaseException):
    """Stands for the process dying (not an Exception: nothing catches it)."""


@pytest.fixture
def outbox_crashes(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Makes the outbox write its rows and then the process 'die'; returns the undo."""
    settings.SMS_GATEWAY = "outbox"
    from reminders.gateways.outbox import OutboxGateway

    real = OutboxGateway.send

    def send_then_die(self: Any, sms: Any) -> Any:
        real(self, sms)
        raise Crash

    monkeypatch.setattr(OutboxGateway, "send", send_then_die)
    return lambda: monkeypatch.setattr(OutboxGateway, "send", real)


def test_in_process_crash_with_the_outbox_rolls_back_and_sends_once(
    booked: Booked, outbox_crashes: Callable[[], None]
) -> None:
    booked()
    with pytest.raises(Crash):
        dispatch()
    outbox_crashes()  # undo
    assert Message.objects.get().status == "scheduled"  # SMS and outcome rolled back together
    assert dispatch()["sent"] == 1
    assert Message.objects.get().status == "sent"


def test_worker_crash_with_the_outbox_is_recovered_after_the_timeout_and_sends_once(
    booked: Booked, outbox_crashes: Callable[[], None], settings: Any
) -> None:
    booked()
    token, ids = queue.messages_claim_due(now=timezone.now(), limit=10)  # the tick
    with pytest.raises(Crash):
        dispatching.messages_dispatch(ids=ids, claim_token=token)  # the worker dies
    outbox_crashes()
    assert Message.objects.get().status == "sending"
    with time_machine.travel(
        timezone.now() + timedelta(seconds=settings.DISPATCH_CLAIM_TIMEOUT + 1)
    ):
        counts = dispatch()
    assert (counts["requeued"], counts["sent"]) == (1, 1)
    assert Message.objects.get().status == "sent"


def test_a_crash_while_handing_over_leaves_the_sms_in_doubt_never_sent_again(
    booked: Booked,
    recording: type[RecordingGateway],
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The dispatcher dies while its request is out: the SMS may have reached the phone.
    Recovery neither sends it again nor calls it failed at once; it waits in doubt for a
    report, and counts as failed (outcome_unknown) only after SMS_UNKNOWN_SETTLE_MINUTES."""
    booked()

    def die(self: Any, sms: Any) -> Any:
        raise Crash

    monkeypatch.setattr(RecordingGateway, "send", die)
    with pytest.raises(Crash):
        dispatch()
    monkeypatch.undo()
    lapsed = timezone.now() + timedelta(seconds=settings.DISPATCH_CLAIM_TIMEOUT + 1)
    with time_machine.travel(lapsed):
        assert dispatch()["in_doubt"] == 1
    message = Message.objects.get()
    assert (message.status, message.claim_token) == ("sending", None)
    assert message.submitted_at is not None
    with time_machine.travel(lapsed + timedelta(minutes=5)):
        assert dispatch().get("claimed", 0) == 0  # not claimed, not sent blindly again
    assert Message.objects.get().status == "sending"
    with time_machine.travel(
        lapsed + timedelta(minutes=settings.SMS_UNKNOWN_SETTLE_MINUTES, seconds=1)
    ):
        assert dispatch()["settled_unknown"] == 1
    message.refresh_from_db()
    assert (message.status, message.reason) == ("failed", "outcome_unknown")
    assert recording.sent == []  # never sent twice
    from reminders.gateways import DeliveryUpdate

    # The gateway's report, later, settles it: it did reach the phone.
    delivery_report_apply(DeliveryUpdate(message.pk, "delivered", "x1", None, {}, "recording"))
    message.refresh_from_db()
    assert (message.status, message.reason) == ("delivered", "")


def test_dispatch_reminders_command_prints_what_it_did(
    booked: Booked, recording: type[RecordingGateway]
) -> None:
    from io import StringIO

    from django.core.management import call_command

    booked()
    booked(activate=False)
    out = StringIO()
    try:
        call_command("dispatch_reminders", stdout=out)
        # Start-up objects are kept out of the collector's way for the loop.
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
    assert "2 hämtade" in out.getvalue()
    assert "1 skickade" in out.getvalue()
    assert "1 skickas inte" in out.getvalue()


@pytest.mark.parametrize(
    ("local_now", "expected"),
    [
        # 23:30 in Stockholm on the evening before: still 12, the guardian gets it.
        ((2027, 1, 14, 23, 30), ("guardian", "+46701111111")),
        # 00:30 on the birthday in Stockholm is still the 14th in UTC (23:30): 13 now,
        # the child's own 1177 number.
        ((2027, 1, 15, 0, 30), ("patient", "+46709999999")),
    ],
)
def test_a_child_turns_13_at_local_midnight_not_utc_midnight(
    booked: Booked,
    recording: type[RecordingGateway],
    local_now: tuple[int, ...],
    expected: tuple[str, str],
) -> None:
    from datetime import date, datetime
    from zoneinfo import ZoneInfo

    stockholm = ZoneInfo("Europe/Stockholm")
    with time_machine.travel(datetime(2027, 1, 14, 12, tzinfo=stockholm), tick=False):
        child = PatientFactory(birth_date=date(2014, 1, 15), mobile_number="+46709999999")
        guardian = GuardianshipFactory(child=child).guardian
        guardian_number_register(
            child=child, guardian=guardian, number="0701111111", actor=None, channel="phone"
        )
    now = datetime(*local_now, tzinfo=stockholm)
    with time_machine.travel(now, tick=False):
        assert timezone.now().date() == date(2027, 1, 14)  # the same UTC day both times
        booked(patient=child, starts_in=timedelta(hours=10))
        dispatch()
    message = Message.objects.get()
    assert (message.status, message.recipient_role, message.to) == ("sent", *expected)


def test_the_messages_api_never_gives_out_a_protected_person_s_number(
    booked: Booked, recording: type[RecordingGateway], make_api: Any
) -> None:
    """Sent before the patient got a protected identity: the number stays in the row (for
    retention to erase) but the API no longer gives it out."""
    from core.models import Scope

    appointment = booked()
    dispatch()
    api = make_api(Scope.STATUS_READ)[0]
    url = f"/api/v1/appointments/{appointment.external_id}/messages/"
    assert api.get(url).json()["results"][0]["to"] == appointment.patient.mobile_number
    appointment.patient.protected_identity = True
    appointment.patient.save()
    assert api.get(url).json()["results"][0]["to"] is None
