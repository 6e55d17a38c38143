"""The hand-over to a gateway (rules 3.9), in-process: each message's outcome on its own,
a claim partly taken over while it is sent, the lease's timing, and what is left when no
gateway takes traffic. (Against a real HTTP server: tests/reminders/test_network.py.)"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest
import time_machine
from django.core.cache import cache
from django.db.models import F
from django.utils import timezone

from bookings.models import Appointment
from reminders import handover
from reminders.dispatch import dispatch_in_process, messages_dispatch
from reminders.gateways import Outcome, SendResult, get_gateways
from reminders.gateways.chain import Chain
from reminders.models import Message, Status
from reminders.queue import messages_claim_due

from .fakes import RecordingGateway

pytestmark = pytest.mark.django_db
Booked = Callable[..., Appointment]
NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)


# --- One message's outcome never decides another's ---------------------------------------------
def test_a_gateway_that_raises_leaves_that_message_in_doubt_and_sends_the_others(
    booked: Booked, recording: type[RecordingGateway], caplog: pytest.LogCaptureFixture
) -> None:
    """An error inside the gateway's code may come after the request went out: the message
    is "unknown" (in doubt, released from the claim, never sent blindly again), and only
    that message."""
    failing, fine = booked(), booked()
    recording.exploding = {failing.patient.mobile_number}
    with caplog.at_level(logging.ERROR, logger="reminders.handover"):
        counts = dispatch_in_process()
    assert (counts["unknown"], counts["sent"]) == (1, 1)
    message = Message.objects.get(appointment=failing)
    assert (message.status, message.reason, message.claim_token, message.gateway) == (
        "sending",
        "",
        None,
        "recording",
    )
    assert message.submitted_at is not None
    assert message.reason_detail == 'recording: RuntimeError("the gateway\'s code failed")'
    assert Message.objects.get(appointment=fine).status == "sent"
    assert [s.to for s in recording.sent] == [fine.patient.mobile_number]
    logged = [r.getMessage() for r in caplog.records if r.name == "reminders.handover"]
    assert logged == [f"recording failed on message {message.pk}"]
    # The next run does not send it again: it waits for a report or the gateway's records.
    assert dispatch_in_process().get("claimed", 0) == 0
    assert len(recording.sent) == 1


class HookedChain(Chain):
    """The chain as configured, with `hook(n)` run each time (n = 1, 2, …) the dispatcher
    asks it for a gateway: once per turn of its loop, in its own thread."""

    def __init__(self, hook: Callable[[int], None], *, in_flight: int | None = None) -> None:
        super().__init__(get_gateways())
        if in_flight:
            self.max_in_flight = in_flight
        self.hook, self.asked = hook, 0

    def current(self, *, after: Any = None) -> Any:
        self.asked += 1
        self.hook(self.asked)
        return super().current(after=after)


def take_over(requeued: int, claimed_by_another: int) -> uuid.UUID:
    """What recovery and another dispatcher do meanwhile: one message given back to the
    queue, one claimed since by another dispatcher."""
    other = uuid.uuid4()
    Message.objects.filter(pk=requeued).update(status=Status.SCHEDULED, claim_token=None)
    Message.objects.filter(pk=claimed_by_another).update(claim_token=other)
    return other


def test_a_claim_partly_taken_over_sends_only_what_is_still_its_own(
    booked: Booked, recording: type[RecordingGateway]
) -> None:
    for _ in range(4):
        booked()
    token, ids = messages_claim_due(now=timezone.now(), limit=10)
    requeued, other_s = sorted(ids)[1:3]
    taken: list[uuid.UUID] = []
    chain = HookedChain(
        lambda n: taken.append(take_over(requeued, other_s)) if n == 1 else None, in_flight=4
    )
    counts = messages_dispatch(ids=ids, claim_token=token, chain=chain)
    assert dict(counts) == {"sent": 2}
    rows = {m.pk: m for m in Message.objects.all()}
    assert (rows[requeued].status, rows[requeued].claim_token, rows[requeued].gateway) == (
        "scheduled",
        None,
        "",
    )
    assert (rows[other_s].status, rows[other_s].claim_token, rows[other_s].submitted_at) == (
        "sending",
        taken[0],
        None,
    )
    assert sorted(s.message_id for s in recording.sent) == sorted(set(ids) - {requeued, other_s})


# --- Nothing takes the traffic ----------------------------------------------------------------
class DownChain(Chain):
    def __init__(self) -> None:
        super().__init__(get_gateways())

    def current(self, *, after: Any = None) -> Any:
        return None  # every gateway set aside


def test_with_every_gateway_set_aside_the_claim_waits_for_the_backoff(
    booked: Booked, recording: type[RecordingGateway]
) -> None:
    booked(), booked()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        token, ids = messages_claim_due(now=timezone.now(), limit=10)
        assert dict(messages_dispatch(ids=ids, claim_token=token, chain=DownChain())) == {
            "retry": 2
        }
    rows = set(Message.objects.values_list("status", "due_at", "claim_token", "reason_detail"))
    assert rows == {("scheduled", start + timedelta(seconds=30), None, "every gateway set aside")}
    assert recording.sent == []


def test_a_claim_whose_lease_is_ending_gives_back_what_it_did_not_hand_over(
    booked: Booked, recording: type[RecordingGateway], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only what is still its own, and as it was: due at once again, for the next tick. A
    message another dispatcher claimed meanwhile is left to that one."""
    for _ in range(3):
        booked()
    due = dict(Message.objects.values_list("pk", "due_at"))
    monkeypatch.setattr(handover.Lease, "expiring", lambda self: True)
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        token, ids = messages_claim_due(now=timezone.now(), limit=10)
        _, requeued, other_s = sorted(ids)
        taken: list[uuid.UUID] = []

        def meanwhile(n: int) -> None:
            taken.append(take_over(requeued, other_s))
            clock.shift(timedelta(seconds=20))

        messages_dispatch(ids=ids, claim_token=token, chain=HookedChain(meanwhile))
    rows = Message.objects.order_by("id")
    assert list(rows.values_list("status", "claim_token", "submitted_at", "reason_detail")) == [
        ("scheduled", None, None, ""),
        ("scheduled", None, None, ""),
        ("sending", taken[0], None, ""),
    ]
    assert dict(rows.values_list("pk", "due_at")) == due
    assert rows.get(pk=min(ids)).updated_at == start + timedelta(seconds=20)
    assert recording.sent == []


