"""The database is the queue: every statement that claims, locks or takes back due
messages, for PostgreSQL (SELECT … FOR UPDATE SKIP LOCKED, prepared once per connection)
and for SQLite (one writer at a time: the plain two-step forms are safe there), and the
shape of a claimed row, declared once."""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F

from bookings.models import AppointmentStatus
from core.db import driver_cursor

from . import rules
from .models import Message, SendReason, Status

# --- The claimed row ------------------------------------------------------------------------
# (attribute of Claimed, the ORM path that reads it, the SQL that reads it from a message
# `m`, its contact `a` and clinic `c`). The ORM read, both SQL reads and Claimed's
# attributes all come from this one list, so they cannot drift apart.
CLAIMED_COLUMNS = (
    ("pk", "id", "m.id"),
    ("appointment_id", "appointment_id", "m.appointment_id"),
    ("kind", "kind", "m.kind"),
    ("generation", "generation", "m.generation"),
    ("starts_at", "starts_at", "m.starts_at"),
    ("due_at", "due_at", "m.due_at"),
    ("parent_id", "parent_id", "m.parent_id"),
    ("to", "to", 'm."to"'),
    ("attempts", "attempts", "m.attempts"),
    ("checkin_token", "checkin_token", "m.checkin_token"),
    ("claim_token", "claim_token", "m.claim_token"),
    ("contact_status", "appointment__status", "a.status"),
    ("contact_starts_at", "appointment__starts_at", "a.starts_at"),
    ("patient_id", "appointment__patient_id", "a.patient_id"),
    ("clinic_id", "appointment__clinic_id", "a.clinic_id"),
    ("sms_name", "appointment__clinic__sms_name", "c.sms_name"),
)
_NAMES = tuple(name for name, _, _ in CLAIMED_COLUMNS)
CLAIMED_SELECT = "SELECT " + ", ".join(sql for _, _, sql in CLAIMED_COLUMNS)
# The message's own columns, for a read that locks them before joining the contact.
_MESSAGE_COLUMNS = ", ".join(sql[2:] for _, _, sql in CLAIMED_COLUMNS if sql.startswith("m."))
CLAIMED_JOINS = """
    JOIN bookings_appointment a ON a.id = m.appointment_id
    JOIN bookings_clinic c ON c.id = a.clinic_id
"""


class Claimed:
    """A claimed message with what sending it needs, loaded as plain values: the loop
    handles thousands a second, so it does not build three model instances per message.
    Its attribute names are Message's, so `bulk_set` writes it back."""

    LOAD = tuple(path for _, path, _ in CLAIMED_COLUMNS)

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
        if self.contact_status == AppointmentStatus.CANCELLED:
            return Status.CANCELLED, SendReason.APPOINTMENT_CANCELLED
        if self.contact_status != AppointmentStatus.BOOKED:
            return Status.CANCELLED, SendReason.APPOINTMENT_CLOSED
        if self.contact_starts_at != self.starts_at:
            return Status.CANCELLED, SendReason.APPOINTMENT_MOVED
        if rules.is_expired(starts_at=self.contact_starts_at, now=now):
            return Status.EXPIRED, SendReason.CONTACT_STARTED
        return None


# --- Claims -----------------------------------------------------------------------------------
CLAIM_SQL = """
    WITH claim AS MATERIALIZED (
        SELECT id FROM reminders_message
        WHERE status = 'scheduled' AND due_at <= %s
        ORDER BY due_at, id LIMIT %s
        FOR UPDATE SKIP LOCKED)
    UPDATE reminders_message m SET status = 'sending', claim_token = %s, claimed_at = %s,
           submitted_at = NULL, attempts = m.attempts + 1, updated_at = %s
    FROM claim WHERE m.id = claim.id
    RETURNING m.id
"""


