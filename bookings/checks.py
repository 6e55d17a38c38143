"""System checks of the bookings app's settings (operations 1)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error

from .models import JSON_CONTACT_TYPES


def fhir_settings(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """FHIR_CONTACT_TYPE_CODES maps `system|code` to visit, phone or video only."""
    wrong = {
        code: kind
        for code, kind in settings.FHIR_CONTACT_TYPE_CODES.items()
        if kind not in JSON_CONTACT_TYPES or "|" not in code
    }
    if wrong:
        return [
            Error(
                f"FHIR_CONTACT_TYPE_CODES: {wrong!r}: write system|code=visit, phone or video, "
                "separated by ;.",
                id="bookings.E001",
            )
        ]
    return []
