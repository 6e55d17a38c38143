from typing import Any

from django.apps import AppConfig


class RemindersConfig(AppConfig):
    name = "reminders"
    verbose_name = "Påminnelser"

    def ready(self) -> None:
        from bookings.signals import appointment_changed

        from .receivers import on_appointment_changed

        appointment_changed.connect(on_appointment_changed, dispatch_uid="reminders-plan")

    def load_demo(self, **kwargs: Any) -> None:
        from .demo import load_demo

        load_demo(**kwargs)
