from typing import Any

from django.apps import AppConfig
from django.core import checks


class RemindersConfig(AppConfig):
    name = "reminders"
    verbose_name = "Påminnelser"

    def ready(self) -> None:
        from bookings.signals import appointment_changed
        from bookings.staff import Role, role_permissions_grant

        from .checks import sending_settings
        from .receivers import on_appointment_changed

        checks.register(sending_settings)
        role_permissions_grant(Role.REGIONAL_ADMIN, ["reminders.view_message"])
        appointment_changed.connect(on_appointment_changed, dispatch_uid="reminders-plan")

    def load_demo(self, **kwargs: Any) -> None:
        from .demo import load_demo

        load_demo(**kwargs)
