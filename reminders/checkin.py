"""Self check-in (rules 3.5): the link in the check-in SMS opens from 2 hours before to 5
minutes after the start and registers the arrival; how the visit is paid is decided then
(payments.py, rules 3.5c)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from bookings.models import AppointmentStatus
from bookings.services import appointment_set_status_locked
from core.db import insert_prepared
from core.errors import DomainError

from . import sql
from .models import CheckIn, Message
from .payments import SWISH, payment_kind

CHECKIN_OPENS = timedelta(hours=2)
CHECKIN_CLOSES = timedelta(minutes=5)


def check_in_of(message: Message) -> CheckIn | None:
    """The message's check-in, if any: read with the message where it was asked for
    (`select_related("check_in")`, as the check-in page does), else read now."""
    try:
        return message.check_in
    except CheckIn.DoesNotExist:
        return None


def checkin_state(message: Message, *, now: datetime) -> str:
    """ "open", "used", "not_yet", "closed" (too late, or the contact is no longer booked)."""
    appointment = message.appointment
    if hasattr(message, "check_in") or appointment.status == AppointmentStatus.ARRIVED:
        gone = appointment.status == AppointmentStatus.CANCELLED
        return "closed" if gone or appointment.starts_at != message.starts_at else "used"
    if appointment.status != AppointmentStatus.BOOKED or appointment.starts_at != message.starts_at:
        return "closed"
    if now < appointment.starts_at - CHECKIN_OPENS:
        return "not_yet"
    if now > appointment.starts_at + CHECKIN_CLOSES:
        return "closed"
    return "open"


@transaction.atomic
def checkin_register(*, token: str) -> CheckIn:
    """Registers the arrival from the check-in link with this token (the desk sees it at
    once) and how the visit is paid (`payment_status`: pay_at_desk, no_fee or swish; a
    Swish request is made by `payments.payment_start` after this commits); the check-in's
    `message` is the link's SMS with its contact and clinic. Message.DoesNotExist for a
    link that is not ours; refused (DomainError) unless the link is open; a second use is
    refused."""
    # One prepared statement on PostgreSQL, the only read of the link: a second use
    # waits for the first's lock, then sees its check-in in the same read.
    message = sql.checkin_link_locked(token)
    if message is None:
        raise Message.DoesNotExist("No check-in SMS has this link.")
    state = checkin_state(message, now=timezone.now())
    if state != "open":
        raise DomainError(f"Incheckningen är inte öppen ({state}).", code=f"checkin_{state}")
    appointment_set_status_locked(  # the link's read locked the contact
        appointment=message.appointment, status=AppointmentStatus.ARRIVED, via="self_checkin"
    )
    kind = payment_kind(message.appointment)
    [check_in] = insert_prepared(  # one prepared INSERT on PostgreSQL
        CheckIn,
        [
            CheckIn(
                message=message,
                checked_in_at=timezone.now(),
                payment_backend="swish" if kind == SWISH else "desk",
                payment_status=kind,
            )
        ],
    )
    return check_in
