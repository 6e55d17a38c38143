"""The schedule and the dispatch loop. The database is the queue: every state a message
goes through is a row update, so a lost broker message, a killed worker or a beat that
ran twice is found again and finished by the next tick."""

from __future__ import annotations

import logging
import secrets
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Max
from django.utils import timezone

from bookings import texts
from bookings.db import driver_cursor
from bookings.errors import DomainError
from bookings.models import Appointment, AppointmentStatus
from bookings.services import AppointmentSnapshot, appointment_set_status
from consent.rules import who_receives
from consent.selectors import facts_for_patients

from . import rules
from .bulk import bulk_set
from .gateways import DeliveryUpdate, Gateway, OutgoingSms, SendResult, get_gateway
from .models import CheckIn, DeliveryReport, Kind, Message, Reason, Status
from .payments import PaymentResult, payment_backend

logger = logging.getLogger(__name__)

TICK_TASK_NAME = "Utskick av sms-påminnelser (tick)"
TICK_EXPIRES = 25  # seconds; the beat interval is 30


# --- The schedule -------------------------------------------------------------------------
def _new_checkin_token() -> str:
    return secrets.token_urlsafe(16)  # 22 characters, 128 bits


def _create_plan(
    appointment: Appointment,
    *,
    generation: int,
    booked_at: datetime,
    kinds: Iterable[str] | None = None,
) -> list[Message]:
    planned = rules.plan(
        starts_at=appointment.starts_at,
        booked_at=booked_at,
        contact_type=appointment.contact_type,
        self_checkin=appointment.clinic.self_checkin,
    )
    wanted = set(kinds) if kinds is not None else set(planned)
    return Message.objects.bulk_create(
        [
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
    )


def _cancel_pending(
    appointment: Appointment, reason: str, kinds: Iterable[str] | None = None
) -> int:
    pending = Message.objects.filter(appointment=appointment, status=Status.SCHEDULED)
    if kinds is not None:
        pending = pending.filter(kind__in=list(kinds))
    return pending.update(status=Status.CANCELLED, reason=reason, updated_at=timezone.now())


def messages_plan_on_change(
    *, appointment: Appointment, previous: AppointmentSnapshot | None, moment: datetime
) -> None:
    """Keeps a contact's messages in step with the contact (SPEC 3.3), in the booking's
    transaction: a new booking plans its messages; a cancellation (or any status other than
    booked) cancels the pending ones; a move cancels them and plans new ones as if booked
    at the moment of the move; a change of clinic or contact type adds or cancels only the
    messages that now do or do not apply."""
    booked = appointment.status == AppointmentStatus.BOOKED
    generation = (
        Message.objects.filter(appointment=appointment, parent__isnull=True).aggregate(
            g=Max("generation")
        )["g"]
        or 0
    )
    created: list[Message] = []
    if previous is None:
        if booked:
            created = _create_plan(appointment, generation=1, booked_at=appointment.booked_at)
    elif not booked:
        reason = (
            Reason.APPOINTMENT_CANCELLED
            if appointment.status == AppointmentStatus.CANCELLED
            else Reason.APPOINTMENT_CLOSED
        )
        _cancel_pending(appointment, reason)
    elif previous.status != AppointmentStatus.BOOKED or previous.starts_at != appointment.starts_at:
        _cancel_pending(appointment, Reason.APPOINTMENT_MOVED)
        created = _create_plan(appointment, generation=generation + 1, booked_at=moment)
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
        _cancel_pending(appointment, Reason.NOT_APPLICABLE, kinds=current - wanted)
        # A kind that applies again is a new plan of its own: the next generation.
        created = _create_plan(
            appointment, generation=generation + 1, booked_at=moment, kinds=wanted - current
        )
    if any(m.due_at <= moment for m in created):
        transaction.on_commit(nudge_dispatcher)


_last_nudge = 0.0
NUDGE_EVERY = 2.0  # seconds: a burst of bookings asks for one tick, not one each


def nudge_dispatcher() -> None:
    """Asks for a tick now, so a message due at booking goes out right away rather than at
    the next beat. Best effort and rate-limited: if the broker is away or the nudge is
    skipped, the next beat finds the message anyway (the database is the queue)."""
    global _last_nudge
    now = time.monotonic()
    if now - _last_nudge < NUDGE_EVERY:
        return
    _last_nudge = now
    from config.celery import app

    try:
        # A tick that waited in the broker longer than a beat is worthless: drop it.
        app.send_task("reminders.tasks.tick", ignore_result=True, expires=TICK_EXPIRES)
    except Exception:  # the broker is optional here; the database is the queue
        logger.warning("Could not nudge the dispatcher; the next beat will send.", exc_info=True)


# --- Claiming -------------------------------------------------------------------------------
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


def messages_recover_stale(*, now: datetime, gateway: Gateway | None = None) -> Counter[str]:
    """Takes back claims a dispatcher did not finish (it was killed, or its task was lost).
    A message never handed to the gateway goes back to the queue. One that was handed over
    goes back too when the gateway recognises a resend (idempotent); otherwise it is failed
    as `outcome_unknown`, and the gateway's delivery report, which carries our id, settles it."""
    gateway = gateway or get_gateway()
    cutoff = now - timedelta(seconds=settings.DISPATCH_CLAIM_TIMEOUT)
    stale = Message.objects.filter(status=Status.SENDING, claimed_at__lt=cutoff)
    counts: Counter[str] = Counter()
    counts["requeued"] += stale.filter(submitted_at__isnull=True).update(
        status=Status.SCHEDULED, claim_token=None, updated_at=now
    )
    handed_over = stale.filter(submitted_at__isnull=False)
    if gateway.idempotent:
        counts["requeued"] += handed_over.update(
            status=Status.SCHEDULED, claim_token=None, submitted_at=None, updated_at=now
        )
    else:
        counts["failed"] += handed_over.update(
            status=Status.FAILED, reason=Reason.OUTCOME_UNKNOWN, updated_at=now
        )
    return counts


# --- Sending ----------------------------------------------------------------------------------
class Claimed:
    """A claimed message with what sending it needs, loaded as plain values: the loop
    handles thousands a second, so it does not build three model instances per message.
    Its attribute names are Message's, so `bulk_set` writes it back."""

    LOAD = (
        "id",
        "appointment_id",
        "kind",
        "generation",
        "starts_at",
        "due_at",
        "parent_id",
        "to",
        "attempts",
        "checkin_token",
        "claim_token",
        "appointment__status",
        "appointment__starts_at",
        "appointment__patient_id",
        "appointment__clinic_id",
        "appointment__clinic__sms_name",
    )

    def __init__(self, row: Sequence[Any]) -> None:
        (
            self.pk,
            self.appointment_id,
            self.kind,
            self.generation,
            self.starts_at,
            self.due_at,
            self.parent_id,
            self.to,
            self.attempts,
            self.checkin_token,
            self.claim_token,
            self.contact_status,
            self.contact_starts_at,
            self.patient_id,
            self.clinic_id,
            self.sms_name,
        ) = row
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
            return Status.CANCELLED, Reason.APPOINTMENT_CANCELLED
        if self.contact_status != AppointmentStatus.BOOKED:
            return Status.CANCELLED, Reason.APPOINTMENT_CLOSED
        if self.contact_starts_at != self.starts_at:
            return Status.CANCELLED, Reason.APPOINTMENT_MOVED
        if rules.is_expired(starts_at=self.contact_starts_at, now=now):
            return Status.EXPIRED, Reason.CONTACT_STARTED
        return None


SEND_FIELDS = [
    "status",
    "reason",
    "reason_detail",
    "to",
    "recipient_role",
    "sender",
    "body",
    "segments",
    "submitted_at",
    "gateway",
    "updated_at",
]
RESULT_FIELDS = [
    "status",
    "reason",
    "reason_detail",
    "sent_at",
    "gateway_ref",
    "due_at",
    "claim_token",
    "submitted_at",
    "updated_at",
]


# What a Claimed is made of (Claimed.LOAD, in its order), from a message `m`.
CLAIMED_SELECT = """
    SELECT m.id, m.appointment_id, m.kind, m.generation, m.starts_at, m.due_at, m.parent_id,
           m."to", m.attempts, m.checkin_token, m.claim_token, a.status, a.starts_at,
           a.patient_id, a.clinic_id, c.sms_name
"""
CLAIMED_JOINS = """
    JOIN bookings_appointment a ON a.id = m.appointment_id
    JOIN bookings_clinic c ON c.id = a.clinic_id
"""

TAKE_SQL = f"""
    {CLAIMED_SELECT}
    FROM reminders_message m
    {CLAIMED_JOINS}
    WHERE m.id = ANY(%s::bigint[]) AND m.status = 'sending' AND m.claim_token = %s::uuid
          AND m.submitted_at IS NULL
    ORDER BY m.id
    FOR UPDATE OF m
"""


def _take(ids: Sequence[int], claim_token: uuid.UUID | str) -> list[Claimed]:
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


def messages_dispatch(
    *, ids: Sequence[int], claim_token: uuid.UUID | str, gateway: Gateway | None = None
) -> Counter[str]:
    """Sends the messages of one claim. Decides again who receives each (SPEC 3.1, at the
    moment of sending), renders the text, hands the SMS to the gateway and records one
    outcome per message. Running it twice for the same claim sends nothing twice.

    A gateway that writes to this database (the outbox) sends inside the transaction, so
    the SMS and its outcome commit together. Any other gateway is called outside it: the
    messages are first marked as handed over (`submitted_at`), so that a crash in between
    is recovered without sending twice (see messages_recover_stale)."""
    gateway = gateway or get_gateway()
    now = timezone.now()
    counts: Counter[str] = Counter()
    with transaction.atomic():
        messages = _take(ids, claim_token)
        if not messages:
            return counts
        if gateway.transactional:
            return _send_in_transaction(messages, gateway=gateway, now=now, fields=[])
        ended, sending = _prepare(messages, gateway=gateway, now=now)
        for message in ended:
            counts[str(message.status)] += 1
        outgoing = [OutgoingSms(m.pk, m.to, m.sender, m.body, m.segments or 1) for m in sending]
        bulk_set(Message, ended + sending, SEND_FIELDS)
    if outgoing:
        results = gateway.send_many(outgoing)
        counts += _apply_results(sending, results, now=timezone.now())
        bulk_set(
            Message,
            sending,
            RESULT_FIELDS,
            guard={"status": Status.SENDING, "claim_token": claim_token},
        )
    return counts


def _send_in_transaction(
    messages: list[Claimed], *, gateway: Gateway, now: datetime, fields: list[str]
) -> Counter[str]:
    """Decide, send and record inside the caller's transaction (a gateway that writes to
    this database): the SMS and its outcome commit together or not at all."""
    ended, sending = _prepare(messages, gateway=gateway, now=now)
    counts: Counter[str] = Counter(str(m.status) for m in ended)
    outgoing = [OutgoingSms(m.pk, m.to, m.sender, m.body, m.segments or 1) for m in sending]
    results = gateway.send_many(outgoing) if outgoing else []
    counts += _apply_results(sending, results, now=now)
    written = {*SEND_FIELDS, *RESULT_FIELDS, *fields}
    if not counts["retry"]:
        written.discard("due_at")  # only a retry moves it
    bulk_set(Message, ended + sending, sorted(written))
    return counts


LOCK_DUE_SQL = f"""
    WITH claim AS MATERIALIZED (
        SELECT id, appointment_id, kind, generation, starts_at, due_at, parent_id, "to",
               attempts, checkin_token, claim_token
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


def _lock_due(*, now: datetime, limit: int) -> list[Sequence[Any]]:
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


def messages_claim_and_send(*, gateway: Gateway, limit: int) -> Counter[str]:
    """For a transactional gateway, in this process: claim due messages (SELECT … FOR
    UPDATE SKIP LOCKED), send them and record the outcomes in one transaction, so each
    message is written once. A crash rolls everything back to `scheduled`."""
    now = timezone.now()
    token = uuid.uuid4()
    with transaction.atomic():
        messages = [Claimed(row) for row in _lock_due(now=now, limit=limit)]
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
    messages: list[Claimed], *, gateway: Gateway, now: datetime
) -> tuple[list[Any], list[Any]]:
    """Decides and renders each message: returns (ended, to send). A second recipient (a
    child's other guardian) gets a sibling message of its own."""
    facts = facts_for_patients(m.patient_id for m in messages)
    # Siblings are made only when a planned message is sent, so only one tried before (a
    # retry; `attempts` counts this try too) can have any.
    taken = _numbers_taken([m.pk for m in messages if m.parent_id is None and m.attempts > 1])
    today = timezone.localdate(now)
    sender, gateway_name = settings.SMS_SENDER, gateway.name
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
            message.end(Status.SUPPRESSED, Reason.NOT_APPLICABLE, now)
            ended.append(message)
            continue
        body = rules.render(
            message.kind,
            clinic_sms_name=message.sms_name,
            starts_at=message.contact_starts_at,
            link=checkin_link(message.kind, message.checkin_token),
        )
        segments = texts.segments(body)
        first, *others = free
        message.to, message.recipient_role = first.number, first.role
        message.sender, message.body, message.segments = sender, body, segments
        message.submitted_at = message.updated_at = now
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
                submitted_at=now,
                gateway=gateway_name,
                updated_at=now,
            )
            for other in others
        ]
    sending += Message.objects.bulk_create(siblings)
    return ended, sending


