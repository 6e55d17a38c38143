"""Messages: every SMS the system plans, sends or decides not to send.

    scheduled ──claim──▶ sending ──gateway accepted──▶ sent ──report──▶ delivered
        │  ▲                │  │                      └──report──▶ failed
        │  └─not sent───────┘  ├──refused by gateway──▶ failed (gateway_refused)
        │     (backoff; failed ├──nobody may receive──▶ suppressed (reason, rules 3.1)
        │      gateway_unavail-├──contact started────▶ expired
        │      able at the end)└──outcome unknown──▶ sending, in doubt (no claim): a
        │                          report or the gateway's records settle it, else
        │                          failed (outcome_unknown) — never sent blindly again
        └──contact cancelled or moved──▶ cancelled

`sent`, `delivered`, `failed`, `cancelled`, `suppressed` and `expired` are final (a
delivery report may still turn `sent` into `delivered` or `failed`). A message that is not
sent records why in `reason`. The database is the queue: `scheduled` rows whose `due_at`
has passed are claimed with SELECT … FOR UPDATE SKIP LOCKED.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from bookings.models import Appointment, Clinic
from consent.reasons import Reason as WhoReason


class Kind(models.TextChoices):
    REMINDER = "reminder", _("Påminnelse")  # 48 h before the start
    CHECKIN = "checkin", _("Självincheckning")  # 2 h before a visit at a self check-in clinic


class Status(models.TextChoices):
    SCHEDULED = "scheduled", _("Planerad")  # waits for due_at
    SENDING = "sending", _("Skickas")  # claimed by a dispatcher
    SENT = "sent", _("Skickad")  # accepted by the gateway
    DELIVERED = "delivered", _("Levererad")  # the operator confirmed delivery
    FAILED = "failed", _("Misslyckad")  # refused by the gateway or the operator
    CANCELLED = "cancelled", _("Avbruten")  # the contact was cancelled or moved
    SUPPRESSED = "suppressed", _("Skickas inte")  # nobody may receive it (reason)
    EXPIRED = "expired", _("Förfallen")  # the contact had started


FINAL = (
    Status.SENT,
    Status.DELIVERED,
    Status.FAILED,
    Status.CANCELLED,
    Status.SUPPRESSED,
    Status.EXPIRED,
)


class SendReason(models.TextChoices):
    """Why a message ended without reaching a phone, besides the who-receives reasons of
    rules 3.1 (consent.reasons.Reason), which suppressed messages record."""

    APPOINTMENT_CANCELLED = "appointment_cancelled", _("Kontakten avbokades")
    APPOINTMENT_MOVED = "appointment_moved", _("Kontakten flyttades")
    APPOINTMENT_CLOSED = "appointment_closed", _("Kontakten är avslutad")
    # The booking system withdrew the contact as entered in error (FHIR entered-in-error).
    APPOINTMENT_WITHDRAWN = "appointment_withdrawn", _("Bokningen var felregistrerad")
    # The contact is no longer a booking (proposed, pending or on a waiting list).
    APPOINTMENT_NOT_BOOKED = "appointment_not_booked", _("Kontakten är inte bokad")
    NOT_APPLICABLE = "not_applicable", _("Gäller inte längre kontakten")
    CONTACT_STARTED = "contact_started", _("Kontakten hade redan börjat")
    GATEWAY_REFUSED = "gateway_refused", _("Sms-tjänsten avvisade meddelandet")
    GATEWAY_UNAVAILABLE = "gateway_unavailable", _("Sms-tjänsten svarade inte")
    OUTCOME_UNKNOWN = "outcome_unknown", _("Okänt om sms:et nådde fram till sms-tjänsten")
    DELIVERY_FAILED = "delivery_failed", _("Operatören kunde inte leverera")


# Every reason a message records: who may not receive it, then why else it ended.
REASON_CHOICES = [*WhoReason.choices, *SendReason.choices]


# The ends of an SMS that put the patient on the failed-SMS worklist: failed for the
# number, or not sent because the number is not a mobile number (reminders/followup.py).
WORKLIST_ENDS = Q(
    status=Status.FAILED, reason__in=[SendReason.DELIVERY_FAILED, SendReason.GATEWAY_REFUSED]
) | Q(status=Status.SUPPRESSED, reason=WhoReason.NOT_A_MOBILE_NUMBER)


class Message(models.Model):
    appointment = models.ForeignKey(Appointment, on_delete=models.PROTECT, related_name="messages")
    kind = models.CharField(_("slag"), max_length=8, choices=Kind.choices)
    # Each (re)planning of a contact is a new generation; a move starts the next one.
    generation = models.PositiveIntegerField(_("omgång"), default=1)
    # The start the message is about: if the contact moved since, the message is void.
    starts_at = models.DateTimeField(_("kontaktens starttid"))
    due_at = models.DateTimeField(_("ska skickas"))
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.SCHEDULED
    )
    reason = models.CharField(
        _("varför inte"), max_length=32, choices=REASON_CHOICES, blank=True, default=""
    )
    reason_detail = models.CharField(_("detaljer"), max_length=300, blank=True, default="")
    # A second recipient (a child's other guardian) gets a sibling of the planned message.
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="siblings"
    )
    to = models.CharField(_("till nummer"), max_length=16, blank=True, default="")
    recipient_role = models.CharField(_("mottagare"), max_length=8, blank=True, default="")
    sender = models.CharField(_("avsändare"), max_length=11, blank=True, default="")
    body = models.CharField(_("text"), max_length=320, blank=True, default="")
    segments = models.PositiveSmallIntegerField(_("antal sms-delar"), null=True, blank=True)
    checkin_token = models.CharField(max_length=32, null=True, blank=True, unique=True)
    attempts = models.PositiveSmallIntegerField(_("försök"), default=0)
    claim_token = models.UUIDField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(
        _("lämnat till sms-tjänsten"), null=True, blank=True
    )  # handed to the gateway
    sent_at = models.DateTimeField(_("skickat"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("levererat"), null=True, blank=True)
    gateway = models.CharField(_("sms-tjänst"), max_length=32, blank=True, default="")
    gateway_ref = models.CharField(
        _("sms-tjänstens referens"), max_length=100, blank=True, default=""
    )
    created_at = models.DateTimeField(_("skapat"), db_default=Now())
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("meddelande")
        verbose_name_plural = _("meddelanden")
        indexes = [
            # The tick's only question, "anything due?", reads this small partial index.
            # In the claim's order (due_at, id): a backlog of due messages is read a batch
            # at a time, not sorted whole for every batch.
            models.Index(
                fields=["due_at", "id"], name="message_due_idx", condition=Q(status="scheduled")
            ),
            models.Index(
                fields=["claimed_at"], name="message_claimed_idx", condition=Q(status="sending")
            ),
            # The last day's SMS by status for /metrics, and the reports' months.
            models.Index(fields=["due_at"], name="message_due_at_idx"),
            # The failed-SMS worklists' few rows (reminders/followup.py), by due time: the
            # dashboard counts every clinic's without reading the month's other SMS.
            models.Index(fields=["due_at"], name="message_worklist_idx", condition=WORKLIST_ENDS),
        ]
        constraints = [
            # One planned message per contact, kind and generation...
            models.UniqueConstraint(
                fields=["appointment", "kind", "generation"],
                condition=Q(parent__isnull=True),
                name="message_one_plan",
            ),
            # ...and never two SMS of one plan to the same number.
            models.UniqueConstraint(
                fields=["appointment", "kind", "generation", "to"],
                condition=~Q(to=""),
                name="message_once_per_number",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.get_kind_display()} {self.appointment.external_id}: {self.get_status_display()}"
        )


class DeliveryReport(models.Model):
    """The status history of one SMS, as the gateway reported it. Idempotent: the same
    report twice is stored once."""

    message = models.ForeignKey(Message, on_delete=models.PROTECT, related_name="reports")
    status = models.CharField(max_length=16)
    gateway_ref = models.CharField(max_length=100, blank=True, default="")
    reported_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(db_default=Now())
    raw = models.JSONField(default=dict)

    class Meta:
        ordering = ["received_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["message", "status"], name="delivery_report_once")
        ]

    def __str__(self) -> str:
        return f"{self.message_id}: {self.status}"


class CheckIn(models.Model):
    """A patient's self check-in from the link in the check-in SMS (rules 3.5)."""

    message = models.OneToOneField(Message, on_delete=models.PROTECT, related_name="check_in")
    checked_in_at = models.DateTimeField(db_default=Now())
    payment_backend = models.CharField(max_length=100)
    payment_status = models.CharField(max_length=32)  # e.g. "pay_at_desk", "paid"
    payment_reference = models.CharField(max_length=100, blank=True, default="")

    class Meta:
        verbose_name = _("självincheckning")
        verbose_name_plural = _("självincheckningar")

    def __str__(self) -> str:
        return f"{self.message_id} {self.checked_in_at:%Y-%m-%d %H:%M}"


