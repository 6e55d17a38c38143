"""What comes in one row at a time from outside: a patient's check-in link (read on every
GET and POST of the check-in and payment pages, locked by the check-in) and a gateway's
delivery report (hundreds a second while a day's SMS go out)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from django.db import connection, transaction

from bookings.models import Appointment, Clinic
from core.db import driver_cursor, read_prepared_joined, select_list

from ..models import CheckIn, DeliveryReport, Kind, Message, Status

if TYPE_CHECKING:
    from ..gateways import DeliveryUpdate

MESSAGE = Message._meta.db_table


def _postgresql() -> bool:
    return connection.vendor == "postgresql"


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


def checkin_link_locked(token: str) -> Message | None:
    """The check-in SMS whose link has this token as `checkin_link` reads it, its row and
    its contact's locked to the end of the transaction (a second use of the link waits,
    then sees the first one's check-in), or None. The check-in's POST reads only this."""
    if _postgresql():
        return checkin_link_locked_sql(token)
    return checkin_link_locked_orm(token)


def checkin_link_locked_orm(token: str) -> Message | None:
    try:
        return (
            Message.objects.select_for_update(of=("self", "appointment"))  # not the outer join's
            .select_related("appointment__clinic", "check_in")
            .get(kind=Kind.CHECKIN, checkin_token=token)
        )
    except Message.DoesNotExist:
        return None


def checkin_link_locked_sql(token: str) -> Message | None:
    return _link_read(_checkin_link_sql(_BY_LINK_LOCKED), [Kind.CHECKIN.value, token])


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
_BY_LINK_LOCKED = f"{_BY_LINK} FOR UPDATE OF m, a"


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
    columns = ", ".join(f.column for f in _REPORT_FIELDS)
    # INSERT … SELECT types its values by the expressions, not the columns: each is cast.
    values = ", ".join(f"CAST(%({f.column})s AS {f.db_type(connection)})" for f in _REPORT_FIELDS)
    # The message's lock comes first; ON CONFLICT sees what committed since the statement
    # began.
    return f"""
    WITH message AS MATERIALIZED (
        SELECT id, status, reason, gateway, submitted_at FROM {MESSAGE}
        WHERE id = %(message)s FOR UPDATE
    ), stored AS (
        INSERT INTO {DeliveryReport._meta.db_table} (message_id, {columns})
        SELECT id, {values} FROM message
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
    )
    SELECT gateway, submitted_at, EXISTS (SELECT FROM stored) FROM message
    """  # noqa: S608 (names from the models, values bound)
