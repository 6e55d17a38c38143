"""The dispatch loop (rules 3.1, 3.3; architecture): each message ends in one final state with its
reason, and the four guarantees hold."""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
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


def test_child_whose_guardian_numbers_are_all_landlines_is_suppressed_with_the_reason(
    booked: Booked, recording: type[RecordingGateway]
) -> None:
    """Numbers stored before a rule change are checked again at sending: no SMS goes to a
    landline, the message records why, and the claim's other messages go out."""
    from consent.models import GuardianNumber

    child = PatientFactory(age=7, mobile_number="")
    for number in ("+4635131000", "+4631123456"):  # stored when they passed as mobiles
        guardian = GuardianshipFactory(child=child).guardian
        GuardianNumber.objects.create(child=child, guardian=guardian, number=number)
    booked(patient=child)
    other = booked()
    counts = dispatch()
    assert (counts["suppressed"], counts["sent"]) == (1, 1)
    message = Message.objects.get(appointment__patient=child)
    assert (message.status, message.reason, message.to) == (
        "suppressed",
        "not_a_mobile_number",
        "",
    )
    assert [s.to for s in recording.sent] == [other.patient.mobile_number]


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


# --- Through a gateway that sends inside the transaction (the outbox) --------------------------
@pytest.fixture
def in_transaction(settings: Any, recording: type[RecordingGateway]) -> type[RecordingGateway]:
    settings.SMS_GATEWAY = "tests.reminders.fakes.TransactionalRecordingGateway"
    return recording


def test_inside_the_transaction_each_message_is_claimed_sent_and_recorded_batch_by_batch(
    booked: Booked, in_transaction: type[RecordingGateway], settings: Any
) -> None:
    settings.DISPATCH_BATCH_SIZE = 2
    settings.SMS_SENDER = "RegHalland"
    for _ in range(3):
        booked()
    booked(activate=False)
    booked(starts_in=timedelta(minutes=1))
    moment = timezone.now() + timedelta(minutes=2)
    with time_machine.travel(moment, tick=False):
        counts = dispatch()
    assert counts == {"sent": 3, "suppressed": 1, "expired": 1, "claimed": 5, "batches": 3}
    sent = Message.objects.filter(status="sent").order_by("id")
    assert [(s.message_id, s.to, s.sender, s.body, s.segments) for s in in_transaction.sent] == [
        (m.pk, m.to, "RegHalland", m.body, 1) for m in sent
    ]
    assert all(m.body.startswith("Påminnelse om bokad kontakt med ") for m in sent)
    assert {(m.gateway, m.submitted_at, m.sent_at, m.claimed_at, m.attempts) for m in sent} == {
        ("recording-tx", moment, moment, moment, 1)
    }
    assert None not in {m.claim_token for m in sent}


def test_a_claim_handed_to_a_worker_sends_inside_the_transaction_too(
    booked: Booked, in_transaction: type[RecordingGateway]
) -> None:
    booked(), booked(), booked(activate=False)
    token, ids = queue.messages_claim_due(now=timezone.now(), limit=10)
    assert dispatching.messages_dispatch(ids=ids, claim_token=token) == {
        "sent": 2,
        "suppressed": 1,
    }
    assert len(in_transaction.sent) == 2


def test_a_child_s_two_guardians_get_the_same_sms_each_recorded_as_its_own_message(
    booked: Booked, in_transaction: type[RecordingGateway], settings: Any
) -> None:
    settings.SMS_SENDER = "RegHalland"
    child = child_with_two_guardian_numbers()
    appointment = booked(patient=child)
    moment = timezone.now()
    with time_machine.travel(moment, tick=False):
        assert dispatch()["sent"] == 2
    planned = Message.objects.get(parent__isnull=True)
    sibling = Message.objects.get(parent=planned)
    fields = (
        "appointment_id",
        "kind",
        "generation",
        "starts_at",
        "due_at",
        "status",
        "recipient_role",
    )
    assert [getattr(sibling, f) for f in fields] == [getattr(planned, f) for f in fields]
    assert (sibling.appointment_id, sibling.kind, sibling.status) == (
        appointment.pk,
        "reminder",
        "sent",
    )
    same = ("sender", "body", "segments", "gateway", "submitted_at", "claimed_at", "attempts")
    assert [getattr(sibling, f) for f in same] == [getattr(planned, f) for f in same]
    assert (sibling.sender, sibling.gateway, sibling.submitted_at, sibling.attempts) == (
        "RegHalland",
        "recording-tx",
        moment,
        1,
    )
    assert sorted((s.to, s.body) for s in in_transaction.sent) == [
        ("+46701111111", planned.body),
        ("+46702222222", planned.body),
    ]


