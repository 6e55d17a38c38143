from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from bookings.models import Patient

from ... import rules
from ...models import ConsentEvent
from ...selectors import snapshot_of
from ...services import consent_rebuild


class Command(BaseCommand):
    help = "Bygger om samtyckesstatus från händelseloggen (eller kontrollerar den med --check)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--check",
            action="store_true",
            help="Jämför bara; ändra inget. Avslutar med 1 vid skillnad.",
        )

    def handle(self, *args: Any, check: bool, **options: Any) -> None:
        patient_ids = ConsentEvent.objects.values_list("patient_id", flat=True).distinct()
        differing = 0
        for patient in Patient.objects.filter(pk__in=patient_ids).iterator():
            if check:
                with transaction.atomic():
                    events = [
                        e.facts() for e in patient.consent_events.order_by("created_at", "id")
                    ]
                    differing += snapshot_of(patient) != rules.replay(events)
            else:
                differing += consent_rebuild(patient=patient)
        verb = "skiljer sig" if check else "byggdes om"
        self.stdout.write(f"{differing} patienters status {verb} från händelseloggen.\n")
        if check and differing:
            raise SystemExit(1)
