"""System checks of the consent settings (operations 1)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error

# HSLF-FS 2016:40 and the region's archive rules: the access log is kept at least this long.
ACCESS_LOG_MINIMUM_YEARS = 5

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


def audit_settings(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """The auditor's alert settings must parse (else the alerts page could not open)."""
    from .access.rules import parse_opening_hours

    errors = []
    try:
        parse_opening_hours(settings.AUDIT_OPENING_HOURS, settings.AUDIT_OPENING_DAYS)
    except ValueError:
        errors.append(
            Error(
                f"AUDIT_OPENING_HOURS={settings.AUDIT_OPENING_HOURS!r} or AUDIT_OPENING_DAYS="
                f"{settings.AUDIT_OPENING_DAYS!r} cannot be read.",
                hint='Write the hours as "07:00-18:00" and the days as ISO weekdays, "1-5".',
                id="consent.E002",
            )
        )
    if settings.AUDIT_ALERT_READS_PER_HOUR < 1:
        errors.append(Error("AUDIT_ALERT_READS_PER_HOUR must be 1 or more.", id="consent.E003"))
    return errors


def access_log_retention(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """`check --deploy`: the access log is kept at least five years."""
    if settings.ACCESS_LOG_RETENTION_YEARS >= ACCESS_LOG_MINIMUM_YEARS:
        return []
    return [
        Error(
            f"ACCESS_LOG_RETENTION_YEARS={settings.ACCESS_LOG_RETENTION_YEARS}: the access log "
            f"is kept at least {ACCESS_LOG_MINIMUM_YEARS} years.",
            hint="Leave it unset (5) or set 5 or more.",
            id="consent.E004",
        )
    ]
