"""The schedule (rules 3.3): which messages a contact has and when they are due, kept in
step with the contact in the booking's transaction (and none left pending for a patient
the register reports deceased); the nudge that asks for a tick when
one is due at once; and the beat's interval tick itself."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Iterable
from datetime import datetime

from celery import current_app
from django.db import transaction
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from bookings.models import Appointment, AppointmentStatus, Patient
from bookings.signals import AppointmentSnapshot
from consent.reasons import Reason
from core.db import insert_many, insert_prepared

from . import rules, sql
from .models import Kind, Message, SendReason, Status
from .selectors import last_generation

logger = logging.getLogger(__name__)

TICK_TASK_NAME = "Utskick av sms-påminnelser (tick)"
TICK_EXPIRES = 25  # seconds; the beat interval is 30
SETTLE_TASK_NAME = "Utfall av sms i ovisshet (settle)"
RETENTION_TASK_NAME = "Gallring av personuppgifter (retention)"


def _new_checkin_token() -> str:
    return secrets.token_urlsafe(16)  # 22 characters, 128 bits


def _plan_messages(
    appointment: Appointment,
    *,
    generation: int,
    booked_at: datetime,
    kinds: Iterable[str] | None = None,
) -> list[Message]:
    """The contact's messages as rules.plan has them (unsaved)."""
    planned = rules.plan(
        starts_at=appointment.starts_at,
        booked_at=booked_at,
        contact_type=appointment.contact_type,
        self_checkin=appointment.clinic.self_checkin,
    )
    wanted = set(kinds) if kinds is not None else set(planned)
    return [
        Message(
            appointment=appointment,
            kind=kind,
            generation=generation,
            starts_at=appointment.starts_at,
            due_at=due,
            checkin_token=_new_checkin_token() if kind == Kind.CHECKIN else None,
        )
        for kind, due in planned.items()
        if kind in wanted
    ]


def _create_plan(
    appointment: Appointment,
    *,
    generation: int,
    booked_at: datetime,
    kinds: Iterable[str] | None = None,
) -> list[Message]:
    return insert_prepared(
        Message,
        _plan_messages(appointment, generation=generation, booked_at=booked_at, kinds=kinds),
    )


def _cancel_pending(appointment: Appointment, reason: str, kinds: Iterable[str]) -> int:
    pending = Message.objects.filter(
        appointment=appointment, status=Status.SCHEDULED, kind__in=list(kinds)
    )
    return pending.update(status=Status.CANCELLED, reason=reason, updated_at=timezone.now())


def messages_plan_on_change(
    *, appointment: Appointment, previous: AppointmentSnapshot | None, moment: datetime
) -> None:
    """Keeps a contact's messages in step with the contact (rules 3.3), in the booking's
    transaction: a new booking plans its messages; a cancellation (or any status other than
    booked) cancels the pending ones; an arrival or no-show taken back brings back only
    what its closing cancelled; a move cancels them and plans new ones as if booked
    at the moment of the move; a change of clinic or contact type adds or cancels only the
    messages that now do or do not apply."""
    booked = appointment.status == AppointmentStatus.BOOKED
    created: list[Message] = []
    if previous is None:
        if booked:  # a new contact's first plan
            created = _create_plan(appointment, generation=1, booked_at=appointment.booked_at)
    elif not booked:  # a prepared statement on PostgreSQL: every arrival closes a contact
        sql.pending_close(
            appointment_id=appointment.pk,
            reason=rules.cancel_reason(appointment.status),
            now=timezone.now(),
        )
    elif (
        previous.status in (AppointmentStatus.ARRIVED, AppointmentStatus.NO_SHOW)
        and previous.starts_at == appointment.starts_at
    ):
        # An arrival or no-show taken back (the desk's undo): the contact is as it was
        # booked. Only the messages its closing cancelled come back, at their own due
        # times; one already sent is never sent again.
        live = Message.objects.filter(
            appointment=appointment, parent__isnull=True, starts_at=appointment.starts_at
        )
        closed = set(
            live.filter(status=Status.CANCELLED, reason=SendReason.APPOINTMENT_CLOSED).values_list(
                "kind", flat=True
            )
        )
        kept = set(live.exclude(status=Status.CANCELLED).values_list("kind", flat=True))
        created = _create_plan(
            appointment,
            generation=last_generation(appointment.pk) + 1,
            booked_at=appointment.booked_at,
            kinds=closed - kept,
        )
    elif previous.status != AppointmentStatus.BOOKED or previous.starts_at != appointment.starts_at:
        # One prepared statement on PostgreSQL: a booking system moves contacts all day.
        last = sql.pending_cancel(
            appointment_id=appointment.pk,
            reason=SendReason.APPOINTMENT_MOVED,
            now=timezone.now(),
        )
        created = _create_plan(appointment, generation=last + 1, booked_at=moment)
    else:
        wanted = set(
            rules.wanted_kinds(
                contact_type=appointment.contact_type, self_checkin=appointment.clinic.self_checkin
            )
        )
        live = Message.objects.filter(appointment=appointment, parent__isnull=True).exclude(
            status=Status.CANCELLED
        )
        # The kinds already planned (or done) for the contact's current start.
        current = set(live.filter(starts_at=appointment.starts_at).values_list("kind", flat=True))
        _cancel_pending(appointment, SendReason.NOT_APPLICABLE, kinds=current - wanted)
        # A kind that applies again is a new plan of its own: the next generation.
        created = _create_plan(
            appointment,
            generation=last_generation(appointment.pk) + 1,
            booked_at=moment,
            kinds=wanted - current,
        )
    if any(m.due_at <= moment for m in created):
        transaction.on_commit(dispatcher_nudge)