# --- A 429 ---------------------------------------------------------------------------------------
def test_a_429_is_tried_again_in_the_batch_six_times_then_left_to_the_backoff(
    booked: Booked, recording: type[RecordingGateway]
) -> None:
    throttled, _ = booked(), booked()
    recording.throttled = {throttled.patient.mobile_number}
    counts = dispatch_in_process()
    assert (counts["retry"], counts["sent"]) == (1, 1)
    message = Message.objects.get(appointment=throttled)
    assert len(recording.refused_429) == 1 + handover.MAX_TRIES_IN_BATCH == 7
    assert (message.status, message.reason_detail, message.submitted_at) == (
        "scheduled",
        "429",
        None,
    )


# --- The lease --------------------------------------------------------------------------------
class Clock:
    """Stands for handover's `time`: a monotonic clock and a wall clock moved by hand."""

    def __init__(self) -> None:
        self.elapsed = 0.0

    def monotonic(self) -> float:
        return 1000.0 + self.elapsed

    def time(self) -> float:
        return 1_800_000_000.0 + self.elapsed


def test_the_lease_is_renewed_every_sixth_of_its_length_and_ends_halfway(
    booked: Booked, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a claim of 300 s: renewed every 50 s while the dispatcher works; no new send
    starts after 150 s without a renewal, and none may start later than that."""
    settings.DISPATCH_CLAIM_TIMEOUT = 300
    clock = Clock()
    monkeypatch.setattr(handover, "time", clock)
    for _ in range(3):
        booked()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        token, ids = messages_claim_due(now=timezone.now(), limit=10)
    Message.objects.filter(pk=max(ids)).update(status=Status.SENT)  # done: not renewed
    lease = handover.Lease(token)
    assert (lease.deadline(), lease.expiring()) == (clock.time() + 150, False)

    def claimed() -> list[datetime]:
        return list(Message.objects.order_by("id").values_list("claimed_at", flat=True))

    clock.elapsed = 49.9
    with time_machine.travel(start + timedelta(seconds=49.9), tick=False):
        lease.renew_if_due()
    assert claimed() == [start, start, start]
    assert lease.deadline() == pytest.approx(clock.time() + 100.1)

    clock.elapsed = 50
    later = start + timedelta(seconds=50)
    with time_machine.travel(later, tick=False):
        lease.renew_if_due()
    assert claimed() == [later, later, start]
    assert lease.deadline() == clock.time() + 150

    clock.elapsed = 50 + 150
    assert (lease.expiring(), lease.deadline()) == (False, clock.time())
    clock.elapsed = 50 + 150.1
    assert (lease.expiring(), lease.deadline()) == (True, clock.time())


def test_the_lease_renews_only_its_own_claim(booked: Booked, settings: Any) -> None:
    booked(), booked()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        mine, _ = messages_claim_due(now=timezone.now(), limit=1)
        other, _ = messages_claim_due(now=timezone.now(), limit=1)
    lease = handover.Lease(mine)
    lease.renewed -= settings.DISPATCH_CLAIM_TIMEOUT  # long due
    with time_machine.travel(start + timedelta(minutes=1), tick=False):
        lease.renew_if_due()
    assert dict(Message.objects.values_list("claim_token", "claimed_at")) == {
        mine: start + timedelta(minutes=1),
        other: start,
    }


# --- Outcomes, one by one -------------------------------------------------------------------------
def claimed(attempts: int = 1) -> Any:
    return SimpleNamespace(
        attempts=attempts,
        status=Status.SENDING,
        reason="",
        reason_detail="",
        sent_at=None,
        gateway_ref="",
        due_at=NOW - timedelta(minutes=1),
        claim_token=uuid.uuid4(),
        submitted_at=NOW,
        updated_at=None,
    )


def test_an_accepted_sms_is_sent_with_the_gateway_s_reference() -> None:
    message = claimed()
    result = SendResult(1, Outcome.ACCEPTED, gateway_ref="r" * 120, detail="d" * 400)
    assert handover.outcome_apply(message, result, now=NOW) == "sent"
    assert (message.status, message.reason, message.sent_at, message.updated_at) == (
        "sent",
        "",
        NOW,
        NOW,
    )
    assert (message.gateway_ref, message.reason_detail) == ("r" * 100, "d" * 300)


def test_a_refused_sms_fails_with_the_reason() -> None:
    message = claimed()
    assert handover.outcome_apply(
        message, SendResult(1, Outcome.REFUSED, detail="400"), now=NOW
    ) == ("failed")
    assert (message.status, message.reason, message.reason_detail, message.sent_at) == (
        "failed",
        "gateway_refused",
        "400",
        None,
    )


def test_an_unknown_outcome_is_released_from_the_claim_and_stays_sending() -> None:
    message = claimed()
    assert handover.outcome_apply(message, SendResult(1, Outcome.UNKNOWN), now=NOW) == "unknown"
    assert (message.status, message.claim_token, message.submitted_at, message.reason) == (
        "sending",
        None,
        NOW,
        "",
    )


def test_not_sent_is_tried_again_after_the_backoff_and_fails_after_the_last_attempt() -> None:
    message = claimed(attempts=2)
    assert handover.outcome_apply(message, SendResult(1, Outcome.NOT_SENT), now=NOW) == "retry"
    assert (message.status, message.due_at, message.claim_token, message.submitted_at) == (
        "scheduled",
        NOW + timedelta(seconds=60),
        None,
        None,
    )
    last = claimed(attempts=8)
    assert handover.outcome_apply(last, SendResult(1, Outcome.NOT_SENT), now=NOW) == "failed"
    assert (last.status, last.reason, last.due_at) == (
        "failed",
        "gateway_unavailable",
        NOW - timedelta(minutes=1),
    )


def test_one_pool_of_threads_per_process_grown_when_a_larger_one_is_needed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(handover, "_pool", None)
    pool = handover._threads(2)
    assert handover._threads(2) is pool and handover._threads(1) is pool
    bigger = handover._threads(4)
    assert bigger is not pool and bigger._max_workers == 4
    # Named, so a stack dump of a stuck dispatcher shows which threads are sending.
    assert bigger.submit(lambda: threading.current_thread().name).result().startswith("sms_")
    assert handover._threads(4) is bigger
    pool.shutdown()
    bigger.shutdown()


# --- Outcomes written as they come, and only where they still belong ---------------------------
def test_a_delivery_report_that_came_first_is_not_undone_by_the_late_outcome(
    booked: Booked, recording: type[RecordingGateway]
) -> None:
    """The gateway's report that the SMS reached the phone may be written before the
    dispatcher writes its "sent": the message stays delivered."""
    from reminders.delivery import delivery_report_apply
    from reminders.gateways import DeliveryUpdate

    booked()
    token, ids = messages_claim_due(now=timezone.now(), limit=10)

    class ReportFirst(HookedChain):
        def record(self, gateway: Any, result: SendResult) -> None:
            delivery_report_apply(
                DeliveryUpdate(result.message_id, "delivered", "rec-1", None, {}, "recording")
            )
            super().record(gateway, result)

    assert messages_dispatch(ids=ids, claim_token=token, chain=ReportFirst(lambda n: None)) == {
        "sent": 1
    }
    message = Message.objects.get()
    assert (message.status, message.delivered_at is not None) == ("delivered", True)


def test_an_answer_is_recorded_while_slower_ones_are_still_out(
    booked: Booked, recording: type[RecordingGateway]
) -> None:
    """The slow one's answer is held back until the fast one is seen written (at most
    10 s): an event, not a length of time, so a slow machine changes nothing."""
    fast, slow = booked(), booked()
    answer = threading.Event()
    out: set[str] = set()  # the numbers whose request is out
    send = RecordingGateway.send

    def slow_to_answer(self: Any, sms: Any) -> Any:
        out.add(sms.to)
        if sms.to == slow.patient.mobile_number:
            answer.wait(timeout=10)
        try:
            return send(self, sms)
        finally:
            out.discard(sms.to)

    seen: list[tuple[str, int]] = []

    def look(n: int) -> None:
        in_flight = len(out)
        status = Message.objects.get(appointment=fast).status
        seen.append((status, in_flight))
        if status == "sent":
            answer.set()

    token, ids = messages_claim_due(now=timezone.now(), limit=10)
    chain = HookedChain(look, in_flight=2)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(RecordingGateway, "send", slow_to_answer)
        assert messages_dispatch(ids=ids, claim_token=token, chain=chain) == {"sent": 2}
    assert ("sent", 1) in seen  # written at the timed flush, the slow one still out


def test_a_long_batch_renews_its_claim_and_keeps_handing_over(
    booked: Booked,
    recording: type[RecordingGateway],
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A minute passes between hand-overs (one in flight at a time), four minutes in all
    against a claim of 300 s: the dispatcher renews the claim as it goes, so it never ends
    halfway and every SMS goes out."""
    settings.DISPATCH_CLAIM_TIMEOUT = 300
    clock = Clock()
    monkeypatch.setattr(handover, "time", clock)
    for _ in range(4):
        booked()
    token, ids = messages_claim_due(now=timezone.now(), limit=10)
    renewed: list[int] = []

    def a_minute_later(n: int) -> None:
        clock.elapsed += 60
        mine = Message.objects.filter(claim_token__isnull=False, status=Status.SENDING)
        renewed.append(mine.exclude(claimed_at=F("created_at")).count())

    Message.objects.filter(pk__in=ids).update(claimed_at=F("created_at"))
    counts = messages_dispatch(ids=ids, claim_token=token, chain=HookedChain(a_minute_later))
    assert counts == {"sent": 4}
    assert max(renewed) > 0  # the claim's rows were renewed on the way


