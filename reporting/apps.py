from typing import Any

from django.apps import AppConfig


class ReportingConfig(AppConfig):
    name = "reporting"
    verbose_name = "Rapporter"

    def ready(self) -> None:
        from core.staff import Role, role_permissions_grant

        role_permissions_grant(
            Role.REGIONAL_ADMIN,
            [
                "reporting.view_noshowbaseline",
                "reporting.add_noshowbaseline",
                "reporting.change_noshowbaseline",
            ],
        )

    def load_demo(self, *, clinics: list[Any], **kwargs: Any) -> None:
        """2023 no-show rates, before reminders, for the dashboards to compare with."""
        from decimal import Decimal

        from .models import NoShowBaseline

        for index, clinic in enumerate(clinics):
            NoShowBaseline.objects.get_or_create(
                clinic=clinic,
                year=2023,
                defaults={"rate": Decimal("0.0800") + Decimal(index % 5) / 500},
            )