def _numbers_taken(parent_ids: list[int]) -> dict[int, set[str]]:
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


def checkin_link(kind: str, token: str | None) -> str:
    if kind != Kind.CHECKIN or not token:
        return ""
    return f"{settings.CHECKIN_BASE_URL}{token}"


def _apply_results(
    sending: Sequence[Any], results: Sequence[SendResult], *, now: datetime
) -> Counter[str]:
    """Sets each message's outcome from the gateway's answer (in memory)."""
    counts: Counter[str] = Counter()
    by_id = {r.message_id: r for r in results}
    for message in sending:
        result = by_id[message.pk]
        message.updated_at = now
        message.reason_detail = result.detail[:300]
        if result.accepted:
            message.status, message.sent_at = Status.SENT, now
            message.gateway_ref = result.gateway_ref
        elif result.transient:
            retry = rules.retry_at(attempts=message.attempts, now=now)
            if retry is None:
                message.status, message.reason = Status.FAILED, Reason.GATEWAY_UNAVAILABLE
            else:
                message.status, message.due_at = Status.SCHEDULED, retry
                message.claim_token, message.submitted_at = None, None
                counts["retry"] += 1
                continue
        else:
            message.status, message.reason = Status.FAILED, Reason.GATEWAY_REJECTED
        counts[str(message.status)] += 1
    return counts


