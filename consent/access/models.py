"""The auditor's systematic checks of the access log (HSLF-FS 2016:40, chapter 4), and how
the auditor's pages sort the log's actions. The log itself is core's
(`core.access_log.models.AccessLog`)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _

from bookings.models import Clinic
from core.access_log.models import AccessLog
from core.append_only import AppendOnlyModel

# Reads that list many patients at once: a report download logs one row per resident.
LISTINGS = (
    AccessLog.Action.CASE_LIST,
    AccessLog.Action.DESK_LIST,
    AccessLog.Action.REPORT_LIST,
    AccessLog.Action.REPORT_DOWNLOAD,
    AccessLog.Action.ADMIN_LIST,
    AccessLog.Action.WORKLIST,
)
# The auditors' own reads (of the log, its extracts and checks): kept apart on their page.
AUDIT_READS = (
    AccessLog.Action.AUDIT_LIST,
    AccessLog.Action.AUDIT_DOWNLOAD,
    AccessLog.Action.API_ACCESS_LOG,
    AccessLog.Action.AUDIT_EXTRACT,
    AccessLog.Action.AUDIT_CHECK,
)


class AccessCheck(AppendOnlyModel):
    """A systematic check (HSLF-FS 2016:40, chapter 4): a random sample of the reads made
    at one unit in a period, drawn by an auditor. Reproducible: the reads drawn from are
    those of the unit and period up to `last_entry_id` (the log only grows), taken in id
    order, and `seed` picks the same ones again (`rules.sample_positions`). Each read drawn
    is an `AccessCheckItem`; its reviews say whether it was in order."""

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    date_from = models.DateField()
    date_to = models.DateField()
    size = models.PositiveIntegerField()  # asked for; fewer when the unit read less
    seed = models.BigIntegerField()
    last_entry_id = models.BigIntegerField()  # the newest log entry when drawn
    population = models.PositiveIntegerField()  # the reads it was drawn from
    drawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["-date_from", "clinic__name", "-id"]
        verbose_name = _("stickprovskontroll")
        verbose_name_plural = _("stickprovskontroller")

    def __str__(self) -> str:
        return f"{self.clinic_id} {self.date_from}–{self.date_to}"


class AccessCheckItem(AppendOnlyModel):
    """One read drawn into a check, in the order drawn."""

    check_run = models.ForeignKey(AccessCheck, on_delete=models.PROTECT, related_name="items")
    entry = models.ForeignKey(AccessLog, on_delete=models.PROTECT, related_name="+")
    position = models.PositiveIntegerField()

    class Meta:
        ordering = ["check_run", "position"]
        constraints = [
            models.UniqueConstraint(fields=["check_run", "entry"], name="access_check_item_once")
        ]

    def __str__(self) -> str:
        return f"{self.check_run_id}#{self.position}"


class ReviewOutcome(models.TextChoices):
    OK = "ok", _("I sin ordning")  # the read had a reason in the patient's care
    DEVIATION = "deviation", _("Avvikelse")  # no reason found: the note says what follows


class AccessCheckReview(AppendOnlyModel):
    """An auditor's judgement of one read drawn. Append-only: a second review of the same
    read does not change the first, it stands after it (the newest is the read's state)."""

    item = models.ForeignKey(AccessCheckItem, on_delete=models.PROTECT, related_name="reviews")
    outcome = models.CharField(max_length=12, choices=ReviewOutcome.choices)
    note = models.TextField(blank=True, default="")
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["item", "-created_at", "-id"]
        verbose_name = _("granskning av läsning")
        verbose_name_plural = _("granskningar av läsningar")

    def __str__(self) -> str:
        return f"{self.item_id}: {self.outcome}"