def messages_claim_due(*, now: datetime, limit: int) -> tuple[uuid.UUID, list[int]]:
    """Claims up to `limit` due messages for one dispatcher. On PostgreSQL one statement
    with SELECT … FOR UPDATE SKIP LOCKED, so dispatchers running at once never claim the
    same message and never wait for each other. (SQLite, for trying the system out, has
    one writer at a time: the plain two-step claim is safe there.)"""
    token = uuid.uuid4()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(CLAIM_SQL, [now, limit, token, now, now])
            return token, sorted(row[0] for row in cursor.fetchall())
    with transaction.atomic():
        ids = list(
            Message.objects.filter(status=Status.SCHEDULED, due_at__lte=now)
            .order_by("due_at", "id")
            .values_list("id", flat=True)[:limit]
        )
        if ids:
            Message.objects.filter(pk__in=ids).update(
                status=Status.SENDING,
                claim_token=token,
                claimed_at=now,
                submitted_at=None,
                attempts=F("attempts") + 1,
                updated_at=now,
            )
    return token, ids


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
        claim_token=None, reason_detail="the dispatcher was lost while sending", updated_at=now
    )
    return Counter({"requeued": requeued, "in_doubt": in_doubt}) - Counter()


TAKE_SQL = f"""
    {CLAIMED_SELECT}
    FROM reminders_message m
    {CLAIMED_JOINS}
    WHERE m.id = ANY(%s::bigint[]) AND m.status = 'sending' AND m.claim_token = %s::uuid
          AND m.submitted_at IS NULL
    ORDER BY m.id
    FOR UPDATE OF m
"""


def claimed_take(ids: Sequence[int], claim_token: uuid.UUID | str) -> list[Claimed]:
    """The claim's messages not yet taken, locked. A second run of the same claim (a
    replayed task) waits for the first and then finds them taken. No SKIP LOCKED here:
    another dispatcher's claim may hold one of these rows for an instant while it
    re-checks it, and skipping would strand the message until the claim timeout."""
    if connection.vendor == "postgresql":
        with driver_cursor(connection) as cursor:
            cursor.execute(TAKE_SQL, [list(ids), str(claim_token)], binary=True, prepare=True)
            return [Claimed(row) for row in cursor.fetchall()]
    rows = (
        Message.objects.select_for_update(of=("self",))
        .filter(
            pk__in=ids, status=Status.SENDING, claim_token=claim_token, submitted_at__isnull=True
        )
        .order_by("id")
        .values_list(*Claimed.LOAD)
    )
    return [Claimed(row) for row in rows]


LOCK_DUE_SQL = f"""
    WITH claim AS MATERIALIZED (
        SELECT {_MESSAGE_COLUMNS}
        FROM reminders_message
        WHERE status = 'scheduled' AND due_at <= %s
        ORDER BY due_at, id LIMIT %s
        FOR UPDATE SKIP LOCKED)
    -- The locked rows carry their own columns: joining the message table again would
    -- make PostgreSQL hash the whole table for every batch.
    {CLAIMED_SELECT}
    FROM claim m
    {CLAIMED_JOINS}
    ORDER BY m.id
"""  # noqa: S608 (constants only)


def due_lock(*, now: datetime, limit: int) -> list[Sequence[Any]]:
    """Locks up to `limit` due messages (SKIP LOCKED: other dispatchers take the next
    ones) and reads what sending them needs, in one round trip on PostgreSQL."""
    if connection.vendor == "postgresql":
        with driver_cursor(connection) as cursor:
            cursor.execute(LOCK_DUE_SQL, [now, limit], binary=True, prepare=True)
            return cursor.fetchall()
    ids = list(
        Message.objects.filter(status=Status.SCHEDULED, due_at__lte=now)
        .order_by("due_at", "id")
        .values_list("id", flat=True)[:limit]
    )
    return list(Message.objects.filter(pk__in=ids).order_by("id").values_list(*Claimed.LOAD))


def numbers_taken(parent_ids: list[int]) -> dict[int, set[str]]:
    """The numbers each planned message has already gone to through its siblings."""
    taken: dict[int, set[str]] = defaultdict(set)
    if not parent_ids:
        return taken
    if connection.vendor == "postgresql":
        with driver_cursor(connection) as cursor:
            cursor.execute(
                'SELECT parent_id, "to" FROM reminders_message WHERE parent_id = ANY(%s)',
                [parent_ids],
                prepare=True,
            )
            rows = cursor.fetchall()
    else:
        rows = list(Message.objects.filter(parent_id__in=parent_ids).values_list("parent_id", "to"))
    for parent_id, to in rows:
        taken[parent_id].add(to)
    return taken
