"""Every hand-written SQL statement of the reminders app, each beside the ORM form of the
same operation. PostgreSQL takes the statement (prepared once per connection, SKIP
LOCKED where dispatchers compete); SQLite (`make run`, one writer at a time) takes the ORM
form. Each pair is proven to give the same answer in tests/reminders/test_sql.py. Table
and status names come from the models, so a renamed table or status cannot leave a
statement behind."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from django.db import connection, transaction
from django.db.models import F

from bookings.models import Appointment, Clinic
from core.db import driver_cursor, read_prepared_joined, select_list

from .models import CheckIn, DeliveryReport, Kind, Message, Status
from .selectors import last_generation

if TYPE_CHECKING:
    from .gateways import DeliveryUpdate

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


# --- The check-in link -----------------------------------------------------------------------
def checkin_link(token: str) -> Message | None:
    """The check-in SMS whose link has this token, with its contact, the contact's clinic
    and its check-in (none made: `message.check_in` raises, as after `select_related`),
    or None. The check-in page reads one on every GET and POST, the payment pages too."""
    if _postgresql():
        return checkin_link_sql(token)
    return checkin_link_orm(token)


def checkin_link_orm(token: str) -> Message | None:
    try:  # the token is unique: no order to sort by
        return Message.objects.select_related("appointment__clinic", "check_in").get(
            kind=Kind.CHECKIN, checkin_token=token
        )
    except Message.DoesNotExist:
        return None


_LINK_MODELS = (Message, Appointment, Clinic, CheckIn)


def checkin_link_sql(token: str) -> Message | None:
    return _link_read(_checkin_link_sql(_BY_LINK), [Kind.CHECKIN.value, token])


def checkin_link_locked(pk: int) -> Message:
    """The check-in SMS with this id as `checkin_link` reads it, its row and its contact's
    locked to the end of the transaction (a second use of the link waits, then sees the
    first one's check-in). Message.DoesNotExist when there is none."""
    if _postgresql():
        return checkin_link_locked_sql(pk)
    return checkin_link_locked_orm(pk)


def checkin_link_locked_orm(pk: int) -> Message:
    return (
        Message.objects.select_for_update(of=("self", "appointment"))  # not the outer join's
        .select_related("appointment__clinic", "check_in")
        .get(pk=pk)
    )


def checkin_link_locked_sql(pk: int) -> Message:
    message = _link_read(_checkin_link_sql(_BY_ID_LOCKED), [pk])
    if message is None:
        raise Message.DoesNotExist(f"Message {pk} does not exist.")
    return message


def _link_read(statement: str, params: list[Any]) -> Message | None:
    found = read_prepared_joined(_LINK_MODELS, statement, params)
    if found is None:
        return None
    message: Message
    message, appointment, clinic, check_in = found  # no check-in (None) before it is made
    appointment.clinic = clinic
    message.appointment = appointment
    if check_in is not None:
        check_in.message = message
    Message.check_in.related.set_cached_value(message, check_in)
    return message


_BY_LINK = "WHERE m.kind = %s AND m.checkin_token = %s"
# Not the outer join's row (PostgreSQL refuses to lock the nullable side of one).
_BY_ID_LOCKED = "WHERE m.id = %s FOR UPDATE OF m, a"


@functools.cache
def _checkin_link_sql(where: str) -> str:
    quote = connection.ops.quote_name
    m, a, c, k = (quote(model._meta.db_table) for model in _LINK_MODELS)
    columns = ", ".join(
        select_list(model, alias) for alias, model in zip("mack", _LINK_MODELS, strict=True)
    )
    return f"""
        SELECT {columns}
        FROM {m} m
        JOIN {a} a ON a.id = m.appointment_id
        JOIN {c} c ON c.id = a.clinic_id
        LEFT JOIN {k} k ON k.message_id = m.id
        {where}
    """  # noqa: S608 (names from the models, values bound)


# --- A delivery report (hundreds a second while a day's SMS go out) ---------------------------
@dataclass(frozen=True)
class ReportMove:
    """What a report moves its SMS to, when it is stored and the SMS is at a step it may
    move on from (the rule is reminders/delivery.py's; both forms below apply it)."""

    status: str
    reason: str
    movable: tuple[str, ...]  # the statuses the SMS moves on from
    doubtful: tuple[str, ...]  # a failure with one of these reasons moves on as well
    sent_at: datetime  # unless the SMS has one
    delivered_at: datetime | None  # unless None: as it was
    gateway_ref: str  # unless the SMS has one
    now: datetime


class Reported(NamedTuple):
    """The SMS a report was about, as it was before the report: what the report-lag metric
    reads, and whether the report was stored (new, for an SMS handed to that gateway)."""

    gateway: str
    submitted_at: datetime | None
    stored: bool


def report_apply(update: DeliveryUpdate, move: ReportMove) -> Reported | None:
    """Stores a gateway's report once per SMS and status, only for an SMS handed to a
    gateway (to the one reporting it, when the report names one), and when it is new moves
    the SMS on by `move`; None when there is no such SMS. Atomic: on PostgreSQL one
    statement (the SMS's row locked first: the same report twice at once waits for the
    first, then finds it stored), elsewhere one transaction."""
    if _postgresql():
        return report_apply_sql(update, move)
    return report_apply_orm(update, move)


def report_apply_orm(update: DeliveryUpdate, move: ReportMove) -> Reported | None:
    with transaction.atomic():
        message = Message.objects.select_for_update().filter(pk=update.message_id).first()
        if message is None:
            return None
        reported = Reported(message.gateway, message.submitted_at, stored=False)
        if message.submitted_at is None or (update.gateway and message.gateway != update.gateway):
            return reported
        _, created = DeliveryReport.objects.get_or_create(
            message=message,
            status=update.status,
            defaults={
                "gateway_ref": update.gateway_ref[:100],
                "reported_at": update.reported_at,
                "raw": update.raw,
            },
        )
        if not created:
            return reported
        doubtful = message.status == Status.FAILED and message.reason in move.doubtful
        if message.status in move.movable or doubtful:
            message.status, message.reason, message.claim_token = move.status, move.reason, None
            message.sent_at = message.sent_at or move.sent_at
            message.delivered_at = move.delivered_at or message.delivered_at
            message.gateway_ref = message.gateway_ref or move.gateway_ref
            message.save(update_fields=[*_REPORT_MOVES, "updated_at"])
        return reported._replace(stored=True)


_REPORT_MOVES = ("status", "reason", "claim_token", "sent_at", "delivered_at", "gateway_ref")


def report_apply_sql(update: DeliveryUpdate, move: ReportMove) -> Reported | None:
    values = {
        field.column: field.get_db_prep_save(value, connection)
        for field, value in zip(
            _REPORT_FIELDS,
            (update.status, update.gateway_ref[:100], update.reported_at, update.raw),
            strict=True,
        )
    }
    with driver_cursor(connection) as cursor:
        cursor.execute(
            _report_apply_sql(),
            {
                **values,
                "message": update.message_id,
                "gateway": update.gateway,
                "failed": Status.FAILED.value,
                "to_status": str(move.status),
                "to_reason": str(move.reason),
                "movable": [str(status) for status in move.movable],
                "doubtful": [str(reason) for reason in move.doubtful],
                "to_sent_at": move.sent_at,
                "to_delivered_at": move.delivered_at,
                "to_gateway_ref": move.gateway_ref,
                "now": move.now,
            },
            prepare=True,
        )
        row = cursor.fetchone()
    return None if row is None else Reported(*row)


_REPORT_FIELDS: list[Any] = [
    DeliveryReport._meta.get_field(name) for name in ("status", "gateway_ref", "reported_at", "raw")
]


@functools.cache
def _report_apply_sql() -> str:
    # INSERT … SELECT types its values by the expressions, not the columns: each is cast.
    # The message's lock comes first; ON CONFLICT sees what committed since the statement
    # began.
    return f"""
    WITH message AS MATERIALIZED (
        SELECT id, status, reason, gateway, submitted_at FROM {MESSAGE}
        WHERE id = %(message)s FOR UPDATE
    ), stored AS (
        INSERT INTO {DeliveryReport._meta.db_table}
            (message_id, {", ".join(f.column for f in _REPORT_FIELDS)})
        SELECT id, {
        ", ".join(f"CAST(%({f.column})s AS {f.db_type(connection)})" for f in _REPORT_FIELDS)
    }
        FROM message
        WHERE submitted_at IS NOT NULL AND (%(gateway)s = '' OR gateway = %(gateway)s)
        ON CONFLICT (message_id, status) DO NOTHING
        RETURNING message_id
    ), moved AS (
        UPDATE {MESSAGE} m
        SET status = %(to_status)s, reason = %(to_reason)s, claim_token = NULL,
            sent_at = COALESCE(m.sent_at, %(to_sent_at)s),
            delivered_at = COALESCE(%(to_delivered_at)s, m.delivered_at),
            gateway_ref = CASE WHEN m.gateway_ref = '' THEN %(to_gateway_ref)s
                               ELSE m.gateway_ref END,
            updated_at = %(now)s
        FROM stored JOIN message ON message.id = stored.message_id
        WHERE m.id = stored.message_id
          AND (message.status = ANY(%(movable)s)
               OR (message.status = %(failed)s AND message.reason = ANY(%(doubtful)s)))
        RETURNING m.id
    )
    SELECT gateway, submitted_at, EXISTS (SELECT FROM stored) FROM message
    """  # noqa: S608 (names from the models, values bound)
