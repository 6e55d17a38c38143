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
    NOT_APPLICABLE = "not_applicable", _("Gäller inte längre kontakten")
    CONTACT_STARTED = "contact_started", _("Kontakten hade redan börjat")
    GATEWAY_REFUSED = "gateway_refused", _("Sms-tjänsten avvisade meddelandet")
    GATEWAY_UNAVAILABLE = "gateway_unavailable", _("Sms-tjänsten svarade inte")
    OUTCOME_UNKNOWN = "outcome_unknown", _("Okänt om sms:et nådde fram till sms-tjänsten")
    DELIVERY_FAILED = "delivery_failed", _("Operatören kunde inte leverera")


# Every reason a message records: who may not receive it, then why else it ended.
REASON_CHOICES = [*WhoReason.choices, *SendReason.choices]


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
