from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from core.errors import DomainError

from ...legacy_import import legacy_consents_import, read_rows


class Command(BaseCommand):
    help = "Importerar samtyckesexporten från det gamla systemet (rules 3.7; contract 4)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--dry-run", action="store_true", help="Visa vad som skulle hända; spara inget."
        )
        parser.add_argument("--no-progress", action="store_true", help="Ingen förloppsindikator.")

    def handle(
        self, *args: Any, file: Path, dry_run: bool, no_progress: bool, **options: Any
    ) -> None:
        try:
            text = file.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise CommandError(f"Filen {file} finns inte.") from None
        except UnicodeDecodeError as error:
            raise CommandError(f"Filen är inte UTF-8: {error}.") from None
        lines = text.splitlines(keepends=True)
        try:
            total = sum(1 for _ in read_rows(lines))
        except DomainError as error:
            raise CommandError(error.message) from None

        with tqdm(total=total, unit=" rader", disable=no_progress, file=self.stderr._out) as bar:
            result = legacy_consents_import(
                lines=lines, file_name=str(file), dry_run=dry_run, progress=bar.update
            )

        out = self.stdout
        out.write("TORRKÖRNING – inget har sparats.\n" if dry_run else "")
        out.write(f"Rader:                                  {result.rows}\n")
        out.write(f"Migrerade som aktiverade:               {result.migrated}\n")
        out.write(f"Inte migrerade (blockerad mottagning):  {result.excluded}\n")
        out.write(f"Utan samtycke (inget importerat):       {result.no_consent}\n")
        out.write(f"Redan importerade eller redan hanterade: {result.already}\n")
        out.write(f"Nya patienter:                          {result.patients_created}\n")
        out.write(f"Fel:                                    {len(result.errors)}\n")
        for line, message in result.errors:
            out.write(f"  rad {line}: {message}\n")
