"""Read-only report queries (SPEC 3.8). Each report is one or two aggregate queries; lists
are read in chunks so exports run in constant memory."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import TruncWeek
from django.utils import timezone

from bookings.models import Appointment, AppointmentStatus, Clinic
from consent.models import ExcludedAtClinic, PatientConsent

CHUNK = 2000


@dataclass(frozen=True)
class ExclusionRow:
    clinic: Clinic
    excluded: int
    activated_since: int


def exclusion_table(clinics: QuerySet[Clinic]) -> list[ExclusionRow]:
    """Per clinic: residents the migration left out because they had blocked it (a
    resident who blocked several clinics counts at each), and how many of them have had
    reminders activated since. Ranked by `excluded`. One query."""
    rows = (
        ExcludedAtClinic.objects.filter(clinic__in=clinics)
        .values("clinic")
        .annotate(
            excluded=Count("id"),
            activated=Count("id", filter=Q(exclusion__patient__consent__state="active")),
        )
        .order_by("-excluded", "clinic")
    )
    by_id = {c.pk: c for c in clinics}
    return [ExclusionRow(by_id[r["clinic"]], r["excluded"], r["activated"]) for r in rows]


@dataclass(frozen=True)
class ExcludedPatient:
    personal_id: str
    name: str
    blocked_clinics: list[str]
    next_contact: datetime | None
    activated_since: bool


def excluded_patients(clinic: Clinic) -> tuple[int, Iterator[ExcludedPatient]]:
    """The residents left out at one clinic: (how many have protected identity — counted,
    never shown — and an iterator over the others, read a chunk at a time)."""
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
            "exclusion__patient__personal_id",
            "exclusion__patient__given_name",
            "exclusion__patient__family_name",
            "next_contact",
            "now_active",
        )
        .order_by("exclusion__patient__personal_id")
    )

    def generate() -> Iterator[ExcludedPatient]:
        chunk: list[Any] = []
        for row in rows.iterator(chunk_size=CHUNK):
            chunk.append(row)
            if len(chunk) == CHUNK:
                yield from _with_blocked(chunk)
                chunk = []
        yield from _with_blocked(chunk)

    return protected, generate()


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
    for exclusion_id, pid, given, family, next_contact, active in chunk:
        yield ExcludedPatient(
            personal_id=f"{pid[:8]}-{pid[8:]}",
            name=f"{given} {family}".strip(),
            blocked_clinics=names.get(exclusion_id, []),
            next_contact=next_contact,
            activated_since=bool(active),
        )


@dataclass(frozen=True)
class CaughtRow:
    clinic: Clinic
    week: date
    asked: int  # left-out residents asked the SMS question at arrival that week
    activated: int  # left-out residents who had reminders activated that week


def caught_since(clinics: QuerySet[Clinic]) -> list[CaughtRow]:
    """Per clinic (where the residents were left out) and week: how many of them were asked
    at arrival and how many had reminders activated since the migration. Two queries."""
    base = ExcludedAtClinic.objects.filter(clinic__in=clinics)
    asked = (
        base.filter(exclusion__patient__appointments__arrival_question__isnull=False)
        .exclude(exclusion__patient__appointments__arrival_question__outcome="not_asked")
        .annotate(week=TruncWeek("exclusion__patient__appointments__arrival_question__created_at"))
        .values("clinic", "week")
        .annotate(n=Count("exclusion", distinct=True))
    )
    activated = (
        base.filter(
            exclusion__patient__consent_events__action="activate",
            exclusion__patient__consent_events__created_at__gte=F("exclusion__created_at"),
        )
        .annotate(week=TruncWeek("exclusion__patient__consent_events__created_at"))
        .values("clinic", "week")
        .annotate(n=Count("exclusion", distinct=True))
    )
    cells: dict[tuple[int, date], list[int]] = {}
    for row in asked:
        cells.setdefault((row["clinic"], _day(row["week"])), [0, 0])[0] = row["n"]
    for row in activated:
        cells.setdefault((row["clinic"], _day(row["week"])), [0, 0])[1] = row["n"]
    by_id = {c.pk: c for c in clinics}
    return sorted(
        (CaughtRow(by_id[clinic], week, a, b) for (clinic, week), (a, b) in cells.items()),
        key=lambda r: (r.clinic.name, r.week),
    )


def _day(value: date | datetime) -> date:
    return timezone.localtime(value).date() if isinstance(value, datetime) else value
