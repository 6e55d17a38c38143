"""The hand-over to a gateway (SPEC 3.9), in-process: each message's outcome on its own,
a claim partly taken over while it is sent, the lease's timing, and what is left when no
gateway takes traffic. (Against a real HTTP server: tests/reminders/test_network.py.)"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
import time_machine
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


class TakeoverChain(Chain):
    """The chain as configured; the second time the dispatcher asks for a gateway, recovery
    elsewhere has just taken back one message of the claim it had not yet handed over."""

    def __init__(self) -> None:
        super().__init__(get_gateways())
        self.asked = 0
        self.taken: list[int] = []

    def current(self, *, after: Any = None) -> Any:
        self.asked += 1
        if self.asked == 2:
            waiting = Message.objects.filter(status=Status.SENDING, submitted_at__isnull=True)
            pk = waiting.order_by("-id").values_list("pk", flat=True)[0]
            Message.objects.filter(pk=pk).update(status=Status.SCHEDULED, claim_token=None)
            self.taken.append(pk)
        return super().current(after=after)


def test_a_claim_partly_taken_over_sends_only_what_is_still_its_own(
    booked: Booked, recording: type[RecordingGateway]
) -> None:
    for _ in range(3):
        booked()
    token, ids = messages_claim_due(now=timezone.now(), limit=10)
    chain = TakeoverChain()
    counts = messages_dispatch(ids=ids, claim_token=token, chain=chain)
    assert dict(counts) == {"sent": 2}
    [taken] = chain.taken
    row = Message.objects.get(pk=taken)
    assert (row.status, row.claim_token, row.submitted_at, row.gateway) == (
        "scheduled",
        None,
        None,
        "",
    )
    assert sorted(s.message_id for s in recording.sent) == sorted(set(ids) - {taken})
    assert Message.objects.filter(status="sent").count() == 2


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
    booked(), booked()
    due = dict(Message.objects.values_list("pk", "due_at"))
    monkeypatch.setattr(handover.Lease, "expiring", lambda self: True)
    token, ids = messages_claim_due(now=timezone.now(), limit=10)
    assert dict(messages_dispatch(ids=ids, claim_token=token)) == {"requeued": 2}
    rows = Message.objects.all()
    assert set(rows.values_list("status", "claim_token", "submitted_at", "reason_detail")) == {
        ("scheduled", None, None, "")
    }
    assert dict(rows.values_list("pk", "due_at")) == due  # due at once again, for the next tick
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
    assert handover._threads(4) is bigger
    pool.shutdown()
    bigger.shutdown()
