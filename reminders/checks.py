"""System checks of the sending settings (operations 1): a wrong value stops start-up with a
clear message instead of failing at the first SMS."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.core.checks import Error

from .gateways import GATEWAYS, gateway_class, gateway_names


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


WEBHOOK_SECRET_MIN_LENGTH = 32


def webhook_secret_problem() -> str:
    """The one rule for SMS_WEBHOOK_SECRET (rules 3.10), which the start-up, the system
    check (E005) and the signing of delivery-report URLs all ask: outside DEBUG, where a
    gateway posts delivery reports to URLs we sign, the key must be set, be 32 characters
    or more, and not be SECRET_KEY (one leaked key must not forge both sessions and
    delivery reports). What is wrong, in a sentence; empty when nothing is."""
    if settings.DEBUG:
        return ""
    reporting = [name for name in gateway_names() if _reports_delivery(name)]
    if not reporting:
        return ""
    secret = str(settings.SMS_WEBHOOK_SECRET)
    if not secret:
        wrong = "must be set"
    elif len(secret) < WEBHOOK_SECRET_MIN_LENGTH:
        wrong = f"must be {WEBHOOK_SECRET_MIN_LENGTH} characters or more"
    elif secret == settings.SECRET_KEY:
        wrong = "must be a key of its own, not SECRET_KEY"
    else:
        return ""
    return (
        f"SMS_WEBHOOK_SECRET {wrong}: {', '.join(reporting)} posts delivery reports to URLs "
        "it signs, and DEBUG is off. Make one with "
        "python -c 'import secrets; print(secrets.token_urlsafe(32))'."
    )


def _reports_delivery(name: str) -> bool:
    try:
        return gateway_class(name).reports_delivery
    except ImportError:  # an unknown gateway: E002 names it
        return False
