"""The message queue's statements: claims, the due rows, a plan's numbers, what a move or a
closed contact cancels, the outcome's guard — many rows at a time, for the dispatchers
and the planning."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import F

from bookings.models import Appointment, Clinic
from core.db import driver_cursor

from ..models import Message, Status
from ..selectors import last_generation

MESSAGE = Message._meta.db_table
SCHEDULED, SENDING = f"'{Status.SCHEDULED.value}'", f"'{Status.SENDING.value}'"

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
    ("mobile_payment", "appointment__clinic__mobile_payment", "c.mobile_payment"),
    ("patient_fee", "appointment__patient_fee", "a.patient_fee"),
)
CLAIMED_LOAD = tuple(path for _, path, _ in CLAIMED_COLUMNS)
_CLAIMED_SELECT = "SELECT " + ", ".join(sql for _, _, sql in CLAIMED_COLUMNS)
# The message's own columns, for a read that locks them before joining the contact.
_MESSAGE_COLUMNS = ", ".join(sql[2:] for _, _, sql in CLAIMED_COLUMNS if sql.startswith("m."))
_CLAIMED_JOINS = f"""
    JOIN {Appointment._meta.db_table} a ON a.id = m.appointment_id
    JOIN {Clinic._meta.db_table} c ON c.id = a.clinic_id
"""


def _postgresql() -> bool:
    return connection.vendor == "postgresql"


# --- Claim the due messages (the tick) -----------------------------------------------------
_CLAIM_DUE_SQL = f"""
    WITH claim AS MATERIALIZED (
        SELECT id FROM {MESSAGE}
        WHERE status = {SCHEDULED} AND due_at <= %s
        ORDER BY due_at, id LIMIT %s
        FOR UPDATE SKIP LOCKED)
    UPDATE {MESSAGE} m SET status = {SENDING}, claim_token = %s, claimed_at = %s,
           submitted_at = NULL, attempts = m.attempts + 1, updated_at = %s
    FROM claim WHERE m.id = claim.id
    RETURNING m.id
"""  # noqa: S608 (names from the models, values bound)


def claim_due(*, now: datetime, limit: int, token: uuid.UUID) -> list[int]:
    """Claims up to `limit` due messages under `token`; their ids in order."""
    if _postgresql():
        return claim_due_sql(now=now, limit=limit, token=token)
    return claim_due_orm(now=now, limit=limit, token=token)


def claim_due_sql(*, now: datetime, limit: int, token: uuid.UUID) -> list[int]:
    """One statement with SELECT … FOR UPDATE SKIP LOCKED: dispatchers running at once
    never claim the same message and never wait for each other."""
    with connection.cursor() as cursor:
        cursor.execute(_CLAIM_DUE_SQL, [now, limit, token, now, now])
        return sorted(row[0] for row in cursor.fetchall())


def claim_due_orm(*, now: datetime, limit: int, token: uuid.UUID) -> list[int]:
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
    return sorted(ids)


# --- Lock a claim's messages (a send task) ---------------------------------------------------
_CLAIMED_ROWS_SQL = f"""
    WITH claim AS MATERIALIZED (
        SELECT {_MESSAGE_COLUMNS}
        FROM {MESSAGE}
        WHERE id = ANY(%s::bigint[]) AND status = {SENDING} AND claim_token = %s::uuid
              AND submitted_at IS NULL
        ORDER BY id
        FOR UPDATE)
    -- Their contacts by primary key, as the dispatch loop's read below.
    {_CLAIMED_SELECT}
    FROM claim m
    {_CLAIMED_JOINS}
        AND a.id = ANY(ARRAY(SELECT appointment_id FROM claim))
    ORDER BY m.id
"""  # noqa: S608 (names from the models, values bound)


def claimed_rows(ids: Sequence[int], token: uuid.UUID | str) -> list[Sequence[Any]]:
    """The rows of the claim's messages not yet handed over, locked, in id order."""
    if _postgresql():
        return claimed_rows_sql(ids, token)
    return claimed_rows_orm(ids, token)


def claimed_rows_sql(ids: Sequence[int], token: uuid.UUID | str) -> list[Sequence[Any]]:
    with driver_cursor(connection) as cursor:
        cursor.execute(_CLAIMED_ROWS_SQL, [list(ids), str(token)], binary=True, prepare=True)
        return cursor.fetchall()


def claimed_rows_orm(ids: Sequence[int], token: uuid.UUID | str) -> list[Sequence[Any]]:
    return list(
        Message.objects.select_for_update(of=("self",))
        .filter(pk__in=ids, status=Status.SENDING, claim_token=token, submitted_at__isnull=True)
        .order_by("id")
        .values_list(*CLAIMED_LOAD)
    )


# --- Lock the due messages and read them (the dispatch command's loop) ----------------------
_DUE_ROWS_SQL = f"""
    WITH claim AS MATERIALIZED (
        SELECT {_MESSAGE_COLUMNS}
        FROM {MESSAGE}
        WHERE status = {SCHEDULED} AND due_at <= %s
        ORDER BY due_at, id LIMIT %s
        FOR UPDATE SKIP LOCKED)
    -- The locked rows carry their own columns: joining the message table again would
    -- make PostgreSQL hash the whole table for every batch. Their contacts are found by
    -- primary key (the ids once more as `= ANY`): a join alone hashed every contact.
    {_CLAIMED_SELECT}
    FROM claim m
    {_CLAIMED_JOINS}
        AND a.id = ANY(ARRAY(SELECT appointment_id FROM claim))
    ORDER BY m.id
"""  # noqa: S608 (names from the models, values bound)


