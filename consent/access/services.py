"""Writes to the access log (PDL)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bookings.models import Clinic, Patient

from .models import AccessLog

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


def access_log_record(
    *,
    actor: AbstractBaseUser,
    clinic: Clinic | None,
    action: str,
    patient: Patient | None = None,
    searched_for: str = "",
) -> None:
    """Records that a user looked a patient up or viewed their page; a search that found
    nobody is recorded with what was searched for."""
    AccessLog.objects.create(  # type: ignore[misc]
        user=actor, clinic=clinic, patient=patient, action=action, searched_for=searched_for[:20]
    )
