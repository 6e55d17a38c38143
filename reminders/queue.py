"""The database is the queue: claiming due messages, locking a claim's messages to send
them, taking back lapsed claims, and the shape of a claimed message. (The statements
themselves, for PostgreSQL and as the ORM's, are in `sql.py`.)"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings

from bookings.models import AppointmentStatus

from . import rules, sql
from .models import Message, SendReason, Status
from .sql import CLAIMED_COLUMNS

_NAMES = tuple(name for name, _, _ in CLAIMED_COLUMNS)


class Claimed:
    """A claimed message with what sending it needs, loaded as plain values: the loop
    handles thousands a second, so it does not build three model instances per message.
    Its attribute names are Message's, so `bulk_set` writes it back."""

    pk: int
    appointment_id: int
    kind: str
    generation: int
    starts_at: datetime
    due_at: datetime
    parent_id: int | None
    to: str
    attempts: int
    checkin_token: str | None
    claim_token: uuid.UUID | None
    contact_status: str
    contact_starts_at: datetime
    patient_id: int
    clinic_id: int
    sms_name: str
    mobile_payment: bool
    patient_fee: Decimal | None

    def __init__(self, row: Sequence[Any]) -> None:
        self.__dict__.update(zip(_NAMES, row, strict=True))
        self.status: str = Status.SENDING
        self.reason: str = ""
        self.reason_detail: str = ""
        self.recipient_role: str = ""
        self.sender: str = ""
        self.body: str = ""
        self.gateway: str = ""
        self.gateway_ref: str = ""
        self.segments: int | None = None
        self.submitted_at: datetime | None = None
        self.sent_at: datetime | None = None
        self.updated_at: datetime | None = None
        self.claimed_at: datetime | None = None

    def end(self, status: str, reason: str, now: datetime) -> None:
        self.status, self.reason, self.updated_at = status, reason, now

    def end_reason(self, now: datetime) -> tuple[str, str] | None:
        """Why it must not be sent at all, whoever the recipient."""
        if self.contact_status != AppointmentStatus.BOOKED:
            return Status.CANCELLED, rules.cancel_reason(self.contact_status)
        if self.contact_starts_at != self.starts_at:
            return Status.CANCELLED, SendReason.APPOINTMENT_MOVED
        if rules.is_expired(starts_at=self.contact_starts_at, now=now):
            return Status.EXPIRED, SendReason.CONTACT_STARTED
        return None


def messages_claim_due(*, now: datetime, limit: int) -> tuple[uuid.UUID, list[int]]:
    """Claims up to `limit` due messages for one dispatcher. On PostgreSQL one statement
    with SELECT … FOR UPDATE SKIP LOCKED, so dispatchers running at once never claim the
    same message and never wait for each other. (SQLite, for trying the system out, has
    one writer at a time: the plain two-step claim is safe there.)"""
    token = uuid.uuid4()
    return token, sql.claim_due(now=now, limit=limit, token=token)


LOST_WHILE_SENDING = "the dispatcher was lost while sending"


def messages_recover_stale(*, now: datetime) -> Counter[str]:
    """Takes back claims whose lease ran out (the dispatcher was killed, or its task was
    lost). A message never handed to the gateway goes back to the queue. One written as
    handed over may have been in flight: it is released from the claim but stays
    `sending`, in doubt, never sent blindly again, until a delivery report or the
    gateway's records settle it (settle.py)."""
    cutoff = now - timedelta(seconds=settings.DISPATCH_CLAIM_TIMEOUT)
    stale = Message.objects.filter(
        status=Status.SENDING, claimed_at__lt=cutoff, claim_token__isnull=False
    )
    requeued = stale.filter(submitted_at__isnull=True).update(
        status=Status.SCHEDULED, claim_token=None, updated_at=now
    )
    in_doubt = stale.filter(submitted_at__isnull=False).update(
        claim_token=None, reason_detail=LOST_WHILE_SENDING, updated_at=now
    )
    return Counter({"requeued": requeued, "in_doubt": in_doubt}) - Counter()


def claimed_messages_lock(ids: Sequence[int], claim_token: uuid.UUID | str) -> list[Claimed]:
    """The claim's messages not yet handed over, locked. A second run of the same claim (a
    replayed task) waits for the first and then finds them taken. No SKIP LOCKED here:
    another dispatcher's claim may hold one of these rows for an instant while it
    re-checks it, and skipping would strand the message until the claim timeout."""
    return [Claimed(row) for row in sql.claimed_rows(ids, claim_token)]


def due_messages_lock(*, now: datetime, limit: int) -> list[Claimed]:
    """Locks up to `limit` due messages (other dispatchers take the next ones) with what
    sending them needs, in one round trip on PostgreSQL (the dispatch command's loop)."""
    return [Claimed(row) for row in sql.due_rows(now=now, limit=limit)]


def numbers_used_by_plans(parent_ids: list[int]) -> dict[int, set[str]]:
    """The numbers each planned message has already gone to through its siblings."""
    used: dict[int, set[str]] = defaultdict(set)
    for parent_id, to in sql.plan_numbers(parent_ids) if parent_ids else ():
        used[parent_id].add(to)
    return used