def due_rows(*, now: datetime, limit: int) -> list[Sequence[Any]]:
    """Locks up to `limit` due messages (SKIP LOCKED on PostgreSQL: other dispatchers take
    the next ones) and reads what sending them needs, in id order."""
    if _postgresql():
        return due_rows_sql(now=now, limit=limit)
    return due_rows_orm(now=now, limit=limit)


def due_rows_sql(*, now: datetime, limit: int) -> list[Sequence[Any]]:
    with driver_cursor(connection) as cursor:
        cursor.execute(_DUE_ROWS_SQL, [now, limit], binary=True, prepare=True)
        return cursor.fetchall()


def due_rows_orm(*, now: datetime, limit: int) -> list[Sequence[Any]]:
    ids = list(
        Message.objects.filter(status=Status.SCHEDULED, due_at__lte=now)
        .order_by("due_at", "id")
        .values_list("id", flat=True)[:limit]
    )
    return list(Message.objects.filter(pk__in=ids).order_by("id").values_list(*CLAIMED_LOAD))


# --- The numbers a plan's messages went to ------------------------------------------------
_PLAN_NUMBERS_SQL = f'SELECT parent_id, "to" FROM {MESSAGE} WHERE parent_id = ANY(%s)'  # noqa: S608


def plan_numbers(parent_ids: list[int]) -> list[tuple[int, str]]:
    """(plan message, number) for each message sent as part of these plans (a guardian's
    SMS beside the first guardian's)."""
    if _postgresql():
        return plan_numbers_sql(parent_ids)
    return plan_numbers_orm(parent_ids)


def plan_numbers_sql(parent_ids: list[int]) -> list[tuple[int, str]]:
    with driver_cursor(connection) as cursor:
        cursor.execute(_PLAN_NUMBERS_SQL, [parent_ids], prepare=True)
        return [(parent, to) for parent, to in cursor.fetchall()]


def plan_numbers_orm(parent_ids: list[int]) -> list[tuple[int, str]]:
    return list(Message.objects.filter(parent_id__in=parent_ids).values_list("parent_id", "to"))


# --- A move: cancel what is pending, read the last plan's generation -------------------------
# The UPDATE runs to completion though nothing reads it; the SELECT sees the rows as they
# were, and a cancellation changes no generation.
_PENDING_CANCEL_SQL = f"""
    WITH cancelled AS (
        UPDATE {MESSAGE}
        SET status = %(cancelled)s, reason = %(reason)s, updated_at = %(now)s
        WHERE appointment_id = %(appointment)s AND status = {SCHEDULED}
    )
    SELECT COALESCE(MAX(generation), 0) FROM {MESSAGE}
    WHERE appointment_id = %(appointment)s AND parent_id IS NULL
"""  # noqa: S608 (names from the models, values bound)


_PENDING_CLOSE_SQL = f"""
    UPDATE {MESSAGE} SET status = %(cancelled)s, reason = %(reason)s, updated_at = %(now)s
    WHERE appointment_id = %(appointment)s AND status = {SCHEDULED}
"""  # noqa: S608 (names from the models, values bound)


def pending_close(*, appointment_id: int, reason: str, now: datetime) -> None:
    """Cancels the contact's pending messages with `reason`: a contact closed (cancelled,
    arrived, not arrived), which every arrival at the desk and by the link does."""
    if _postgresql():
        pending_close_sql(appointment_id=appointment_id, reason=reason, now=now)
    else:
        pending_close_orm(appointment_id=appointment_id, reason=reason, now=now)


def pending_close_sql(*, appointment_id: int, reason: str, now: datetime) -> None:
    with driver_cursor(connection) as cursor:
        cursor.execute(
            _PENDING_CLOSE_SQL, _pending_params(appointment_id, reason, now), prepare=True
        )


def _pending_params(appointment_id: int, reason: str, now: datetime) -> dict[str, Any]:
    return {
        "appointment": appointment_id,
        "cancelled": Status.CANCELLED.value,
        "reason": reason,
        "now": now,
    }


def pending_close_orm(*, appointment_id: int, reason: str, now: datetime) -> None:
    Message.objects.filter(appointment_id=appointment_id, status=Status.SCHEDULED).update(
        status=Status.CANCELLED, reason=reason, updated_at=now
    )


def pending_cancel(*, appointment_id: int, reason: str, now: datetime) -> int:
    """Cancels the contact's pending messages with `reason`; returns its latest plan's
    generation (0: none yet)."""
    if _postgresql():
        return pending_cancel_sql(appointment_id=appointment_id, reason=reason, now=now)
    return pending_cancel_orm(appointment_id=appointment_id, reason=reason, now=now)


def pending_cancel_sql(*, appointment_id: int, reason: str, now: datetime) -> int:
    with driver_cursor(connection) as cursor:
        cursor.execute(
            _PENDING_CANCEL_SQL, _pending_params(appointment_id, reason, now), prepare=True
        )
        row = cursor.fetchone()
    return row[0] if row else 0


def pending_cancel_orm(*, appointment_id: int, reason: str, now: datetime) -> int:
    pending_close_orm(appointment_id=appointment_id, reason=reason, now=now)
    return last_generation(appointment_id)


# --- The condition under which a send's outcome is written -----------------------------------
def outcome_guard(token: uuid.UUID) -> tuple[str, list[Any]]:
    """A row still in this claim, or one that recovery put in doubt meanwhile (our lease
    lapsed while its request was out), takes the outcome: as SQL over the message table
    for `core.bulk.bulk_set`, with its parameters."""
    field: Any = Message._meta.get_field("claim_token")
    sql = (
        f"{MESSAGE}.status = {SENDING} AND ({MESSAGE}.claim_token = %s OR "
        f"({MESSAGE}.claim_token IS NULL AND {MESSAGE}.submitted_at IS NOT NULL))"
    )
    return sql, [field.get_db_prep_value(token, connection)]
