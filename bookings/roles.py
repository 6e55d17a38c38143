"""Staff roles (SPEC 2) are Django groups; the clinics a user works at are `Clinic.staff`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser

    from .models import Clinic


class Role(models.TextChoices):
    RECEPTION = "reception", _("Reception")
    MANAGER = "manager", _("Verksamhetschef")
    REGIONAL_ADMIN = "regional_admin", _("Regional administratör")
    AUDITOR = "auditor", _("Logggranskare")


def user_roles(user: AbstractBaseUser | AnonymousUser) -> set[str]:
    if not user.is_authenticated:
        return set()
    cached = getattr(user, "_role_cache", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True))  # type: ignore[attr-defined]
        if user.is_superuser:  # type: ignore[attr-defined]
            cached.add(Role.REGIONAL_ADMIN)
        user._role_cache = cached  # type: ignore[union-attr,attr-defined]
    return cached


def has_role(user: AbstractBaseUser | AnonymousUser, *roles: str) -> bool:
    return bool(user_roles(user) & set(roles))


def clinics_for(user: AbstractBaseUser | AnonymousUser) -> models.QuerySet[Clinic]:
    """The clinics whose queues, desks and reports a user may see: all for regional admins,
    else the clinics they work at."""
    from .models import Clinic

    if has_role(user, Role.REGIONAL_ADMIN):
        return Clinic.objects.all()
    if not user.is_authenticated:
        return Clinic.objects.none()
    return Clinic.objects.filter(staff__pk=user.pk)


# Admin-site permissions per role. Only regional admins use the admin site; the other
# roles work in the back office, whose views check roles themselves.
ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.REGIONAL_ADMIN: [
        "bookings.add_clinic",
        "bookings.change_clinic",
        "bookings.view_clinic",
        "bookings.view_patient",
        "bookings.view_guardianship",
        "bookings.view_apiclient",
        "bookings.change_apiclient",
        "consent.view_consentevent",
        "consent.view_patientconsent",
        "consent.view_migrationexclusion",
        "consent.view_legacyimport",
        "consent.view_standardreply",
        "consent.add_standardreply",
        "consent.change_standardreply",
        "consent.view_eservicecase",
        "consent.view_accesslog",
        "reporting.view_noshowbaseline",
        "reporting.add_noshowbaseline",
        "reporting.change_noshowbaseline",
        "auth.add_user",
        "auth.change_user",
        "auth.view_user",
        "auth.view_group",
    ],
    Role.MANAGER: [],
    Role.RECEPTION: [],
    Role.AUDITOR: ["consent.view_consentevent"],
}


def ensure_role_groups(*, using: str = "default") -> None:
    """Creates the role groups and gives them their permissions (idempotent)."""
    from django.apps import apps
    from django.contrib.auth.management import create_permissions
    from django.contrib.auth.models import Group, Permission

    # Apps later in INSTALLED_APPS get their permissions after this app's post_migrate.
    for config in apps.get_app_configs():
        create_permissions(config, verbosity=0, using=using)
    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.using(using).get_or_create(name=role)
        wanted = []
        for perm in perms:
            app_label, codename = perm.split(".")
            wanted += list(
                Permission.objects.using(using).filter(
                    content_type__app_label=app_label, codename=codename
                )
            )
        group.permissions.set(wanted)