def test_a_send_the_rate_limit_holds_past_the_claim_s_end_is_not_started(
    booked: Booked, recording: type[RecordingGateway], settings: Any
) -> None:
    """Certainly not sent: it waits for the backoff, with why."""
    booked()
    token, ids = messages_claim_due(now=timezone.now(), limit=10)
    chain = Chain(get_gateways())
    chain.limits["recording"].pause(settings.DISPATCH_CLAIM_TIMEOUT)
    cache.set("sms:failures:recording", 2)  # two sends the gateway did not take, before
    assert messages_dispatch(ids=ids, claim_token=token, chain=chain) == {"retry": 1}
    # A send held back says nothing about the gateway: its count of failures stands.
    assert cache.get("sms:failures:recording") == 2
    message = Message.objects.get()
    assert (message.status, message.reason_detail, message.submitted_at, message.attempts) == (
        "scheduled",
        "held back: the claim is ending",
        None,
        1,
    )
    assert recording.tried == []


def test_the_sms_handed_over_is_the_one_decided(
    booked: Booked, recording: type[RecordingGateway], settings: Any
) -> None:
    settings.SMS_SENDER = "RegHalland"
    booked()
    dispatch_in_process()
    message = Message.objects.get()
    [sms] = recording.sent
    assert (sms.message_id, sms.to, sms.sender, sms.body, sms.segments) == (
        message.pk,
        message.to,
        "RegHalland",
        message.body,
        1,
    )


