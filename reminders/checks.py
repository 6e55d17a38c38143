"""System checks of the sending settings (operations 1): a wrong value stops start-up with a
clear message instead of failing at the first SMS."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.core.checks import Error

from .gateways import GATEWAYS, gateway_names
from .gateways.signing import webhook_secret_problem


def sending_settings(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    errors = []
    if not re.fullmatch(r"[A-Za-z0-9]{1,11}", settings.SMS_SENDER):
        errors.append(
            Error(
                f"SMS_SENDER={settings.SMS_SENDER!r}: the sender must be 1–11 letters or digits.",
                id="reminders.E001",
            )
        )
    names = gateway_names()
    unknown = [n for n in names if n not in GATEWAYS and "." not in n]
    if unknown or not names:
        errors.append(
            Error(
                f"SMS_GATEWAY={settings.SMS_GATEWAY!r}: "
                f"use {', '.join(GATEWAYS)} or a dotted path, with fallbacks after a comma.",
                id="reminders.E002",
            )
        )
    elif "outbox" in names and len(names) > 1:
        errors.append(
            Error(
                f"SMS_GATEWAY={settings.SMS_GATEWAY!r}: the outbox sends nothing, so it "
                "cannot be a fallback nor have one.",
                id="reminders.E003",
            )
        )
    problem = webhook_secret_problem()
    if problem:
        errors.append(Error(problem, id="reminders.E005"))
    for name, minimum in (("SMS_MAX_IN_FLIGHT", 1), ("SMS_RATE_LIMIT", 1)):
        if getattr(settings, name) < minimum:
            errors.append(Error(f"{name} must be at least {minimum}.", id="reminders.E004"))
    return errors


def outbox_in_production(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """`check --deploy` (issue 29.10): the outbox gateway sends nothing and its API gives out
    what it "sent"; outside DEBUG it belongs only on a test installation, which says so
    with TEST_INSTALLATION. The server itself still starts with it (test installations)."""
    if settings.DEBUG or settings.TEST_INSTALLATION or "outbox" not in gateway_names():
        return []
    return [
        Error(
            "SMS_GATEWAY=outbox with DEBUG off: the outbox sends no SMS and its API gives "
            "out what it stored.",
            hint="Set SMS_GATEWAY to the region's gateway, or TEST_INSTALLATION=true on a "
            "test installation.",
            id="reminders.E006",
        )
    ]