class FailedSmsFollowUp(models.Model):
    """A failed SMS (or a number that cannot take SMS) that reception followed up: asked
    the patient to fix their number in 1177 (rules 3.5b). The worklist shows a patient
    until their last such message has one; who did it and where is kept."""

    message = models.OneToOneField(Message, on_delete=models.PROTECT, related_name="follow_up")
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    handled_at = models.DateTimeField(db_default=Now())

    class Meta:
        verbose_name = _("uppföljning av misslyckat sms")
        verbose_name_plural = _("uppföljningar av misslyckade sms")

    def __str__(self) -> str:
        return f"{self.message_id} {self.handled_at:%Y-%m-%d}"


class Heartbeat(models.Model):
    """The last time a periodic job ran, by name (the beat's tick): `/readyz` and the
    metrics read it, whichever process asks."""

    name = models.CharField(max_length=40, primary_key=True)
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} {self.at:%Y-%m-%d %H:%M:%S}"


class PaymentStatus(models.TextChoices):
    """A payment request at Swish (rules 3.5c). `started` and `created` are open; the
    others are final (a `no_answer` is read back once more by the tick, and Swish's word
    wins)."""

    STARTED = "started", _("Skapas")  # our row, before Swish answered the request
    CREATED = "created", _("Betalning pågår")  # Swish has it; the patient is in the app
    PAID = "paid", _("Betald")
    DECLINED = "declined", _("Avböjd av betalaren")
    ERROR = "error", _("Misslyckades")
    CANCELLED = "cancelled", _("Avbruten")
    NO_ANSWER = "no_answer", _("Inget svar från Swish")


