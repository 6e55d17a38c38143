"""System checks of the sending settings (SPEC 5.4): a wrong value stops start-up with a
clear message instead of failing at the first SMS."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.core.checks import Error

from .gateways.base import GATEWAYS


def sending_settings(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    errors = []
    if not re.fullmatch(r"[A-Za-z0-9]{1,11}", settings.SMS_SENDER):
        errors.append(
            Error(
                f"SMS_SENDER={settings.SMS_SENDER!r}: the sender must be 1–11 letters or digits.",
                id="reminders.E001",
            )
        )
    if settings.SMS_GATEWAY not in GATEWAYS and "." not in settings.SMS_GATEWAY:
        errors.append(
            Error(
                f"SMS_GATEWAY={settings.SMS_GATEWAY!r}: "
                f"use {', '.join(GATEWAYS)} or a dotted path.",
                id="reminders.E002",
            )
        )
    return errors
