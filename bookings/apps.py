from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class BookingsConfig(AppConfig):
    name = "bookings"
    verbose_name = "Register och bokningar"

    def ready(self) -> None:
        from django.core import checks

        from . import schema  # noqa: F401  (registers the schema extension)
        from .oidc import check_oidc_settings

        checks.register(check_oidc_settings, checks.Tags.security)
        from .staff import Role, role_permissions_grant

        role_permissions_grant(
            Role.REGIONAL_ADMIN,
            [
                "bookings.add_clinic",
                "bookings.change_clinic",
                "bookings.view_clinic",
                "bookings.view_patient",
                "bookings.view_guardianship",
                "bookings.view_apiclient",
                "bookings.change_apiclient",
                "auth.add_user",
                "auth.change_user",
                "auth.view_user",
                "auth.view_group",
            ],
        )
        post_migrate.connect(_ensure_roles, sender=self)
        from django.contrib.auth.signals import user_logged_in

        from .staff import session_started

        user_logged_in.connect(session_started, dispatch_uid="bookings-session-started")


def _ensure_roles(**kwargs: Any) -> None:
    from .staff import ensure_role_groups

    ensure_role_groups(using=kwargs.get("using", "default"))