# --- The loop's counts --------------------------------------------------------------------------
def test_a_tick_claims_batch_after_batch_up_to_its_limit(
    booked: Booked, recording: type[RecordingGateway], settings: Any
) -> None:
    settings.DISPATCH_BATCH_SIZE = 2
    for _ in range(5):
        booked()
    claims: list[int] = []

    def hand_off(ids: list[int], token: Any) -> Any:
        claims.append(len(ids))
        return Counter({"sent": len(ids)})

    counts = dispatching.dispatch_tick(hand_off=hand_off, max_batches=2)
    assert (claims, dict(counts)) == ([2, 2], {"claimed": 4, "sent": 4, "batches": 2})
    counts = dispatching.dispatch_tick(hand_off=hand_off)
    assert (claims, dict(counts)) == ([2, 2, 1], {"claimed": 1, "sent": 1, "batches": 1})
    assert dict(dispatching.dispatch_tick(hand_off=hand_off)) == {"batches": 0}


def test_a_tick_settles_sms_in_doubt_from_before_not_only_those_its_recovery_finds(
    booked: Booked, recording: type[RecordingGateway], settings: Any
) -> None:
    """An SMS in doubt since an earlier run (its answer lost long ago) is settled by the
    next tick, not left to the settle beat: with no answer for longer than
    SMS_UNKNOWN_SETTLE_MINUTES it fails as `outcome_unknown`, and the tick counts it."""
    appointment = booked()
    long_ago = timezone.now() - timedelta(minutes=settings.SMS_UNKNOWN_SETTLE_MINUTES + 1)
    Message.objects.update(
        status=Status.SENDING,
        claim_token=None,
        submitted_at=long_ago,
        to=appointment.patient.mobile_number,
        body="Påminnelse",
        attempts=1,
    )

    def hand_off(ids: list[int], token: Any) -> Any:
        raise AssertionError("nothing is due")

    assert dict(dispatching.dispatch_tick(hand_off=hand_off)) == {
        "settled_unknown": 1,
        "batches": 0,
    }
    message = Message.objects.get()
    assert (message.status, message.reason) == ("failed", "outcome_unknown")
    assert recording.sent == []


def test_every_outcome_is_counted_for_the_metrics(
    booked: Booked, recording: type[RecordingGateway]
) -> None:
    from prometheus_client import REGISTRY

    def value(outcome: str) -> float:
        found = REGISTRY.get_sample_value("sms_dispatch_outcomes_total", {"outcome": outcome})
        return found or 0.0

    before = {o: value(o) for o in ("sent", "suppressed")}
    booked(), booked(), booked(activate=False)
    dispatch()
    assert {o: value(o) - before[o] for o in before} == {"sent": 2, "suppressed": 1}


# --- Deciding and rendering each message ---------------------------------------------------------
def test_a_check_in_sms_carries_its_own_link_and_the_reminder_none(
    booked: Booked, recording: type[RecordingGateway], settings: Any
) -> None:
    settings.CHECKIN_BASE_URL = "https://sms.example/c/"
    clinic = ClinicFactory(sms_name="Hudkliniken", self_checkin=True)
    appointment = booked(clinic=clinic, contact_type="visit", starts_in=timedelta(hours=1))
    assert dispatch()["sent"] == 2
    checkin = Message.objects.get(kind="checkin")
    reminder = Message.objects.get(kind="reminder")
    local = timezone.localtime(appointment.starts_at)
    assert checkin.body == (
        # The clinic takes no mobile payment: the text promises none (rules 3.5c).
        f"Välkommen till Hudkliniken kl. {local:%H:%M}. Checka in i mobilen: "
        f"https://sms.example/c/{checkin.checkin_token}"
    )
    assert "https://" not in reminder.body
    assert dispatching.checkin_link("checkin", "abc") == "https://sms.example/c/abc"
    assert dispatching.checkin_link("checkin", None) == ""
    assert dispatching.checkin_link("checkin", "") == ""
    assert dispatching.checkin_link("reminder", "abc") == ""


