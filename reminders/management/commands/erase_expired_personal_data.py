from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from ...retention import personal_data_erase_expired


class Command(BaseCommand):
    help = (
        "Erases SMS texts and numbers, delivery-report payloads and e-service cases' free "
        "text and numbers older than RETENTION_DAYS (the beat does it daily)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        counts = personal_data_erase_expired(now=timezone.now())
        self.stdout.write(
            f"Gallrat: {counts['messages']} sms, {counts['delivery_reports']} "
            f"leveransrapporter, {counts['cases']} e-tjänstärenden."
        )