def test_a_gateway_down_with_no_fallback_leaves_the_sms_to_the_backoff(
    booked: Booked, recording: type[RecordingGateway]
) -> None:
    """Trying again at once only helps when another gateway can take it (or a 429 asked
    for a pause): with one gateway the backoff decides."""
    appointment = booked()
    recording.down = {appointment.patient.mobile_number}
    assert dispatch_in_process()["retry"] == 1
    assert len(recording.tried) == 1


class Second(RecordingGateway):
    name = "second"


def test_a_plain_failure_with_a_fallback_configured_waits_for_the_backoff(
    booked: Booked, recording: type[RecordingGateway]
) -> None:
    """Not sent, but the gateway is not down: the fallback is for a gateway that is."""
    booked()
    recording.mode = "transient"
    token, ids = messages_claim_due(now=timezone.now(), limit=10)
    chain = Chain([RecordingGateway(), Second()])
    assert messages_dispatch(ids=ids, claim_token=token, chain=chain) == {"retry": 1}
    assert len(recording.tried) == 1


def test_a_gateway_down_with_a_fallback_is_tried_again_at_once_on_the_fallback(
    booked: Booked, recording: type[RecordingGateway]
) -> None:
    appointment = booked()
    recording.down = {appointment.patient.mobile_number}
    token, ids = messages_claim_due(now=timezone.now(), limit=10)

    class SecondUp(Second):
        down: ClassVar[set[str]] = set()

    chain = Chain([RecordingGateway(), SecondUp()])
    counts = messages_dispatch(ids=ids, claim_token=token, chain=chain)
    assert counts == {"sent": 1}
    assert Message.objects.get().gateway in {"recording", "second"}


