"""System checks of the product settings (SPEC 5.4): a wrong value stops start-up with a
clear message instead of failing at the first SMS."""

import re
from typing import Any

from django.conf import settings
from django.core.checks import Error, register


@register()
def product_settings(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    errors = []
    if not re.fullmatch(r"[A-Za-z0-9]{1,11}", settings.SMS_SENDER):
        errors.append(
            Error(
                f"SMS_SENDER={settings.SMS_SENDER!r}: the sender must be 1–11 letters or digits.",
                id="bookings.E001",
            )
        )
    if settings.ESERVICE_AUTO_APPLY not in ("off", "self", "all"):
        errors.append(
            Error(
                f"ESERVICE_AUTO_APPLY={settings.ESERVICE_AUTO_APPLY!r}: use off, self or all.",
                id="bookings.E002",
            )
        )
    if (
        settings.SMS_GATEWAY not in ("outbox", "console", "46elks")
        and "." not in settings.SMS_GATEWAY
    ):
        errors.append(
            Error(
                f"SMS_GATEWAY={settings.SMS_GATEWAY!r}: "
                "use outbox, console, 46elks or a dotted path.",
                id="bookings.E003",
            )
        )
    return errors
