"""System checks of the consent settings (operations 1)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error

AUTO_APPLY_MODES = ("off", "self", "all")


def consent_settings(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    if settings.ESERVICE_AUTO_APPLY not in AUTO_APPLY_MODES:
        return [
            Error(
                f"ESERVICE_AUTO_APPLY={settings.ESERVICE_AUTO_APPLY!r}: use off, self or all.",
                id="consent.E001",
            )
        ]
    return []
