"""What the connector keeps between polls: one row per server (today one, `default`)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class FhirPullState(models.Model):
    """The poll's watermark and its health, read by the next poll and by /metrics. Holds no
    patient data."""

    name = models.CharField(max_length=40, unique=True, default="default")
    # The server's time at the start of the last poll that was applied in full, less a
    # second: the next poll asks for what changed after it (`_lastUpdated=gt…`).
    watermark = models.DateTimeField(null=True, blank=True)
    # The end of the window the last applied poll covered: the next one also lists the
    # contacts that have since come inside the window, changed or not.
    window_end = models.DateTimeField(null=True, blank=True)
    last_full_at = models.DateTimeField(null=True, blank=True)  # last full listing applied
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=200, blank=True, default="")
    failures_in_row = models.PositiveIntegerField(default=0)
    # Counters since the row was made (Prometheus counters read from here).
    polls_total = models.PositiveBigIntegerField(default=0)
    errors_total = models.PositiveBigIntegerField(default=0)
    pages_total = models.PositiveBigIntegerField(default=0)
    applied_total = models.PositiveBigIntegerField(default=0)
    rejected_total = models.PositiveBigIntegerField(default=0)
    # One poll at a time: a poll holds the lease until it ends (or the lease runs out).
    lease_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("FHIR-hämtningens läge")
        verbose_name_plural = _("FHIR-hämtningens läge")

    def __str__(self) -> str:
        return f"FHIR pull {self.name} (watermark {self.watermark})"
