"""The residents the migration left out (rules 3.7, 3.8): the ranked table per clinic, each
clinic's list in its two views, and how many have been caught since. Lists are read in
chunks so exports run in constant memory."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import TruncWeek
from django.utils import timezone

from bookings.models import Appointment, AppointmentStatus, Clinic
from consent.models import ExcludedAtClinic, PatientConsent

from .kept import kept_read, kept_write
from .selectors import day_of

CHUNK = 500


@dataclass(frozen=True)
class ExclusionRow:
    clinic: Clinic
    excluded: int
    activated_since: int


def exclusion_counts(clinic_ids: list[int]) -> dict[int, tuple[int, int]]:
    """clinic → (residents left out there, of whom activated since). One query."""
    rows = (
        ExcludedAtClinic.objects.filter(clinic_id__in=clinic_ids)
        .values("clinic")
        .annotate(
            excluded=Count("id"),
            activated=Count("id", filter=Q(exclusion__patient__consent__state="active")),
        )
    )
    return {r["clinic"]: (r["excluded"], r["activated"]) for r in rows}


def refresh_exclusion_counts(clinic_ids: list[int]) -> dict[int, tuple[int, int]]:
    fresh = exclusion_counts(clinic_ids)
    kept_write("report:excluded", {i: fresh.get(i, (0, 0)) for i in clinic_ids})
    return fresh


def exclusion_table(clinics: QuerySet[Clinic]) -> list[ExclusionRow]:
    """Per clinic: residents the migration left out because they had blocked it (a
    resident who blocked several clinics counts at each), and how many of them have had
    reminders activated since. Ranked by `excluded`; clinics with none are left out. The
    counts are kept per clinic like the dashboard's (kept.py: refreshed every five
    minutes)."""
    by_id = {c.pk: c for c in clinics}
    counts = kept_read("report:excluded", by_id, exclusion_counts, (0, 0))
    rows = [
        ExclusionRow(by_id[i], excluded, activated)
        for i, (excluded, activated) in counts.items()
        if excluded
    ]
    return sorted(rows, key=lambda r: (-r.excluded, r.clinic.pk))


@dataclass(frozen=True)
class ExcludedPatient:
    patient_id: int  # for the access log: each listed resident is a read
    page_key: UUID  # the address of the resident's page (the id is never in a URL)
    personal_id: str
    name: str
    blocked_clinics: list[str]
    next_contact: datetime | None
    activated_since: bool


# The two views of a clinic's exclusion list (rules 3.8): who had blocked this clinic, and
# who was left out for any block and has a booked contact here soon.
VIEWS = ("blockerade", "bokade")


def _rows_for(clinic: Clinic, view: str) -> tuple[int, Any]:
    return _booked_rows(clinic) if view == "bokade" else _excluded_rows(clinic)


def excluded_patients_page(
    clinic: Clinic, *, page: int, size: int, view: str = "blockerade"
) -> tuple[int, int, list[ExcludedPatient]]:
    """One page of the list for the screen: (protected count, how many are shown in all,
    this page's patients)."""
    protected, rows = _rows_for(clinic, view)
    total = rows.count()
    chunk = list(rows[(page - 1) * size : page * size])
    return protected, total, list(_with_blocked(chunk))


def excluded_patients(
    clinic: Clinic, view: str = "blockerade"
) -> tuple[int, Iterator[ExcludedPatient]]:
    """The residents left out at one clinic (or, in the "bokade" view, those with a
    contact there soon): (how many have protected identity — counted, never shown — and an
    iterator over the others, read a chunk at a time)."""
    protected, rows = _rows_for(clinic, view)

    def generate() -> Iterator[ExcludedPatient]:
        chunk: list[Any] = []
        for row in rows.iterator(chunk_size=CHUNK):
            chunk.append(row)
            if len(chunk) == CHUNK:
                yield from _with_blocked(chunk)
                chunk = []
        yield from _with_blocked(chunk)

    return protected, generate()


def _excluded_rows(clinic: Clinic) -> tuple[int, Any]:
    base = ExcludedAtClinic.objects.filter(clinic=clinic)
    protected = base.filter(exclusion__patient__protected_identity=True).count()
    next_contact = (
        Appointment.objects.filter(
            patient_id=OuterRef("exclusion__patient_id"),
            clinic=clinic,
            status=AppointmentStatus.BOOKED,
            starts_at__gte=timezone.now(),
        )
        .order_by("starts_at")
        .values("starts_at")[:1]
    )
    active = PatientConsent.objects.filter(
        patient_id=OuterRef("exclusion__patient_id"), state="active"
    )
    rows = (
        base.filter(exclusion__patient__protected_identity=False)
        .annotate(next_contact=Subquery(next_contact), now_active=Exists(active))
        .values_list(
            "exclusion_id",
            "exclusion__patient_id",
            "exclusion__patient__page_key",
            "exclusion__patient__personal_id",
            "exclusion__patient__given_name",
            "exclusion__patient__family_name",
            "next_contact",
            "now_active",
        )
        .order_by("exclusion__patient__personal_id")
    )
    return protected, rows


def _with_blocked(chunk: list[Any]) -> Iterator[ExcludedPatient]:
    if not chunk:
        return
    names: dict[Any, list[str]] = {}
    for exclusion_id, name in (
        ExcludedAtClinic.objects.filter(exclusion_id__in=[row[0] for row in chunk])
        .order_by("clinic__name")
        .values_list("exclusion_id", "clinic__name")
    ):
        names.setdefault(exclusion_id, []).append(name)
    for exclusion_id, patient_id, page_key, pid, given, family, next_contact, active in chunk:
        yield ExcludedPatient(
            patient_id=patient_id,
            page_key=page_key,
            personal_id=f"{pid[:8]}-{pid[8:]}",
            name=f"{given} {family}".strip(),
            blocked_clinics=names.get(exclusion_id, []),
            next_contact=next_contact,
            activated_since=bool(active),
        )


# The answers of a question that was asked (a central reception records "not_asked").
ASKED = ("received", "activated", "declined", "cannot")


@dataclass(frozen=True)
class CaughtRow:
    clinic: Clinic
    week: date
    asked: int  # left-out residents asked the SMS question at arrival that week
    activated: int  # left-out residents who had reminders activated that week


def caught_counts(clinic_ids: list[int]) -> dict[int, dict[str, list[int]]]:
    """clinic → week (ISO date) → [asked, activated]: of the residents left out at the
    clinic, how many were asked at arrival and how many had reminders activated since the
    migration, by week. Two aggregate queries."""
    base = ExcludedAtClinic.objects.filter(clinic_id__in=clinic_ids)
    asked = (
        # One filter() call: both conditions hold for the same question.
        base.filter(
            exclusion__patient__appointments__arrival_questions__undo__isnull=True,
            exclusion__patient__appointments__arrival_questions__outcome__in=ASKED,
        )
        .annotate(week=TruncWeek("exclusion__patient__appointments__arrival_questions__created_at"))
        .values("clinic", "week")
        .annotate(n=Count("exclusion", distinct=True))
    )
    activated = (
        base.filter(
            exclusion__patient__consent_events__action="activate",
            exclusion__patient__consent_events__created_at__gte=F("exclusion__created_at"),
            # an activation at the desk taken back with its arrival (a wrong row) is none
            exclusion__patient__consent_events__arrival_question__undo__isnull=True,
        )
        .annotate(week=TruncWeek("exclusion__patient__consent_events__created_at"))
        .values("clinic", "week")
        .annotate(n=Count("exclusion", distinct=True))
    )
    out: dict[int, dict[str, list[int]]] = {}
    for index, rows in enumerate((asked, activated)):
        for row in rows:
            cell = out.setdefault(row["clinic"], {}).setdefault(
                day_of(row["week"]).isoformat(), [0, 0]
            )
            cell[index] = row["n"]
    return out


def refresh_caught_counts(clinic_ids: list[int]) -> dict[int, dict[str, list[int]]]:
    fresh = caught_counts(clinic_ids)
    kept_write("report:caught", {i: fresh.get(i, {}) for i in clinic_ids})
    return fresh


def caught_since(clinics: QuerySet[Clinic]) -> list[CaughtRow]:
    """The caught-since table for these clinics, from the per-clinic counts kept with the
    dashboard's (kept.py)."""
    by_id = {c.pk: c for c in clinics}
    per_clinic = kept_read("report:caught", by_id, caught_counts, {})
    return sorted(
        (
            CaughtRow(by_id[clinic], date.fromisoformat(week), asked, activated)
            for clinic, weeks in per_clinic.items()
            for week, (asked, activated) in weeks.items()
        ),
        key=lambda r: (r.clinic.name, r.week),
    )


# --- The second view of a clinic's exclusion list (rules 3.8) -------------------------
UPCOMING_WEEKS = 4  # "in the coming weeks"


def _booked_rows(clinic: Clinic, *, weeks: int = UPCOMING_WEEKS) -> tuple[int, Any]:
    """Residents left out for any block who have a booked contact at `clinic` in the
    coming weeks: the ones reception can still catch. Soonest contact first."""
    from consent.models import MigrationExclusion

    now = timezone.now()
    upcoming = Appointment.objects.filter(
        patient_id=OuterRef("patient_id"),
        clinic=clinic,
        status=AppointmentStatus.BOOKED,
        starts_at__gte=now,
        starts_at__lt=now + timedelta(weeks=weeks),
    )
    base = MigrationExclusion.objects.filter(Exists(upcoming))
    protected = base.filter(patient__protected_identity=True).count()
    active = PatientConsent.objects.filter(patient_id=OuterRef("patient_id"), state="active")
    rows = (
        base.filter(patient__protected_identity=False)
        .annotate(
            next_contact=Subquery(upcoming.order_by("starts_at").values("starts_at")[:1]),
            now_active=Exists(active),
        )
        .values_list(
            "id",
            "patient_id",
            "patient__page_key",
            "patient__personal_id",
            "patient__given_name",
            "patient__family_name",
            "next_contact",
            "now_active",
        )
        .order_by("next_contact", "patient__personal_id")
    )
    return protected, rows
