"""Delivery-report URLs signed with SMS_WEBHOOK_SECRET (rules 3.10), and the one rule for
that key, which the start-up, the system check (reminders.E005) and the signing itself ask."""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from . import gateway_class, gateway_names

WEBHOOK_SECRET_MIN_LENGTH = 32
# As Django's check of SECRET_KEY (security.W009): 32 copies of one letter is no key.
WEBHOOK_SECRET_MIN_UNIQUE_CHARACTERS = 5


def webhook_secret_problem() -> str:
    """The one rule for SMS_WEBHOOK_SECRET (rules 3.10), which the start-up, the system
    check (E005) and the signing of delivery-report URLs all ask: outside DEBUG, where a
    gateway posts delivery reports to URLs we sign, the key must be set, be 32 characters
    or more of at least 5 different ones (as Django asks of SECRET_KEY), and not be
    SECRET_KEY (one leaked key must not forge both sessions and delivery reports). What is
    wrong, in a sentence; empty when nothing is."""
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
    elif len(set(secret)) < WEBHOOK_SECRET_MIN_UNIQUE_CHARACTERS:
        wrong = f"must have at least {WEBHOOK_SECRET_MIN_UNIQUE_CHARACTERS} different characters"
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


def webhook_secret() -> str:
    """The key that signs delivery-report URLs: SMS_WEBHOOK_SECRET, as the settings check
    requires it (rules 3.10); in DEBUG, unset, the session key stands in."""
    problem = webhook_secret_problem()
    if problem:
        raise ImproperlyConfigured(problem)
    return str(settings.SMS_WEBHOOK_SECRET or settings.SECRET_KEY)


def webhook_token(gateway: str, message_id: int) -> str:
    """Authenticates a delivery-report URL for one message and one gateway (an HMAC)."""
    secret = webhook_secret().encode()
    return hmac.new(secret, f"dlr:{gateway}:{message_id}".encode(), hashlib.sha256).hexdigest()[:32]


def webhook_token_ok(gateway: str, message_id: int, token: str) -> bool:
    return hmac.compare_digest(webhook_token(gateway, message_id), token or "")