# --- The loop -----------------------------------------------------------------------------
def dispatch_tick(*, hand_off: Any, max_batches: int | None = None) -> Counter[str]:
    """One beat: recover stale claims, then claim due messages in batches and give each
    claim to `hand_off(ids, token)` (a Celery task, or a direct call)."""
    counts = messages_recover_stale(now=timezone.now())
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
    """Claims and sends every due message in this process (manage.py dispatch_reminders)."""
    gateway = get_gateway()
    if not gateway.transactional:
        return dispatch_tick(
            hand_off=lambda ids, token: messages_dispatch(ids=ids, claim_token=token)
        )
    counts = messages_recover_stale(now=timezone.now(), gateway=gateway)
    while True:
        batch = messages_claim_and_send(gateway=gateway, limit=settings.DISPATCH_BATCH_SIZE)
        if not batch:
            break
        counts += batch
        counts["batches"] += 1
    return counts


# --- Delivery reports --------------------------------------------------------------------------
@transaction.atomic
def delivery_report_apply(update: DeliveryUpdate) -> bool:
    """Records a gateway's status report for one SMS. Idempotent: a report already seen
    changes nothing. Returns whether it was new."""
    message = Message.objects.select_for_update().filter(pk=update.message_id).first()
    if message is None:
        return False
    _, created = DeliveryReport.objects.get_or_create(
        message=message,
        status=update.status,
        defaults={
            "gateway_ref": update.gateway_ref,
            "reported_at": update.reported_at,
            "raw": update.raw,
        },
    )
    if not created:
        return False
    now = timezone.now()
    if update.status == "delivered":
        message.status, message.reason = Status.DELIVERED, ""
        message.delivered_at = update.reported_at or now
    elif update.status == "failed" and message.status != Status.DELIVERED:
        message.status, message.reason = Status.FAILED, Reason.DELIVERY_FAILED
    elif update.status == "sent" and message.status in (Status.SENDING, Status.FAILED):
        # A send whose outcome we lost (outcome_unknown) did go out.
        message.status, message.reason = Status.SENT, ""
        message.sent_at = message.sent_at or now
    if update.gateway_ref and not message.gateway_ref:
        message.gateway_ref = update.gateway_ref
    message.save(
        update_fields=["status", "reason", "delivered_at", "sent_at", "gateway_ref", "updated_at"]
    )
    return True


