"""The migration import of the old system's consent export (rules 3.7; contract 4).

Residents without a block are migrated as `active`; residents with any blocked clinic are
left out, exactly as in January, and recorded as exclusions with their blocked clinics.
Bad rows are reported by line number and never stop the good rows; running the same file
again changes nothing; a dry run shows what would happen and writes nothing. The export is
taken 500 rows at a time in a handful of statements; a chunk the database refuses is taken
again row by row, so a bad row costs only itself.
"""

from __future__ import annotations

import copy
import csv
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date

from django.db import DatabaseError, transaction

from bookings.identity import PersonalId, parse_hsa_id, parse_personal_id, parse_phone_number
from bookings.models import Clinic
from bookings.services import patients_get_or_create_from_legacy
from core.errors import DomainError

from .models import Channel, ConsentEvent, ExcludedAtClinic, LegacyImport, MigrationExclusion
from .services import consent_activate

HEADER = ["personnummer", "mobilnummer", "samtycke", "blockerade_enheter", "andrad"]
CHUNK = 500


class LegacyFileError(DomainError):
    code = "invalid_legacy_file"


@dataclass(frozen=True)
class LegacyRow:
    line: int
    personal_id: PersonalId
    number: str  # E.164, or "" when the export had none
    consent: bool
    blocked: tuple[str, ...]  # HSA-ids
    changed_on: date | None


@dataclass
class ImportResult:
    rows: int = 0
    migrated: int = 0  # now active
    excluded: int = 0  # left out: had a blocked clinic
    no_consent: int = 0  # samtycke=nej and no blocks: nothing imported
    already: int = 0  # imported before, or consent already decided in this system
    patients_created: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    excluded_by_clinic: dict[str, int] = field(default_factory=dict)


def parse_row(line: int, cells: list[str]) -> LegacyRow:
    if len(cells) != len(HEADER):
        raise DomainError(f"rad {line}: {len(cells)} fält, väntade {len(HEADER)}.")
    raw_pid, raw_number, raw_consent, raw_blocked, raw_changed = (c.strip() for c in cells)
    pid = parse_personal_id(raw_pid)
    number = parse_phone_number(raw_number).e164 if raw_number else ""
    consent = raw_consent.lower()
    if consent not in ("ja", "nej"):
        raise DomainError(f"samtycke ska vara ”ja” eller ”nej”, inte ”{raw_consent}”.")
    blocked = tuple(dict.fromkeys(parse_hsa_id(h) for h in raw_blocked.split(",") if h.strip()))
    try:
        changed_on = date.fromisoformat(raw_changed) if raw_changed else None
    except ValueError:
        raise DomainError(
            f"andrad ska vara ett datum (ÅÅÅÅ-MM-DD), inte ”{raw_changed}”."
        ) from None
    return LegacyRow(line, pid, number, consent == "ja", blocked, changed_on)


def read_rows(lines: Iterable[str]) -> Iterable[tuple[int, list[str]]]:
    reader = csv.reader(lines, delimiter=";")
    try:
        header = next(reader)
    except StopIteration:
        raise LegacyFileError("Filen är tom.") from None
    if [h.strip().lower() for h in header] != HEADER:
        raise LegacyFileError(
            "Fel rubrikrad. Väntade: " + ";".join(HEADER) + ", fick: " + ";".join(header)
        )
    for cells in reader:
        if cells and any(c.strip() for c in cells):
            yield reader.line_num, cells


def _check_clinics(row: LegacyRow, clinics: dict[str, Clinic]) -> None:
    unknown = [h for h in row.blocked if h not in clinics]
    if unknown:
        raise DomainError(
            "okänd mottagning " + ", ".join(unknown) + " (registrera mottagningen och kör igen)"
        )


def _migration_note(row: LegacyRow) -> str:
    return "Migrerad från gamla systemet" + (
        f" (ändrad {row.changed_on})" if row.changed_on else ""
    )


class _OneByOne(Exception):
    """The chunk must be taken row by row (a resident named twice: order matters)."""


