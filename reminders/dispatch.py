"""Sending: decide again who receives each claimed message (rules 3.1, at the moment of
sending), render its text, hand it to the gateway and record one outcome per message;
and the loop that claims batch after batch (the beat's tick, or this process)."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from bookings import texts
from consent.rules import who_receives
from consent.selectors import facts_for_patients
from core.bulk import bulk_set

from . import rules
from .gateways import Gateway, OutgoingSms, get_gateways
from .gateways.chain import Chain
from .handover import RESULT_FIELDS, hand_over, outcome_apply
from .health import DISPATCH_OUTCOMES
from .models import Kind, Message, SendReason, Status
from .queue import (
    Claimed,
    claimed_messages_lock,
    due_messages_lock,
    messages_claim_due,
    messages_recover_stale,
    numbers_used_by_plans,
)
from .settle import in_doubt, messages_settle_in_doubt

# What deciding and rendering writes; the hand-over writes `submitted_at` and `gateway`.
SEND_FIELDS = [
    "status",
    "reason",
    "reason_detail",
    "to",
    "recipient_role",
    "sender",
    "body",
    "segments",
    "updated_at",
]


def messages_dispatch(
    *, ids: Sequence[int], claim_token: uuid.UUID | str, chain: Chain | None = None
) -> Counter[str]:
    """Sends the messages of one claim. Decides again who receives each (rules 3.1, at the
    moment of sending), renders the text, hands the SMS to the gateway and records one
    outcome per message. Running it twice for the same claim sends nothing twice: the
    dispatcher takes the claim under a lease token of its own.

    A gateway that writes to this database (the outbox) sends inside the transaction, so
    the SMS and its outcome commit together. Any other gateway is called outside it, several
    SMS in flight at once (handover.py), each written as handed over before it leaves, so
    that a crash is recovered without sending twice (queue.messages_recover_stale)."""
    chain = chain or Chain(get_gateways())
    first = chain.gateways[0]
    now = timezone.now()
    with transaction.atomic():
        messages = claimed_messages_lock(ids, claim_token)
        if not messages:
            return Counter()
        if first.transactional:
            return _counted(_send_in_transaction(messages, gateway=first, now=now, fields=[]))
        lease = uuid.uuid4()
        for message in messages:
            message.claim_token, message.claimed_at = lease, now
        ended, sending = _prepare(messages, gateway=None, now=now)
        bulk_set(Message, ended + sending, [*SEND_FIELDS, "claim_token", "claimed_at"])
    counts: Counter[str] = Counter(str(m.status) for m in ended)
    if sending:
        counts += hand_over(sending, token=lease, chain=chain)
    return _counted(counts)


def _counted(counts: Counter[str]) -> Counter[str]:
    """The outcomes of one claim, into the metrics as well."""
    for outcome, n in counts.items():
        DISPATCH_OUTCOMES.labels(outcome).inc(n)
    return counts


def _send_in_transaction(
    messages: list[Claimed], *, gateway: Gateway, now: datetime, fields: list[str]
) -> Counter[str]:
    """Decide, send and record inside the caller's transaction (a gateway that writes to
    this database): the SMS and its outcome commit together or not at all."""
    ended, sending = _prepare(messages, gateway=gateway, now=now)
    counts: Counter[str] = Counter(str(m.status) for m in ended)
    for message in sending:
        sms = OutgoingSms(message.pk, message.to, message.sender, message.body, message.segments)
        counts[outcome_apply(message, gateway.send(sms), now=now)] += 1
    written = {*SEND_FIELDS, *RESULT_FIELDS, "gateway", *fields}
    if not counts["retry"]:
        written.discard("due_at")  # only a retry moves it
    bulk_set(Message, ended + sending, sorted(written))
    return counts


def messages_claim_and_send(*, gateway: Gateway, limit: int) -> Counter[str]:
    """For a transactional gateway, in this process: claim due messages (SELECT … FOR
    UPDATE SKIP LOCKED), send them and record the outcomes in one transaction, so each
    message is written once. A crash rolls everything back to `scheduled`."""
    now = timezone.now()
    token = uuid.uuid4()
    with transaction.atomic():
        messages = due_messages_lock(now=now, limit=limit)
        if not messages:
            return Counter()
        for message in messages:
            message.claim_token, message.claimed_at = token, now
            message.attempts += 1
        counts = _send_in_transaction(
            messages, gateway=gateway, now=now, fields=["claim_token", "claimed_at", "attempts"]
        )
    counts["claimed"] += len(messages)
    return counts


def _prepare(
    messages: list[Claimed], *, gateway: Gateway | None, now: datetime
) -> tuple[list[Any], list[Any]]:
    """Decides and renders each message: returns (ended, to send). A second recipient (a
    child's other guardian) gets a sibling message of its own. With `gateway` (one that
    sends inside the transaction) they are handed over now; else the hand-over does it."""
    facts = facts_for_patients(m.patient_id for m in messages)
    # Siblings are made only when a planned message is sent, so only one tried before (a
    # retry; `attempts` counts this try too) can have any.
    taken = numbers_used_by_plans(
        [m.pk for m in messages if m.parent_id is None and m.attempts > 1]
    )
    today = timezone.localdate(now)
    sender = settings.SMS_SENDER
    region_pays_mobile = settings.CHECKIN_PAYMENT == "swish"
    gateway_name = gateway.name if gateway else ""
    handed_over = now if gateway else None
    ended: list[Any] = []
    sending: list[Any] = []
    siblings: list[Message] = []
    for message in messages:
        end = message.end_reason(now)
        if end:
            message.end(*end, now)
            ended.append(message)
            continue
        decision = who_receives(facts[message.patient_id], clinic_id=message.clinic_id, on=today)
        if not decision.will_receive:
            message.end(Status.SUPPRESSED, decision.reasons[0], now)
            ended.append(message)
            continue
        if message.parent_id is None:
            numbers = taken.get(message.pk, ())
            free = [r for r in decision.recipients if r.number not in numbers]
        else:
            free = [r for r in decision.recipients if r.number == message.to][:1]
        if not free:
            message.end(Status.SUPPRESSED, SendReason.NOT_APPLICABLE, now)
            ended.append(message)
            continue
        body = rules.render(
            message.kind,
            clinic_sms_name=message.sms_name,
            starts_at=message.contact_starts_at,
            link=checkin_link(message.kind, message.checkin_token),
            pay=rules.promises_payment(
                region_pays_mobile=region_pays_mobile,
                clinic_mobile_payment=message.mobile_payment,
                patient_fee=message.patient_fee,
            ),
        )
        segments = texts.segments(body)
        first, *others = free
        message.to, message.recipient_role = first.number, first.role
        message.sender, message.body, message.segments = sender, body, segments
        message.submitted_at, message.updated_at = handed_over, now
        message.gateway = gateway_name
        sending.append(message)
        siblings += [
            Message(
                appointment_id=message.appointment_id,
                kind=message.kind,
                generation=message.generation,
                starts_at=message.starts_at,
                due_at=message.due_at,
                parent_id=message.pk,
                status=Status.SENDING,
                to=other.number,
                recipient_role=other.role,
                attempts=1,
                claim_token=message.claim_token,
                claimed_at=now,
                sender=sender,
                body=body,
                segments=segments,
                submitted_at=handed_over,
                gateway=gateway_name,
                updated_at=now,
            )
            for other in others
        ]
    sending += Message.objects.bulk_create(siblings)
    return ended, sending


def checkin_link(kind: str, token: str | None) -> str:
    if kind != Kind.CHECKIN or not token:
        return ""
    return f"{settings.CHECKIN_BASE_URL}{token}"


# --- The loop ------------------------------------------------------------------------------
def dispatch_tick(*, hand_off: Any, max_batches: int | None = None) -> Counter[str]:
    """One beat: recover stale claims, then claim due messages in batches and give each
    claim to `hand_off(ids, token)` (a Celery task, or a direct call)."""
    counts = messages_recover_stale(now=timezone.now())
    if counts["in_doubt"] or in_doubt().exists():
        # SMS in doubt (a lost dispatcher's, a timeout's): the gateway's records asked at
        # every tick rather than only at the settle beat (a minute): what they have is
        # final now, and one they show never arrived goes back to the queue sooner.
        counts += messages_settle_in_doubt(now=timezone.now())
    batches = 0
    while max_batches is None or batches < max_batches:
        token, ids = messages_claim_due(now=timezone.now(), limit=settings.DISPATCH_BATCH_SIZE)
        if not ids:
            break
        batches += 1
        counts["claimed"] += len(ids)
        result = hand_off(ids, token)
        if isinstance(result, Counter):
            counts += result
    counts["batches"] = batches
    return counts


def dispatch_in_process() -> Counter[str]:
    """Claims and sends every due message in this process (manage.py dispatch_reminders),
    after settling what an earlier outage left in doubt."""
    chain = Chain(get_gateways())
    gateway = chain.gateways[0]
    settled = messages_settle_in_doubt(now=timezone.now())
    if not gateway.transactional:
        return settled + dispatch_tick(
            hand_off=lambda ids, token: messages_dispatch(ids=ids, claim_token=token, chain=chain)
        )
    counts = settled + messages_recover_stale(now=timezone.now())
    while True:
        batch = messages_claim_and_send(gateway=gateway, limit=settings.DISPATCH_BATCH_SIZE)
        if not batch:
            break
        counts += batch
        counts["batches"] += 1
    return counts
