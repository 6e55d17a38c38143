"""The reports read the other apps' tables; the only thing reporting keeps itself is the
baseline they are compared with."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from bookings.models import Clinic


class NoShowBaseline(models.Model):
    """A clinic's no-show rate before reminders (2023), entered by the regional admins."""

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="+")
    year = models.PositiveSmallIntegerField(_("år"), default=2023)
    rate = models.DecimalField(
        _("andel uteblivna"), max_digits=5, decimal_places=4, help_text=_("T.ex. 0,0850 för 8,5 %.")
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["clinic", "year"], name="baseline_once_per_year")
        ]
        verbose_name = _("jämförelsevärde uteblivna besök")
        verbose_name_plural = _("jämförelsevärden uteblivna besök")

    def __str__(self) -> str:
        return f"{self.clinic} {self.year}: {self.rate:.2%}"


class KeptCounts(models.Model):
    """The reports' per-clinic counts as last computed (reporting/kept.py): the cache's
    entries, kept in the database too, so a restarted cache is filled again from here
    instead of by counting a year of contacts while a manager waits."""

    key = models.CharField(max_length=100, primary_key=True)
    value = models.JSONField()
    computed_at = models.DateTimeField()

    class Meta:
        verbose_name = _("sparade rapportsiffror")
        verbose_name_plural = _("sparade rapportsiffror")

    def __str__(self) -> str:
        return self.key