def _apply_chunk(
    chunk: list[tuple[int, list[str]]],
    clinics: dict[str, Clinic],
    source: LegacyImport,
    result: ImportResult,
) -> None:
    """A chunk in a handful of statements: the known residents in one query, the new
    ones in one insert, the exclusions and their clinics in one insert each. Activations
    go through the consent service one by one (an event and the projection each). Bad
    rows are counted as errors; a row the database refuses raises (see _import_chunk)."""
    rows: list[LegacyRow] = []
    for line, cells in chunk:
        result.rows += 1
        try:
            row = parse_row(line, cells)
            _check_clinics(row, clinics)
        except DomainError as error:
            result.errors.append((line, error.message))
            continue
        if not row.blocked and not row.consent:
            result.no_consent += 1
        else:
            rows.append(row)
    numbers = {row.personal_id.value: row.number for row in rows}
    if len(numbers) < len(rows):
        raise _OneByOne
    patients = patients_get_or_create_from_legacy(numbers)
    known = [patient.pk for patient, created in patients.values() if not created]
    result.patients_created += len(patients) - len(known)
    excluded_before = set(
        MigrationExclusion.objects.filter(patient_id__in=known).values_list("patient_id", flat=True)
    )
    decided_before = set(
        ConsentEvent.objects.filter(patient_id__in=known).values_list("patient_id", flat=True)
    )
    exclusions: list[tuple[LegacyRow, MigrationExclusion]] = []
    for row in rows:
        patient, _ = patients[row.personal_id.value]
        if row.blocked:
            if patient.pk in excluded_before:
                result.already += 1
            else:
                exclusion = MigrationExclusion(
                    patient=patient,
                    legacy_consent=row.consent,
                    changed_on=row.changed_on,
                    source=source,
                )
                exclusions.append((row, exclusion))
        elif patient.pk in decided_before:
            result.already += 1  # migrated before, or staff have decided since: theirs wins
        else:
            consent_activate(
                patient=patient, actor=None, channel=Channel.MIGRATION, note=_migration_note(row)
            )
            result.migrated += 1
    MigrationExclusion.objects.bulk_create([exclusion for _, exclusion in exclusions])
    ExcludedAtClinic.objects.bulk_create(
        [
            ExcludedAtClinic(exclusion=exclusion, clinic=clinics[hsa_id])
            for row, exclusion in exclusions
            for hsa_id in row.blocked
        ]
    )
    for row, _ in exclusions:
        result.excluded += 1
        for hsa_id in row.blocked:
            result.excluded_by_clinic[hsa_id] = result.excluded_by_clinic.get(hsa_id, 0) + 1


def _import_chunk(
    chunk: list[tuple[int, list[str]]],
    clinics: dict[str, Clinic],
    source: LegacyImport,
    result: ImportResult,
) -> None:
    """A chunk at once; if the database refuses any of it (or a resident is named twice),
    the chunk again row by row, so that the bad row is reported by its line and every
    other row is kept."""
    before = copy.deepcopy(result)
    try:
        with transaction.atomic():
            _apply_chunk(chunk, clinics, source, result)
        return
    except (DatabaseError, _OneByOne):
        _restore(result, before)
    with transaction.atomic():
        for line, cells in chunk:
            before = copy.deepcopy(result)
            try:
                with transaction.atomic():
                    _apply_chunk([(line, cells)], clinics, source, result)
            except DomainError as error:
                _refused(result, before, line, error.message)
            except DatabaseError as error:
                _refused(result, before, line, f"databasfel: {error}")


def _refused(result: ImportResult, before: ImportResult, line: int, message: str) -> None:
    """A row whose writes were undone: so are its counts, and its line is reported."""
    _restore(result, before)
    result.rows += 1
    result.errors.append((line, message))


def _restore(result: ImportResult, saved: ImportResult) -> None:
    for name, value in vars(saved).items():
        setattr(result, name, value)


def legacy_consents_import(
    *,
    lines: list[str],
    file_name: str,
    dry_run: bool,
    progress: Callable[[int], None] = lambda n: None,
) -> ImportResult:
    """Imports the export. With `dry_run` everything is done and then rolled back, so the
    result is exactly what a real run would do. Each row commits or fails on its own."""
    result = ImportResult()
    rows = list(read_rows(lines))
    clinics = {c.hsa_id: c for c in Clinic.objects.all()}
    digest = hashlib.sha256("".join(lines).encode()).hexdigest()

    with transaction.atomic():
        source = LegacyImport.objects.create(file_name=file_name, file_sha256=digest)
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            _import_chunk(chunk, clinics, source, result)
            progress(len(chunk))
        LegacyImport.objects.filter(pk=source.pk).update(
            rows=result.rows,
            migrated=result.migrated,
            excluded=result.excluded,
            skipped=result.no_consent + result.already,
            errors=len(result.errors),
        )
        if dry_run:
            transaction.set_rollback(True)
    return result
