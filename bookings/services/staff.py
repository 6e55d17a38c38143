"""Writes of the staff users: a user with one role at the clinics they work at, and the
HSA-id their login through the region's identity provider matches."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.contrib.auth.models import Group
from django.db import transaction

from core.models import StaffIdentity

from .. import identity
from ..models import Clinic, LastUnit

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AbstractUser


@transaction.atomic
def staff_user_upsert(
    *,
    username: str,
    password: str,
    role: str,
    clinics: Iterable[Clinic],
    hsa_id: str = "",
    **names: str,
) -> AbstractUser:
    """A staff user with exactly one role (a group) working at the given clinics, and the
    person's HSA-id that the login through the region's identity provider matches."""
    from django.contrib.auth import get_user_model

    User = get_user_model()
    user, _ = User.objects.get_or_create(username=username)
    user.set_password(password)
    for key, value in names.items():
        setattr(user, key, value)
    user.is_staff = role == "regional_admin"  # the admin site is the regional admins' tool
    user.save()
    user.groups.set([Group.objects.get(name=role)])
    user.clinics.set(list(clinics))
    if hsa_id:
        StaffIdentity.objects.update_or_create(
            user=user, defaults={"hsa_id": identity.parse_hsa_id(hsa_id)}
        )
    return user


def last_unit_remember(*, user: AbstractBaseUser, clinic: Clinic) -> None:
    """Where the user works now, kept for their next login (the header's picker)."""
    LastUnit.objects.update_or_create(user_id=user.pk, defaults={"clinic": clinic})


@transaction.atomic
def staff_user_set_up(
    *, user: AbstractBaseUser, role: Group, clinics: Iterable[Clinic], hsa_id: str = ""
) -> None:
    """A new staff user's one role, clinics and (if given) the HSA-id the region's login
    matches: what the admin's one-page form for a new user sets, in one transaction."""
    user.groups.set([role])  # type: ignore[attr-defined]
    staff_user_clinics_set(user=user, clinics=clinics)
    if hsa_id:
        StaffIdentity.objects.create(user=user, hsa_id=hsa_id)  # type: ignore[misc]


def staff_user_clinics_set(*, user: AbstractBaseUser, clinics: Iterable[Clinic]) -> None:
    """The clinics a user works at (the user's page in the admin)."""
    user.clinics.set(list(clinics))  # type: ignore[attr-defined]
