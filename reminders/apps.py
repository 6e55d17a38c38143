import sys
from typing import Any

from django.apps import AppConfig
from django.core import checks


class RemindersConfig(AppConfig):
    name = "reminders"
    verbose_name = "Påminnelser"

    def ready(self) -> None:
        from bookings.signals import appointment_changed, appointments_created, patient_deceased
        from core.staff import Role, role_permissions_grant

        from .checks import outbox_in_production, sending_settings
        from .gateways.signing import webhook_secret_problem
        from .receivers import (
            on_appointment_changed,
            on_appointments_created,
            on_patient_deceased,
        )
        from .swish_checks import payment_method, swish_settings

        checks.register(sending_settings)
        checks.register(payment_method)
        checks.register(swish_settings, checks.Tags.security, deploy=True)
        checks.register(outbox_in_production, checks.Tags.security, deploy=True)
        # Every process refuses to start with a weak webhook key (rules 3.10), except
        # `manage.py check`, whose work is to list every problem: it names it as E005.
        problem = webhook_secret_problem()
        if problem and sys.argv[1:2] != ["check"]:
            from django.core.exceptions import ImproperlyConfigured

            raise ImproperlyConfigured(problem)
        role_permissions_grant(Role.REGIONAL_ADMIN, ["reminders.view_message"])
        from consent.reasons import reason_labels_add

        from .models import SendReason

        reason_labels_add(SendReason.choices)
        appointment_changed.connect(on_appointment_changed, dispatch_uid="reminders-plan")
        appointments_created.connect(on_appointments_created, dispatch_uid="reminders-plan-new")
        patient_deceased.connect(on_patient_deceased, dispatch_uid="reminders-deceased")

    def patient_panels(self, request: Any, patient: Any) -> list[str]:
        """Sections this app adds to the patient page: what happened to each SMS."""
        from .views import sms_history_panel

        return [sms_history_panel(request, patient)]

    def desk_sms(self, appointment_ids: list[int]) -> dict[int, Any]:
        """What became of each contact's reminder, for the arrival desk's rows."""
        from .followup import visit_sms

        return visit_sms(appointment_ids)

    def desk_payment(self, appointments: list[Any]) -> dict[int, str]:
        """Each contact's payment at self check-in, for the arrival desk's rows."""
        from .payment_list import desk_payment_labels

        return desk_payment_labels(appointments)

    def appointment_payment(self, appointment: Any) -> dict[str, Any] | None:
        """The contact's payment, for the booking system (bookings.payments)."""
        from .payment_list import appointment_payment

        return appointment_payment(appointment)

    def load_demo(self, **kwargs: Any) -> None:
        from .demo import load_demo

        load_demo(**kwargs)