@pytest.mark.parametrize(
    ("payment", "clinic_takes_it", "fee", "promised"),
    [
        pytest.param("swish", True, Decimal("250.00"), True, id="swish-clinic-fee"),
        pytest.param("desk", True, Decimal("250.00"), False, id="desk-clinic-fee"),
        pytest.param("swish", False, Decimal("250.00"), False, id="swish-no-clinic-fee"),
        pytest.param("swish", True, None, False, id="swish-clinic-unknown-fee"),
        pytest.param("swish", True, Decimal("0.00"), False, id="swish-clinic-no-fee"),
    ],
)
def test_a_check_in_sms_promises_payment_in_the_phone_only_where_it_can_be_paid_there(
    booked: Booked,
    recording: type[RecordingGateway],
    settings: Any,
    payment: str,
    clinic_takes_it: bool,
    fee: Decimal | None,
    promised: bool,
) -> None:
    """Rules 3.5c: the region takes Swish (CHECKIN_PAYMENT), the clinic takes mobile
    payment, and the contact's fee is known and above 0; otherwise the shorter text."""
    settings.CHECKIN_BASE_URL = "https://sms.example/c/"
    settings.CHECKIN_PAYMENT = payment
    clinic = ClinicFactory(
        sms_name="Hudkliniken", self_checkin=True, mobile_payment=clinic_takes_it
    )
    appointment = booked(
        clinic=clinic, contact_type="visit", starts_in=timedelta(hours=1), patient_fee=fee
    )
    assert dispatch()["sent"] == 2
    checkin = Message.objects.get(kind="checkin")
    local = timezone.localtime(appointment.starts_at)
    what = "Checka in och betala i mobilen" if promised else "Checka in i mobilen"
    assert checkin.body == (
        f"Välkommen till Hudkliniken kl. {local:%H:%M}. {what}: "
        f"https://sms.example/c/{checkin.checkin_token}"
    )
    assert (checkin.status, checkin.segments) == ("sent", 1)
    assert [s.body for s in recording.sent if "Välkommen" in s.body] == [checkin.body]


def test_a_patient_who_blocked_this_clinic_gets_nothing_from_it_and_the_rest_from_others(
    booked: Booked, recording: type[RecordingGateway]
) -> None:
    from consent.services import consent_block_clinic

    patient = PatientFactory()
    blocked, other = ClinicFactory(), ClinicFactory()
    booked(patient=patient, clinic=blocked)
    consent_block_clinic(patient=patient, clinic=blocked, actor=None, channel="phone")
    booked(patient=patient, clinic=other, activate=False)
    dispatch()
    assert dict(Message.objects.values_list("appointment__clinic", "reason")) == {
        blocked.pk: "blocked_at_clinic",
        other.pk: "",
    }


def test_a_retried_second_guardian_s_sms_goes_to_that_guardian_only(
    booked: Booked, recording: type[RecordingGateway]
) -> None:
    child = child_with_two_guardian_numbers()
    booked(patient=child, starts_in=timedelta(days=1, hours=12))
    recording.unreachable = {"+46702222222"}
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        first = dispatch()
    assert (first["sent"], first["retry"]) == (1, 1)
    sibling = Message.objects.get(parent__isnull=False)
    assert (sibling.to, sibling.status, sibling.attempts) == ("+46702222222", "scheduled", 1)
    recording.unreachable = set()
    with time_machine.travel(start + timedelta(seconds=31), tick=False):
        assert dispatch() == {"claimed": 1, "sent": 1, "batches": 1}
    sibling.refresh_from_db()
    assert (sibling.status, sibling.attempts) == ("sent", 2)
    assert [s.to for s in recording.sent] == ["+46701111111", "+46702222222"]


def _remove_number(child: Any, number: str) -> None:
    from consent.models import GuardianNumber
    from consent.services import guardian_number_remove

    given = GuardianNumber.objects.get(child=child, number=number)
    guardian_number_remove(child=child, guardian=given.guardian, actor=None, channel="phone")


def test_a_retried_sms_to_a_number_removed_meanwhile_is_not_sent(
    booked: Booked, recording: type[RecordingGateway]
) -> None:
    child = child_with_two_guardian_numbers()
    booked(patient=child, starts_in=timedelta(days=1, hours=12))
    recording.unreachable = {"+46702222222"}
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        dispatch()
    _remove_number(child, "+46702222222")
    with time_machine.travel(start + timedelta(seconds=31), tick=False):
        assert dispatch()["suppressed"] == 1
    sibling = Message.objects.get(parent__isnull=False)
    assert (sibling.status, sibling.reason) == ("suppressed", "not_applicable")
    assert [s.to for s in recording.sent] == ["+46701111111"]


def test_a_retry_finds_every_recipient_served_and_the_next_message_still_goes(
    booked: Booked, recording: type[RecordingGateway]
) -> None:
    """The first guardian's SMS failed and the second's went; then the first guardian
    removed their number. Nobody is left to serve: the retry ends as not applicable, and
    the message after it in the same claim is sent."""
    child = child_with_two_guardian_numbers()
    booked(patient=child, starts_in=timedelta(days=1, hours=12))
    recording.unreachable = {"+46701111111"}
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        dispatch()
    _remove_number(child, "+46701111111")
    later = start + timedelta(seconds=31)
    with time_machine.travel(later, tick=False):
        next_one = booked()  # due now, after the retry in the claim's order
        assert dispatch() == {"claimed": 2, "suppressed": 1, "sent": 1, "batches": 1}
    planned = Message.objects.get(appointment__patient=child, parent__isnull=True)
    assert (planned.status, planned.reason, planned.to) == (
        "suppressed",
        "not_applicable",
        "+46701111111",
    )
    assert [s.to for s in recording.sent] == ["+46702222222", next_one.patient.mobile_number]