# --- What a batch reports and writes on the way ----------------------------------------------
def test_a_batch_cut_short_counts_what_it_sent_and_what_it_gave_back(
    booked: Booked, recording: type[RecordingGateway], monkeypatch: pytest.MonkeyPatch
) -> None:
    """One in flight at a time, and the lease ends after the first hand-over: the tick's
    figures say one sent and two given back, not only the last of the two."""
    for _ in range(3):
        booked()
    asked: list[int] = []

    def expiring(self: Any) -> bool:
        asked.append(1)
        return len(asked) > 1

    monkeypatch.setattr(handover.Lease, "expiring", expiring)
    token, ids = messages_claim_due(now=timezone.now(), limit=10)
    counts = messages_dispatch(
        ids=ids, claim_token=token, chain=HookedChain(lambda n: None, in_flight=1)
    )
    assert counts == {"sent": 1, "requeued": 2}
    assert sorted(Message.objects.values_list("status", flat=True)) == [
        "scheduled",
        "scheduled",
        "sent",
    ]


def test_a_long_sms_is_handed_over_with_its_segments(
    booked: Booked, recording: type[RecordingGateway], monkeypatch: pytest.MonkeyPatch
) -> None:
    from reminders import dispatch

    monkeypatch.setattr(dispatch.texts, "segments", lambda body: 3)
    booked()
    token, ids = messages_claim_due(now=timezone.now(), limit=10)
    assert messages_dispatch(ids=ids, claim_token=token, chain=HookedChain(lambda n: None)) == {
        "sent": 1
    }
    [sms] = recording.sent
    assert (sms.segments, Message.objects.get().segments) == (3, 3)


def test_the_hand_over_is_written_with_its_time_before_the_answer(
    booked: Booked, recording: type[RecordingGateway]
) -> None:
    """While the request is out the row says when it was handed over, and was last
    changed then: what an operator or recovery reads if the process dies now."""
    booked()
    start = timezone.now()
    seen: list[tuple[Any, Any]] = []

    class Looking(HookedChain):
        def record(self, gateway: Any, result: SendResult) -> None:
            row = Message.objects.get(pk=result.message_id)
            seen.append((row.submitted_at, row.updated_at))
            super().record(gateway, result)

    with time_machine.travel(start, tick=False) as clock:
        token, ids = messages_claim_due(now=timezone.now(), limit=10)
        chain = Looking(lambda n: clock.shift(timedelta(seconds=5)) if n == 1 else None)
        assert messages_dispatch(ids=ids, claim_token=token, chain=chain) == {"sent": 1}
    assert seen == [(start + timedelta(seconds=5), start + timedelta(seconds=5))]


