"""Form fields every app's pages are built from (core.forms would read as a page room)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .serializers import EARLIEST, LATEST


class CareDateField(forms.DateField):
    """A date in this century, as the API's times are (core.serializers): year 1 or 9999
    is a typo, and at the calendar's edges a day's start or end in Stockholm's time has no
    UTC time that a database can be asked for."""

    default_error_messages = {
        "out_of_range": _("Ange ett datum mellan %(first)s och %(last)s."),
    }

    def to_python(self, value: Any) -> date | None:
        day: date | None = super().to_python(value)
        first, last = EARLIEST.date(), LATEST.date() - timedelta(days=1)
        if day is not None and not first <= day <= last:
            raise forms.ValidationError(
                self.error_messages["out_of_range"],
                code="out_of_range",
                params={"first": first.isoformat(), "last": last.isoformat()},
            )
        return day
