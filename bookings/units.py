"""The units staff work at: the clinics a user may see, and the one they work at right
now (chosen in the header), which scopes the desk, the case queue and the access log."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models
from django.http import HttpRequest

from core.staff import Role, has_role

from . import sql
from .models import Clinic, LastUnit

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser


def clinics_for(user: AbstractBaseUser | AnonymousUser) -> models.QuerySet[Clinic]:
    """The clinics whose queues, desks and reports a user may see: all for regional admins,
    else the clinics they work at."""
    if has_role(user, Role.REGIONAL_ADMIN):
        return Clinic.objects.all()
    if not user.is_authenticated:
        return Clinic.objects.none()
    return Clinic.objects.filter(staff__pk=user.pk)


def current_clinic(request: HttpRequest) -> Clinic | None:
    """The clinic the user works at right now: the one chosen in the header this session,
    else where they last worked (kept across logins), else their first clinic that asks
    the SMS question (a central reception, which does not ask, is rarely anyone's own
    desk), else their first clinic. Read once per request."""
    if hasattr(request, "_current_clinic"):
        cached: Clinic | None = request._current_clinic
        return cached
    chosen = request.session.get("clinic_id")
    clinic = _allowed_clinic(request.user, chosen) if chosen else None
    if clinic is None and request.user.is_authenticated:
        clinic = starting_unit(request.user)
        if clinic is not None:
            request.session["clinic_id"] = clinic.pk  # where this login started
    request._current_clinic = clinic  # type: ignore[attr-defined]
    return clinic


def _allowed_clinic(user: AbstractBaseUser | AnonymousUser, clinic_id: int) -> Clinic | None:
    """`clinics_for(user).filter(pk=clinic_id).first()`; for staff (not regional admins)
    one prepared statement on PostgreSQL: every back-office request reads it."""
    if has_role(user, Role.REGIONAL_ADMIN):
        return Clinic.objects.filter(pk=clinic_id).first()
    if not user.is_authenticated:
        return None
    return sql.staff_clinic(user.pk, clinic_id)


def starting_unit(
    user: AbstractBaseUser, allowed: models.QuerySet[Clinic] | None = None
) -> Clinic | None:
    """Where a user starts after logging in: the unit they last chose (if they may still
    work there), else their first clinic that asks the SMS question, else their first."""
    allowed = clinics_for(user) if allowed is None else allowed
    last = LastUnit.objects.filter(user_id=user.pk).values_list("clinic_id", flat=True).first()
    if last is not None:
        clinic = allowed.filter(pk=last).first()
        if clinic is not None:
            return clinic
    return Clinic.objects.filter(staff__pk=user.pk).order_by("-arrival_question", "name").first()