def test_only_a_retried_plan_is_asked_which_numbers_it_already_went_to(
    booked: Booked, recording: type[RecordingGateway], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plan gets siblings only when it is sent, so on a first try none can have any: the
    loop does not ask (one query saved per batch)."""
    asked: list[list[int]] = []
    real = dispatching.numbers_used_by_plans

    def numbers_used_by_plans(ids: list[int]) -> Any:
        asked.append(ids)
        return real(ids)

    monkeypatch.setattr(dispatching, "numbers_used_by_plans", numbers_used_by_plans)
    child = child_with_two_guardian_numbers()
    booked(patient=child, starts_in=timedelta(days=1, hours=12))
    recording.unreachable = {"+46701111111", "+46702222222"}
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        dispatch()
    assert asked == [[]]
    planned = Message.objects.get(parent__isnull=True)
    with time_machine.travel(start + timedelta(seconds=31), tick=False):
        dispatch()
    assert asked == [[], [planned.pk]]


def test_two_children_in_one_claim_each_reach_both_guardians(
    booked: Booked, recording: type[RecordingGateway]
) -> None:
    first = child_with_two_guardian_numbers()
    second = PatientFactory(age=5, mobile_number="")
    for number in ("0703333333", "0704444444"):
        guardian = GuardianshipFactory(child=second).guardian
        guardian_number_register(
            child=second, guardian=guardian, number=number, actor=None, channel="phone"
        )
    booked(patient=first)
    booked(patient=second)
    assert dispatch() == {"claimed": 2, "sent": 4, "batches": 1}
    assert sorted(s.to for s in recording.sent) == [
        "+46701111111",
        "+46702222222",
        "+46703333333",
        "+46704444444",
    ]
    assert set(Message.objects.values_list("attempts", "status")) == {(1, "sent")}


def test_after_a_move_both_guardians_get_the_new_reminder(
    booked: Booked, recording: type[RecordingGateway]
) -> None:
    child = child_with_two_guardian_numbers()
    appointment = booked(patient=child)
    dispatch()
    appointment_upsert(
        external_id=appointment.external_id,
        patient=child,
        clinic=appointment.clinic,
        starts_at=appointment.starts_at + timedelta(hours=2),
        status="booked",
        contact_type=appointment.contact_type,
    )
    assert dispatch()["sent"] == 2
    second = Message.objects.filter(generation=2)
    assert sorted(second.values_list("to", "status")) == [
        ("+46701111111", "sent"),
        ("+46702222222", "sent"),
    ]
    assert len(recording.sent) == 4


def test_a_dispatcher_killed_before_its_hand_over_loses_neither_guardian_s_sms(
    booked: Booked,
    recording: type[RecordingGateway],
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The claim was decided and both guardians' messages written, then the process died
    before handing any over: recovery gives both back, and each is sent once."""
    child = child_with_two_guardian_numbers()
    booked(patient=child)

    def die(*args: Any, **kwargs: Any) -> Any:
        raise Crash

    monkeypatch.setattr(dispatching, "hand_over", die)
    with pytest.raises(Crash):
        dispatch()
    monkeypatch.undo()
    assert set(Message.objects.values_list("status", "submitted_at", "gateway")) == {
        ("sending", None, "")
    }
    lapsed = timezone.now() + timedelta(seconds=settings.DISPATCH_CLAIM_TIMEOUT + 1)
    with time_machine.travel(lapsed):
        counts = dispatch()
    assert (counts["requeued"], counts["sent"]) == (2, 2)
    assert sorted(s.to for s in recording.sent) == ["+46701111111", "+46702222222"]


def test_a_message_that_expired_first_in_the_claim_does_not_hold_back_the_next(
    booked: Booked, recording: type[RecordingGateway]
) -> None:
    expiring = booked(starts_in=timedelta(minutes=1))
    later = timezone.now() + timedelta(minutes=2)
    with time_machine.travel(later, tick=False):
        fine = booked()  # due after the expiring one, in the claim's order
        assert dispatch() == {"claimed": 2, "expired": 1, "sent": 1, "batches": 1}
    assert Message.objects.get(appointment=expiring).status == "expired"
    assert [s.to for s in recording.sent] == [fine.patient.mobile_number]
