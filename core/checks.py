"""System checks of the plumbing's settings."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Warning


def shared_cache(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    """`check --deploy`: in production the rate limits (guessing check-in links, SMS a
    second per gateway) and the pauses they cause live in the cache. The default cache is
    each process's own memory: with four web processes a limit is four times as high."""
    backend = settings.CACHES["default"]["BACKEND"]
    if settings.DEBUG or not backend.endswith(".LocMemCache"):
        return []
    return [
        Warning(
            "CACHE_URL is not set: rate limits and the pauses they cause are counted in "
            "each process on its own, not once for all of them.",
            hint="Point CACHE_URL at the Redis every process uses, e.g. redis://host:6379/1.",
            id="core.W001",
        )
    ]


def password_second_factor(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """`check --deploy`: outside DEBUG the break-glass password logins of regional admins
    and superusers need a one-time code; PASSWORD_LOGIN_TOTP off is for test installations
    only (TEST_INSTALLATION)."""
    if settings.DEBUG or settings.PASSWORD_LOGIN_TOTP or settings.TEST_INSTALLATION:
        return []
    return [
        Error(
            "PASSWORD_LOGIN_TOTP is off with DEBUG off: a regional admin's or superuser's "
            "password alone opens the admin.",
            hint="Turn PASSWORD_LOGIN_TOTP on (and enrol each admin with manage.py "
            "totp_enrol), or set TEST_INSTALLATION=true on a test installation.",
            id="core.E002",
        )
    ]
