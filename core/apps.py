from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    """The bottom floor: plumbing that knows no domain (the API's base view, problem+json,
    bearer keys, staff roles and sessions, the login through the region's identity
    provider, SQL helpers, exports) and the access log every app writes to."""

    name = "core"
    verbose_name = "API-klienter, inloggning och åtkomstlogg"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in
        from django.core import checks

        from . import schema  # noqa: F401  (registers the schema extension)
        from .checks import password_second_factor, shared_cache
        from .oidc import check_oidc_settings
        from .staff import Role, role_permissions_grant, session_started

        checks.register(check_oidc_settings, checks.Tags.security)
        checks.register(shared_cache, checks.Tags.security, deploy=True)
        checks.register(password_second_factor, checks.Tags.security, deploy=True)
        role_permissions_grant(
            Role.REGIONAL_ADMIN,
            ["core.view_apiclient", "core.change_apiclient", "core.view_accesslog"],
        )
        user_logged_in.connect(session_started, dispatch_uid="core-session-started")
        post_migrate.connect(_ensure_roles, sender=self)
        # Every admin module is imported by now (django.contrib.admin's ready() comes
        # first in INSTALLED_APPS): each list page takes only its own filters' lookups.
        from django.contrib import admin

        from .admin_utils import limit_lookups_of_every_admin

        limit_lookups_of_every_admin(admin.site)


def _ensure_roles(**kwargs: Any) -> None:
    """After every migrate: the role groups and their permissions (also those that apps
    migrated after this one declare)."""
    from .staff import ensure_role_groups

    ensure_role_groups(using=kwargs.get("using", "default"))
