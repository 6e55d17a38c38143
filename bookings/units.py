"""The units staff work at: the clinics a user may see, and the one they work at right
now (chosen in the header), which scopes the desk, the case queue and the access log."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models
from django.http import HttpRequest

from core.staff import Role, has_role

from .models import Clinic

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
    """The clinic the user works at right now (chosen in the header; default the first)."""
    allowed = clinics_for(request.user)
    chosen = request.session.get("clinic_id")
    clinic = allowed.filter(pk=chosen).first() if chosen else None
    return clinic or request.user.clinics.order_by("name").first()  # type: ignore[union-attr]
