"""`manage.py fhir_pull --once [--dry-run]`: one poll of the booking system's FHIR server now
(whether or not one is due), as the beat's task runs it; `--dry-run` reads and applies in a
transaction that is rolled back, and says what it would have done."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from bookings.fhir.pull.poll import fhir_pull_poll


class Command(BaseCommand):
    help = "Hämtar bokningar från bokningssystemets FHIR-server (en hämtning)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="One poll now, then stop.")
        parser.add_argument("--dry-run", action="store_true", help="Read and show; change nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.FHIR_PULL_BASE_URL:
            raise CommandError("FHIR_PULL_BASE_URL är inte satt: hämtningen är avstängd.")
        if not options["once"]:
            raise CommandError(
                "Ange --once. Regelbundna hämtningar görs av Celery beat (FHIR_PULL_INTERVAL)."
            )
        report = fhir_pull_poll(dry_run=options["dry_run"], force=True)
        if not report.ran:
            raise CommandError("En annan hämtning pågår just nu; försök igen om en stund.")
        prefix = "(dry run, nothing changed) " if report.dry_run else ""
        self.stdout.write(
            f"{prefix}{report.mode} poll: {report.pages} pages, {report.appointments} "
            f"appointments, {report.patients} patients, {report.read_directly} read directly; "
            f"applied {report.applied} ({report.created} new), cancelled {report.cancelled_gone} "
            f"gone, rejected {report.rejected}"
        )
        if report.error:
            raise CommandError(f"Hämtningen misslyckades, inget ändrades: {report.error}")
