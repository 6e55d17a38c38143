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
