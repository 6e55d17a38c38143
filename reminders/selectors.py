from __future__ import annotations

from django.db.models import Max, QuerySet

from bookings.models import Appointment

from .models import Message, Status


def messages_of(appointment: Appointment) -> QuerySet[Message]:
    """Every message ever planned for a contact, oldest first."""
    return Message.objects.filter(appointment=appointment).order_by("created_at", "id")


def outbox_list(*, to: str | None = None, limit: int = 200) -> QuerySet[Message]:
    """What the outbox gateway "sent", newest first."""
    rows = (
        Message.objects.filter(gateway="outbox", status__in=[Status.SENT, Status.DELIVERED])
        .select_related("appointment")
        .order_by("-sent_at", "-id")
    )
    if to:
        rows = rows.filter(to=to)
    return rows[:limit]


def last_generation(appointment_id: int) -> int:
    """The latest plan's generation of a contact (0: none yet)."""
    last = Message.objects.filter(appointment_id=appointment_id, parent__isnull=True).aggregate(
        g=Max("generation")
    )["g"]
    return last or 0