def test_a_row_no_longer_sending_is_not_handed_over(
    booked: Booked, recording: type[RecordingGateway]
) -> None:
    """The claim's token alone does not make a row sendable: one that became something else
    meanwhile (here cancelled, the token left on it) is left as it is. One SMS in flight at
    a time, so the first hand-over holds only that row: the next one still goes out at once
    (it was put off as if every gateway were down)."""
    booked(), booked()
    token, ids = messages_claim_due(now=timezone.now(), limit=10)
    changed = min(ids)

    def meanwhile(n: int) -> None:
        if n == 1:
            Message.objects.filter(pk=changed).update(status=Status.CANCELLED)

    counts = messages_dispatch(ids=ids, claim_token=token, chain=HookedChain(meanwhile))
    assert counts == {"sent": 1}
    assert [s.message_id for s in recording.sent] == [max(ids)]
    row = Message.objects.get(pk=changed)
    assert (row.status, row.submitted_at, row.gateway) == ("cancelled", None, "")


@pytest.mark.parametrize("pause", [0.0, handover.FLUSH_EVERY * 2], ids=["fast", "slow"])
def test_each_outcome_is_written_once_however_the_answers_are_paced(
    booked: Booked,
    recording: type[RecordingGateway],
    monkeypatch: pytest.MonkeyPatch,
    pause: float,
) -> None:
    """One SMS in flight at a time, so every turn hands one over and records the one
    before. Answers faster than FLUSH_EVERY are written with the next hand-over, slower
    ones at the timed flush; either way a finished row is written once, not again at
    every later turn (five rows: five rows written, not 1 + 2 + 3 + 4 + 5)."""
    clock = Clock()
    monkeypatch.setattr(handover, "time", clock)
    for _ in range(5):
        booked()
    token, ids = messages_claim_due(now=timezone.now(), limit=10)
    written: list[int] = []
    record = handover._record

    def counting(done: list[Any], token: uuid.UUID) -> None:
        written.extend(m.pk for m in done)
        record(done, token)

    apply = handover.outcome_apply

    def answered_later(*args: Any, **kwargs: Any) -> str:
        clock.elapsed += pause  # the answer came `pause` seconds after the last write
        return apply(*args, **kwargs)

    monkeypatch.setattr(handover, "_record", counting)
    monkeypatch.setattr(handover, "outcome_apply", answered_later)
    chain = HookedChain(lambda n: None, in_flight=1)
    counts = messages_dispatch(ids=ids, claim_token=token, chain=chain)
    assert counts == {"sent": 5}
    assert sorted(written) == sorted(ids)
    assert Message.objects.filter(status=Status.SENT).count() == 5


def test_a_few_more_are_handed_over_than_are_open_so_the_pipe_never_waits_for_a_write(
    booked: Booked, recording: type[RecordingGateway], own_pool: None
) -> None:
    """Four requests open at most, and one more handed over (written, queued for the next
    free thread): a request that ends starts the next without waiting for the
    dispatcher's writes. Never more than four at the gateway at once."""
    for _ in range(10):
        booked()
    marked: list[int] = []
    open_now, most = [0], [0]
    lock = threading.Lock()
    original = RecordingGateway.send

    def counted(self: Any, sms: Any) -> Any:
        with lock:
            open_now[0] += 1
            most[0] = max(most[0], open_now[0])
        try:
            return original(self, sms)
        finally:
            with lock:
                open_now[0] -= 1

    def hook(n: int) -> None:
        if n == 2:  # the second turn, before its refill: what the first one handed over
            marked.append(Message.objects.filter(submitted_at__isnull=False).count())

    token, ids = messages_claim_due(now=timezone.now(), limit=10)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(RecordingGateway, "send", counted)
        counts = messages_dispatch(ids=ids, claim_token=token, chain=HookedChain(hook, in_flight=4))
    assert counts == {"sent": 10}
    assert marked == [5]
    assert most[0] <= 4
    assert set(RecordingGateway.sends_per_message().values()) == {1}
