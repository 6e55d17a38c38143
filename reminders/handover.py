"""Handing claimed messages to a gateway over the network (rules 3.9): several in flight at
once, within the rate limit, each hand-over written before its request leaves and each
outcome as it comes back, under a lease the dispatcher renews while it works.

Only this thread touches the database; a pool of threads does the HTTP. What a crash can
leave behind is therefore exactly what may have been in flight: the messages written as
handed over (`submitted_at`) whose outcome was not yet written. Recovery
(queue.messages_recover_stale) sends the rest back to the queue, and those few wait, in
doubt, for a delivery report or the gateway's own records (settle.py)."""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter, deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from core.bulk import bulk_set

from . import rules, sql
from .gateways import Gateway, Outcome, OutgoingSms, SendResult
from .gateways.chain import Chain
from .models import Message, SendReason, Status
from .queue import Claimed

logger = logging.getLogger(__name__)

RESULT_FIELDS = [
    "status",
    "reason",
    "reason_detail",
    "sent_at",
    "gateway_ref",
    "due_at",
    "claim_token",
    "submitted_at",
    "updated_at",
]
FLUSH_EVERY = 0.25  # seconds: outcomes are written at least this often...
FLUSH_SIZE = 64  # ...or when this many wait
MAX_TRIES_IN_BATCH = 6  # 429s and fallbacks retried at once, before the backoff takes over

_pool: ThreadPoolExecutor | None = None


def _threads(size: int) -> ThreadPoolExecutor:
    """One pool per process, made on first use (after a worker forks)."""
    global _pool
    if _pool is None or _pool._max_workers < size:
        _pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="sms")
    return _pool


class Lease:
    """The claim of one dispatcher: renewed while it works, so recovery leaves it alone;
    new hand-overs stop when it has not been renewed for half its length."""

    def __init__(self, token: uuid.UUID) -> None:
        self.token = token
        self.length = float(settings.DISPATCH_CLAIM_TIMEOUT)
        self.renewed = time.monotonic()

    def renew_if_due(self) -> None:
        if time.monotonic() - self.renewed < self.length / 6:
            return
        Message.objects.filter(claim_token=self.token, status=Status.SENDING).update(
            claimed_at=timezone.now()
        )
        self.renewed = time.monotonic()

    def expiring(self) -> bool:
        return time.monotonic() - self.renewed > self.length / 2

    def deadline(self) -> float:
        """The wall-clock time after which no new send should start."""
        return time.time() + max(self.length / 2 - (time.monotonic() - self.renewed), 0)


