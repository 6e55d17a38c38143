from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class BookingsConfig(AppConfig):
    name = "bookings"
    verbose_name = "Register och bokningar"

    def ready(self) -> None:
        from . import checks, schema  # noqa: F401  (registers checks and the schema extension)

        post_migrate.connect(_ensure_roles, sender=self)


def _ensure_roles(**kwargs: Any) -> None:
    from .roles import ensure_role_groups

    ensure_role_groups(using=kwargs.get("using", "default"))