def messages_plan_new(*, appointments: Iterable[Appointment], moment: datetime) -> int:
    """The first plan of many new contacts at once (the bulk path of a first sync), in
    their transaction: what `messages_plan_on_change` plans for each new one, written a
    statement per five hundred. Returns how many messages."""
    created = [
        message
        for appointment in appointments
        if appointment.status == AppointmentStatus.BOOKED
        for message in _plan_messages(appointment, generation=1, booked_at=appointment.booked_at)
    ]
    insert_many(Message, created)
    if any(m.due_at <= moment for m in created):
        transaction.on_commit(dispatcher_nudge)
    return len(created)


def messages_suppress_deceased(*, patient: Patient, moment: datetime) -> int:
    """The register reports the patient deceased (rules 3.1): every pending message about
    their contacts is suppressed at once with the reason `deceased`, in the sync's
    transaction, rather than waiting for the dispatcher to refuse it when due. Returns
    how many. Messages already handed to a gateway are past stopping."""
    return Message.objects.filter(appointment__patient=patient, status=Status.SCHEDULED).update(
        status=Status.SUPPRESSED, reason=Reason.DECEASED, updated_at=moment
    )


_last_nudge = 0.0
NUDGE_EVERY = 2.0  # seconds: a burst of bookings asks for one tick, not one each


def dispatcher_nudge() -> None:
    """Asks for a tick now, so a message due at booking goes out right away rather than at
    the next beat. Best effort and rate-limited: if the broker is away or the nudge is
    skipped, the next beat finds the message anyway (the database is the queue)."""
    global _last_nudge
    now = time.monotonic()
    if now - _last_nudge < NUDGE_EVERY:
        return
    _last_nudge = now
    try:
        # A tick that waited in the broker longer than a beat is worthless: drop it.
        current_app.send_task("reminders.tasks.tick", ignore_result=True, expires=TICK_EXPIRES)
    except Exception:  # the broker is optional here; the database is the queue
        logger.warning("Could not nudge the dispatcher; the next beat will send.", exc_info=True)


def beat_schedule_install() -> None:
    """The beat's tasks as django-celery-beat intervals (never crontabs): the dispatch tick
    every 30 s, settling SMS in doubt every 60 s, retention daily. The migrations install them; this
    restores them (idempotent) if someone removed them."""
    for name, task, seconds, expires in (
        (TICK_TASK_NAME, "reminders.tasks.tick", 30, TICK_EXPIRES),
        (SETTLE_TASK_NAME, "reminders.tasks.settle", 60, 55),
        (RETENTION_TASK_NAME, "reminders.tasks.erase_expired", 24 * 3600, 3600),
    ):
        every, _ = IntervalSchedule.objects.get_or_create(
            every=seconds, period=IntervalSchedule.SECONDS
        )
        PeriodicTask.objects.update_or_create(
            name=name,
            defaults={
                "task": task,
                "interval": every,
                "enabled": True,
                "expire_seconds": expires,
            },
        )
