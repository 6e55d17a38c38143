"""Each app checks its own settings at start-up (operations 1): a wrong value stops
`manage.py check` with a clear message, naming the app that owns the setting."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import checks


def errors() -> list[tuple[str, str]]:
    return [(e.id or "", e.msg) for e in checks.run_checks() if e.level >= checks.ERROR]


def test_the_default_settings_pass() -> None:
    assert errors() == []


@pytest.mark.parametrize(
    ("setting", "value", "expected"),
    [
        ("SMS_SENDER", "RegionHalland1", ("reminders.E001", "SMS_SENDER='RegionHalland1'")),
        ("SMS_SENDER", "Reg Halland", ("reminders.E001", "SMS_SENDER='Reg Halland'")),
        ("SMS_GATEWAY", "telia", ("reminders.E002", "SMS_GATEWAY='telia'")),
        ("SMS_GATEWAY", "46elks,telia", ("reminders.E002", "SMS_GATEWAY='46elks,telia'")),
        ("SMS_GATEWAY", "outbox,sinch", ("reminders.E003", "SMS_GATEWAY='outbox,sinch'")),
        ("SMS_MAX_IN_FLIGHT", 0, ("reminders.E004", "SMS_MAX_IN_FLIGHT must be at least 1")),
        ("ESERVICE_AUTO_APPLY", "yes", ("consent.E001", "ESERVICE_AUTO_APPLY='yes'")),
    ],
)
def test_a_wrong_setting_is_an_error_of_the_app_that_owns_it(
    settings: Any, setting: str, value: object, expected: tuple[str, str]
) -> None:
    setattr(settings, setting, value)
    [(check_id, message)] = errors()
    assert check_id == expected[0]
    assert message.startswith(expected[1])


@pytest.mark.parametrize(
    ("secret", "wrong"),
    [
        ("", "must be set"),
        ("w" * 31, "must be 32 characters or more"),
        ("w" * 32, "must have at least 5 different characters"),  # issue 29.11
        ("abcd" * 16, "must have at least 5 different characters"),
        (None, "must be a key of its own, not SECRET_KEY"),  # None: SECRET_KEY itself
    ],
)
def test_a_weak_webhook_secret_is_e005_and_nothing_is_signed_with_it(
    settings: Any, secret: str | None, wrong: str
) -> None:
    """One rule, asked by the check, by every process at start-up (tests/test_security.py)
    and by the signing of each delivery-report URL."""
    from django.core.exceptions import ImproperlyConfigured

    from reminders.gateways.signing import webhook_token

    settings.SMS_GATEWAY = "46elks"
    settings.SMS_WEBHOOK_SECRET = settings.SECRET_KEY if secret is None else secret
    [(check_id, message)] = errors()
    assert check_id == "reminders.E005"
    assert message.startswith(f"SMS_WEBHOOK_SECRET {wrong}: 46elks posts delivery reports")
    with pytest.raises(ImproperlyConfigured, match=wrong):
        webhook_token("46elks", 1)


def test_a_webhook_secret_of_its_own_of_32_characters_passes(settings: Any) -> None:
    settings.SMS_GATEWAY = "46elks,sinch"
    settings.SMS_WEBHOOK_SECRET = "abcde" * 6 + "ab"  # 32, five different
    assert errors() == []


def test_in_debug_or_without_delivery_reports_no_webhook_secret_is_needed(settings: Any) -> None:
    settings.SMS_WEBHOOK_SECRET = ""
    settings.SMS_GATEWAY = "outbox"
    assert errors() == []
    settings.SMS_GATEWAY, settings.DEBUG = "46elks", True
    assert errors() == []