PAYMENT_OPEN = (PaymentStatus.STARTED, PaymentStatus.CREATED)


class RefundStatus(models.TextChoices):
    NONE = "", _("Ingen återbetalning")
    DUE = "due", _("Ska återbetalas")  # decided; Swish has not accepted it yet
    REQUESTED = "requested", _("Återbetalning begärd")  # Swish accepted it
    REFUNDED = "refunded", _("Återbetald")
    FAILED = "failed", _("Återbetalningen misslyckades")  # Swish refused: by hand


class Payment(models.Model):
    """One payment request at Swish for a self check-in, under our own instruction id:
    a new request only when the last one ended unpaid (never two open at once), and a
    paid one refunded at most once, under its own refund instruction id."""

    check_in = models.ForeignKey(CheckIn, on_delete=models.PROTECT, related_name="payments")
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    method = models.CharField(max_length=8, default="swish")
    instruction_id = models.CharField(max_length=32, unique=True)
    payee_alias = models.CharField(max_length=11)
    amount = models.DecimalField(max_digits=8, decimal_places=2)
    status = models.CharField(
        max_length=12, choices=PaymentStatus.choices, default=PaymentStatus.STARTED
    )
    reason = models.CharField(max_length=64, blank=True, default="")
    requested_at = models.DateTimeField(null=True, blank=True)  # the PUT was sent
    token = models.CharField(max_length=64, blank=True, default="")  # opens the Swish app
    payment_reference = models.CharField(max_length=64, blank=True, default="")
    payer_alias = models.CharField(max_length=16, blank=True, default="")  # personal data
    paid_at = models.DateTimeField(null=True, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)  # last read back from Swish
    ended_at = models.DateTimeField(null=True, blank=True)
    refund_status = models.CharField(
        max_length=12, choices=RefundStatus.choices, blank=True, default=RefundStatus.NONE
    )
    refund_id = models.CharField(max_length=32, blank=True, default="")
    refund_reason = models.CharField(max_length=64, blank=True, default="")
    refund_attempts = models.PositiveSmallIntegerField(default=0)
    refunded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("betalning")
        verbose_name_plural = _("betalningar")
        indexes = [models.Index(fields=["clinic", "created_at"], name="payment_clinic_day_idx")]
        constraints = [
            # Two taps, two tabs or a retry never make a second open request.
            models.UniqueConstraint(
                fields=["check_in"],
                condition=Q(status__in=["started", "created"]),
                name="payment_one_open",
            ),
            models.UniqueConstraint(
                fields=["refund_id"], condition=~Q(refund_id=""), name="payment_refund_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.instruction_id} {self.status}"
