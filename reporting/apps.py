from typing import Any

from django.apps import AppConfig


class ReportingConfig(AppConfig):
    name = "reporting"
    verbose_name = "Rapporter"

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
