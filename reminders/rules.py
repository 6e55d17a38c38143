"""Pure scheduling rules (rules 3.3) and message rendering (rules 3.4). No database.

All arithmetic is in UTC on aware datetimes: "48 hours" is elapsed time, so it stays right
across the daylight-saving weekends. Only the text shows local (Europe/Stockholm) time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from bookings import texts

REMINDER = "reminder"
CHECKIN = "checkin"
REMINDER_LEAD = timedelta(hours=48)
CHECKIN_LEAD = timedelta(hours=2)
LOCAL = ZoneInfo("Europe/Stockholm")

BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_MAX = timedelta(minutes=30)
MAX_ATTEMPTS = 8


# Why a contact's pending messages end when it leaves `booked` (reason codes of
# models.SendReason, by the contact's status); any other status closes the contact.
CANCEL_REASONS = {
    "cancelled": "appointment_cancelled",
    "withdrawn": "appointment_withdrawn",  # entered in error in the booking system
    "tentative": "appointment_not_booked",  # proposed, pending, waiting list
}


def cancel_reason(contact_status: str) -> str:
    """The reason a pending message is cancelled when its contact is no longer booked."""
    return CANCEL_REASONS.get(contact_status, "appointment_closed")


def wanted_kinds(*, contact_type: str, self_checkin: bool) -> tuple[str, ...]:
    """Which messages a booked contact gets: always the reminder; the check-in SMS only for
    visits at clinics that offer mobile self check-in."""
    if contact_type == "visit" and self_checkin:
        return (REMINDER, CHECKIN)
    return (REMINDER,)


def due_at(kind: str, *, starts_at: datetime, booked_at: datetime) -> datetime | None:
    """When a message is due: its lead time before the start, or at booking when booked
    later than that; None when booked at or after the start (nothing to send)."""
    assert starts_at.tzinfo is not None and booked_at.tzinfo is not None
    # In UTC: Python subtracts wall-clock time between datetimes of one zone, which would
    # make "48 hours" 47 or 49 across a daylight-saving change.
    start, booked = starts_at.astimezone(UTC), booked_at.astimezone(UTC)
    if booked >= start:
        return None
    lead = REMINDER_LEAD if kind == REMINDER else CHECKIN_LEAD
    return max(start - lead, booked)


def plan(
    *, starts_at: datetime, booked_at: datetime, contact_type: str, self_checkin: bool
) -> dict[str, datetime]:
    """kind → due time for a contact booked (or moved) at `booked_at`."""
    out: dict[str, datetime] = {}
    for kind in wanted_kinds(contact_type=contact_type, self_checkin=self_checkin):
        due = due_at(kind, starts_at=starts_at, booked_at=booked_at)
        if due is not None:
            out[kind] = due
    return out


def is_expired(*, starts_at: datetime, now: datetime) -> bool:
    """A message whose contact has started is never sent."""
    return now >= starts_at  # aware datetimes compare as instants, whatever their zones


def retry_at(*, attempts: int, now: datetime) -> datetime | None:
    """When to try again after a transient gateway failure (exponential backoff), or None
    when the attempts are used up."""
    if attempts >= MAX_ATTEMPTS:
        return None
    delay: timedelta = min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_MAX)
    return now + delay


def render(
    kind: str, *, clinic_sms_name: str, starts_at: datetime, link: str = "", pay: bool = False
) -> str:
    """The text of a message; the check-in text promises payment in the phone only when
    `pay` (`promises_payment`)."""
    local = starts_at.astimezone(LOCAL)
    if kind == REMINDER:
        return texts.render_reminder(clinic_sms_name=clinic_sms_name, local_start=local)
    return texts.render_checkin(
        clinic_sms_name=clinic_sms_name, local_start=local, link=link, pay=pay
    )


def promises_payment(
    *, region_pays_mobile: bool, clinic_mobile_payment: bool, patient_fee: Decimal | None
) -> bool:
    """Whether the check-in SMS may say "betala i mobilen" (rules 3.5c): only where the
    region takes mobile payment, the clinic does, and the fee is known and above 0."""
    return (
        region_pays_mobile and clinic_mobile_payment and patient_fee is not None and patient_fee > 0
    )


def refund_reason(*, status: str, starts_at: datetime, checked_in_for: datetime) -> str:
    """Why what was paid at self check-in must be paid back (rules 3.5c), or "": the
    contact was cancelled, moved from the start it was checked in for, or its arrival was
    taken back (booked again, or a no-show)."""
    if status == "cancelled":
        return "appointment_cancelled"
    if starts_at != checked_in_for:
        return "appointment_moved"
    if status not in ("arrived", "completed"):
        return "arrival_taken_back"
    return ""