# --- The beat schedule ---------------------------------------------------------------------------


def beat_schedule_install() -> None:
    """The dispatch tick as a django-celery-beat interval of 30 s (never a crontab). The
    migration installs it; this restores it (idempotent) if someone removed it."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every_30s, _ = IntervalSchedule.objects.get_or_create(every=30, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.update_or_create(
        name=TICK_TASK_NAME,
        defaults={
            "task": "reminders.tasks.tick",
            "interval": every_30s,
            "enabled": True,
            "expire_seconds": TICK_EXPIRES,
        },
    )


# --- Self check-in (SPEC 3.5) ---------------------------------------------------------------
CHECKIN_OPENS = timedelta(hours=2)
CHECKIN_CLOSES = timedelta(minutes=5)


def checkin_state(message: Message, *, now: datetime) -> str:
    """ "open", "used", "not_yet", "closed" (too late, or the contact is no longer booked)."""
    appointment = message.appointment
    if hasattr(message, "check_in"):
        return "used"
    if appointment.status == AppointmentStatus.ARRIVED:
        return "used"
    if appointment.status != AppointmentStatus.BOOKED or appointment.starts_at != message.starts_at:
        return "closed"
    if now < appointment.starts_at - CHECKIN_OPENS:
        return "not_yet"
    if now > appointment.starts_at + CHECKIN_CLOSES:
        return "closed"
    return "open"


@transaction.atomic
def checkin_register(*, message: Message) -> tuple[CheckIn, PaymentResult]:
    """Registers the arrival from the check-in link (the desk sees it at once) and starts
    the payment. Refused unless the link is open; a second use is refused."""
    message = Message.objects.select_for_update().select_related("appointment").get(pk=message.pk)
    state = checkin_state(message, now=timezone.now())
    if state != "open":
        raise DomainError(f"Incheckningen är inte öppen ({state}).", code=f"checkin_{state}")
    appointment_set_status(
        appointment=message.appointment, status=AppointmentStatus.ARRIVED, via="self_checkin"
    )
    backend = payment_backend()
    payment = backend.start(message.appointment)
    check_in = CheckIn.objects.create(
        message=message,
        checked_in_at=timezone.now(),
        payment_backend=backend.name,
        payment_status=payment.status,
        payment_reference=payment.reference,
    )
    return check_in, payment