def hand_over(messages: list[Claimed], *, token: uuid.UUID, chain: Chain) -> Counter[str]:
    """Sends prepared messages of one claim (`token`) and records each outcome: accepted →
    sent; certainly not sent → tried again at once on a fallback or after a 429's pause,
    else scheduled with backoff (failed after the last attempt); refused → failed; unknown
    → left in doubt, never sent blindly again. One message's outcome never decides
    another's."""
    lease = Lease(token)
    threads = _threads(chain.max_in_flight)
    pending: deque[Claimed] = deque(messages)
    tries: Counter[int] = Counter()
    in_flight: dict[Future[SendResult], tuple[Claimed, Gateway]] = {}
    done: list[Claimed] = []
    counts: Counter[str] = Counter()
    flushed = time.monotonic()
    refill_at = max(1, chain.max_in_flight // 4)  # free slots that make a refill worth it
    # A few more handed over than there are requests open, queued for the next free thread
    # (the pool has `max_in_flight`): a request that ends starts the next at once instead
    # of waiting for this thread's two writes (bench/gateway.py: one dispatcher kept 13 of
    # 16 open on average, 79 % of its limit). Each is written as handed over before it is
    # queued, so a crash leaves it in doubt, settled by the gateway's records.
    ahead = chain.max_in_flight // 4  # none below four open (SMS_MAX_IN_FLIGHT)
    while pending or in_flight:
        gateway = chain.current()
        free = chain.max_in_flight + ahead - len(in_flight)
        if pending and gateway and (free >= refill_at or not in_flight) and not lease.expiring():
            # Outcomes first, then the next hand-overs: two writes for a handful of SMS.
            _record(done, token)
            done, flushed = [], time.monotonic()
            chunk = [pending.popleft() for _ in range(min(len(pending), free))]
            mine = _mark_handed_over(chunk, token=token, gateway=gateway)
            for message in mine:
                future = threads.submit(_send_one, gateway, chain, message, lease.deadline())
                in_flight[future] = (message, gateway)
            if not mine and not in_flight:
                continue  # that chunk is no longer this claim's: on with the rest
        if not in_flight:
            break  # the lease is ending, or every gateway is set aside
        finished, _ = wait(in_flight, timeout=FLUSH_EVERY, return_when=FIRST_COMPLETED)
        for future in finished:
            message, used = in_flight.pop(future)
            result = future.result()
            chain.record(used, result)
            if _try_again_now(result, message, tries, chain):
                pending.appendleft(message)
                continue
            counts[outcome_apply(message, result, now=timezone.now())] += 1
            done.append(message)
        if len(done) >= FLUSH_SIZE or time.monotonic() - flushed > FLUSH_EVERY:
            _record(done, token)
            done, flushed = [], time.monotonic()
        # Every turn, whatever the pace of the answers (renew_if_due writes a sixth of a
        # lease apart): answers that keep coming faster than FLUSH_EVERY never reach the
        # flush above, and the claim would lapse halfway through a long batch.
        lease.renew_if_due()
    _record(done, token)
    if pending:
        counts += _never_handed_over(list(pending), token=token, gateway_down=not lease.expiring())
    return counts


def _send_one(gateway: Gateway, chain: Chain, message: Claimed, deadline: float) -> SendResult:
    """In a pool thread: wait for the rate limit, then one HTTP exchange. Never raises: an
    error inside the gateway's code may have come after the request went out."""
    if not chain.limits[gateway.name].wait(until=deadline):
        return SendResult(message.pk, Outcome.NOT_SENT, detail="held back: the claim is ending")
    sms = OutgoingSms(message.pk, message.to, message.sender, message.body, message.segments or 1)
    try:
        return gateway.send(sms)
    except Exception as error:
        logger.exception("%s failed on message %s", gateway.name, message.pk)
        return SendResult(message.pk, Outcome.UNKNOWN, detail=f"{gateway.name}: {error!r}")


def _try_again_now(result: SendResult, message: Claimed, tries: Counter[int], chain: Chain) -> bool:
    """A 429 (the pause it asked for holds every send back), or a gateway not sending while
    a fallback is configured: the message goes back in line within this batch rather than
    waiting for the backoff. With one gateway and no 429, the backoff decides."""
    if result.outcome != Outcome.NOT_SENT or tries[message.pk] >= MAX_TRIES_IN_BATCH:
        return False
    fallback = len(chain.gateways) > 1 and chain.current() is not None
    if result.retry_after or (result.gateway_down and fallback):
        tries[message.pk] += 1
        return True
    return False


def _mark_handed_over(chunk: list[Claimed], *, token: uuid.UUID, gateway: Gateway) -> list[Claimed]:
    """Writes each message as handed to `gateway` before its request leaves, and returns
    those still in this claim (a claim taken over sends nothing more)."""
    now = timezone.now()
    ids = [m.pk for m in chunk]
    mine = Message.objects.filter(pk__in=ids, claim_token=token, status=Status.SENDING)
    written = mine.update(submitted_at=now, gateway=gateway.name, updated_at=now)
    if written < len(chunk):
        still = set(mine.values_list("pk", flat=True))
        chunk = [m for m in chunk if m.pk in still]
    for message in chunk:
        message.submitted_at, message.gateway = now, gateway.name
    return chunk


def outcome_apply(message: Claimed, result: SendResult, *, now: datetime) -> str:
    """Sets the message's outcome in memory and returns what to count it as."""
    message.updated_at = now
    message.reason_detail = result.detail[:300]
    if result.outcome == Outcome.ACCEPTED:
        message.status, message.reason, message.sent_at = Status.SENT, "", now
        message.gateway_ref = result.gateway_ref[:100]
        return Status.SENT
    if result.outcome == Outcome.REFUSED:
        message.status, message.reason = Status.FAILED, SendReason.GATEWAY_REFUSED
        return Status.FAILED
    if result.outcome == Outcome.UNKNOWN:
        # In doubt: released from the claim but still `sending`, never sent blindly again.
        message.claim_token = None
        return "unknown"
    return _not_sent(message, now=now)


def _not_sent(message: Claimed, *, now: datetime) -> str:
    retry = rules.retry_at(attempts=message.attempts, now=now)
    if retry is None:
        message.status, message.reason = Status.FAILED, SendReason.GATEWAY_UNAVAILABLE
        return Status.FAILED
    message.status, message.due_at = Status.SCHEDULED, retry
    message.claim_token, message.submitted_at = None, None
    return "retry"


def _record(done: list[Claimed], token: uuid.UUID) -> None:
    """Writes outcomes. A row still in this claim, or one recovery put in doubt meanwhile
    (our lease lapsed while its request was out), takes the outcome: an SMS the gateway
    accepted is recorded as sent even after a takeover."""
    if not done:
        return
    guard, params = sql.outcome_guard(token)
    bulk_set(Message, done, RESULT_FIELDS, guard_sql=guard, guard_sql_params=params)


def _never_handed_over(
    rest: list[Claimed], *, token: uuid.UUID, gateway_down: bool
) -> Counter[str]:
    """Messages this dispatcher did not hand over: with every gateway set aside they were
    certainly not sent (backoff); with the lease ending they go back to the queue as they
    were, for the next tick."""
    now = timezone.now()
    counts: Counter[str] = Counter()
    for message in rest:
        message.updated_at = now
        if gateway_down:
            message.reason_detail = "every gateway set aside"
            counts[_not_sent(message, now=now)] += 1
        else:
            message.status, message.claim_token, message.submitted_at = Status.SCHEDULED, None, None
            counts["requeued"] += 1
    bulk_set(Message, rest, RESULT_FIELDS, guard={"status": Status.SENDING, "claim_token": token})
    return counts
