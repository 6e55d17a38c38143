"""Read-only report queries (SPEC 3.8). Each report is one or two aggregate queries; lists
are read in chunks so exports run in constant memory."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import TruncMonth, TruncWeek
from django.utils import timezone

from bookings.models import Appointment, AppointmentStatus, Clinic
from consent.models import ExcludedAtClinic, PatientConsent

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
    cache.set_many(
        {f"report:excluded:{i}": fresh.get(i, (0, 0)) for i in clinic_ids}, REPORT_CACHE_SECONDS
    )
    return fresh


def exclusion_table(clinics: QuerySet[Clinic]) -> list[ExclusionRow]:
    """Per clinic: residents the migration left out because they had blocked it (a
    resident who blocked several clinics counts at each), and how many of them have had
    reminders activated since. Ranked by `excluded`; clinics with none are left out. The
    counts are kept per clinic in the cache like the dashboard's (refreshed every five
    minutes; a miss computes them)."""
    by_id = {c.pk: c for c in clinics}
    cached = cache.get_many([f"report:excluded:{i}" for i in by_id])
    counts = {int(key.rsplit(":", 1)[1]): value for key, value in cached.items()}
    missing = [i for i in by_id if i not in counts]
    if missing:
        counts.update(refresh_exclusion_counts(missing))
    rows = [
        ExclusionRow(by_id[i], excluded, activated)
        for i, (excluded, activated) in counts.items()
        if excluded
    ]
    return sorted(rows, key=lambda r: (-r.excluded, r.clinic.pk))


@dataclass(frozen=True)
class ExcludedPatient:
    patient_id: int  # for the access log: each listed resident is a read
    personal_id: str
    name: str
    blocked_clinics: list[str]
    next_contact: datetime | None
    activated_since: bool


def excluded_patients_page(
    clinic: Clinic, *, page: int, size: int
) -> tuple[int, int, list[ExcludedPatient]]:
    """One page of the list for the screen: (protected count, how many are shown in all,
    this page's patients)."""
    protected, rows = _excluded_rows(clinic)
    total = rows.count()
    chunk = list(rows[(page - 1) * size : page * size])
    return protected, total, list(_with_blocked(chunk))


def excluded_patients(clinic: Clinic) -> tuple[int, Iterator[ExcludedPatient]]:
    """The residents left out at one clinic: (how many have protected identity — counted,
    never shown — and an iterator over the others, read a chunk at a time)."""
    protected, rows = _excluded_rows(clinic)

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
    for exclusion_id, patient_id, pid, given, family, next_contact, active in chunk:
        yield ExcludedPatient(
            patient_id=patient_id,
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


def caught_counts(clinic_ids: list[int]) -> dict[int, dict[str, list[int]]]:
    """clinic → week (ISO date) → [asked, activated]: of the residents left out at the
    clinic, how many were asked at arrival and how many had reminders activated since the
    migration, by week. Two aggregate queries."""
    base = ExcludedAtClinic.objects.filter(clinic_id__in=clinic_ids)
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
    out: dict[int, dict[str, list[int]]] = {}
    for index, rows in enumerate((asked, activated)):
        for row in rows:
            cell = out.setdefault(row["clinic"], {}).setdefault(
                _day(row["week"]).isoformat(), [0, 0]
            )
            cell[index] = row["n"]
    return out


def refresh_caught_counts(clinic_ids: list[int]) -> dict[int, dict[str, list[int]]]:
    fresh = caught_counts(clinic_ids)
    cache.set_many(
        {f"report:caught:{i}": fresh.get(i, {}) for i in clinic_ids}, REPORT_CACHE_SECONDS
    )
    return fresh


def caught_since(clinics: QuerySet[Clinic]) -> list[CaughtRow]:
    """The caught-since table for these clinics, from the per-clinic counts kept in the
    cache (refreshed with the dashboard's; a miss computes them)."""
    by_id = {c.pk: c for c in clinics}
    cached = cache.get_many([f"report:caught:{i}" for i in by_id])
    per_clinic = {int(key.rsplit(":", 1)[1]): value for key, value in cached.items()}
    missing = [i for i in by_id if i not in per_clinic]
    if missing:
        per_clinic.update(refresh_caught_counts(missing))
    return sorted(
        (
            CaughtRow(by_id[clinic], date.fromisoformat(week), asked, activated)
            for clinic, weeks in per_clinic.items()
            for week, (asked, activated) in weeks.items()
        ),
        key=lambda r: (r.clinic.name, r.week),
    )


def _day(value: date | datetime) -> date:
    return timezone.localtime(value).date() if isinstance(value, datetime) else value


@dataclass(frozen=True)
class MonthRow:
    month: date
    no_show_rate_reminded: float | None  # no-shows / contacts that happened, with a sent reminder
    no_show_rate_not_reminded: float | None
    coverage: float | None  # booked contacts whose reminder was sent
    question_compliance: float | None  # desk arrivals (asking clinics) with the SMS question
    late_cancellations: int
    contacts: int


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


COUNT_KEYS = (
    "happened_r",
    "no_show_r",
    "happened_n",
    "no_show_n",
    "booked",
    "covered",
    "desk",
    "asked",
    "late",
    "contacts",
)
REPORT_CACHE_SECONDS = 600  # the dashboard's numbers may be ten minutes old


def report_since(months: int = 12) -> datetime:
    first = timezone.localdate().replace(day=1)
    for _ in range(months - 1):
        first = (first - timedelta(days=1)).replace(day=1)
    return datetime.combine(first, datetime.min.time(), tzinfo=timezone.get_current_timezone())


def monthly_counts(clinic_ids: list[int], since: datetime) -> dict[int, dict[str, dict[str, int]]]:
    """clinic → month (ISO date) → counts, for contacts from `since` until now. Two
    aggregate queries, each testing for a sent reminder once, in WHERE (the same test in
    every FILTER clause made PostgreSQL evaluate it six times a contact)."""
    from reminders.models import Message

    reminded = Exists(
        Message.objects.filter(
            appointment=OuterRef("pk"), kind="reminder", status__in=["sent", "delivered"]
        )
    )
    contacts = Appointment.objects.filter(
        clinic_id__in=clinic_ids, starts_at__gte=since, starts_at__lt=timezone.now()
    )
    desk = Q(arrived_via="desk", clinic__arrival_question=True)
    out: dict[int, dict[str, dict[str, int]]] = {}
    for suffix, queryset in (("r", contacts.filter(reminded)), ("n", contacts.filter(~reminded))):
        rows = (
            queryset.annotate(month=TruncMonth("starts_at"))
            .values("clinic_id", "month")
            .annotate(
                happened=Count("id", filter=Q(status__in=["arrived", "completed", "no_show"])),
                no_show=Count("id", filter=Q(status="no_show")),
                booked=Count("id", filter=~Q(status="cancelled")),
                desk=Count("id", filter=desk),
                asked=Count(
                    "id",
                    filter=desk
                    & Q(arrival_question__isnull=False)
                    & ~Q(arrival_question__outcome="not_asked"),
                ),
                late=Count("id", filter=Q(late_cancellation=True)),
                contacts=Count("id"),
            )
        )
        for row in rows:
            cell = out.setdefault(row["clinic_id"], {}).setdefault(
                _day(row["month"]).isoformat(), dict.fromkeys(COUNT_KEYS, 0)
            )
            cell[f"happened_{suffix}"] += row["happened"]
            cell[f"no_show_{suffix}"] += row["no_show"]
            cell["booked"] += row["booked"]
            cell["covered"] += row["booked"] if suffix == "r" else 0
            for key in ("desk", "asked", "late", "contacts"):
                cell[key] += row[key]
    return out


def _cache_key(clinic_id: int, since: datetime) -> str:
    return f"report:monthly:{clinic_id}:{since.date().isoformat()}"


def refresh_monthly_counts(clinic_ids: list[int]) -> dict[int, dict[str, dict[str, int]]]:
    """Computes the clinics' monthly counts and keeps them in the cache."""
    since = report_since()
    fresh = monthly_counts(clinic_ids, since)
    cache.set_many(
        {_cache_key(i, since): fresh.get(i, {}) for i in clinic_ids}, REPORT_CACHE_SECONDS
    )
    return fresh


def monthly_outcomes(clinics: QuerySet[Clinic]) -> list[MonthRow]:
    """Per month (local), over the given clinics: no-show rates with and without a sent
    reminder, reminder coverage, SMS-question compliance and late cancellations. Counts
    are kept per clinic in the cache (a Celery task refreshes them; a miss computes them),
    so any set of clinics sums them in memory."""
    since = report_since()
    ids = list(clinics.values_list("pk", flat=True))
    keys = {_cache_key(i, since): i for i in ids}
    cached = cache.get_many(list(keys))
    per_clinic = {keys[k]: v for k, v in cached.items()}
    missing = [i for i in ids if i not in per_clinic]
    if missing:
        per_clinic.update(refresh_monthly_counts(missing))
    totals: dict[str, dict[str, int]] = {}
    for months in per_clinic.values():
        for month, counts in months.items():
            cell = totals.setdefault(month, dict.fromkeys(COUNT_KEYS, 0))
            for key in COUNT_KEYS:
                cell[key] += counts[key]
    return [
        MonthRow(
            month=date.fromisoformat(month),
            no_show_rate_reminded=_share(r["no_show_r"], r["happened_r"]),
            no_show_rate_not_reminded=_share(r["no_show_n"], r["happened_n"]),
            coverage=_share(r["covered"], r["booked"]),
            question_compliance=_share(r["asked"], r["desk"]),
            late_cancellations=r["late"],
            contacts=r["contacts"],
        )
        for month, r in sorted(totals.items())
    ]


def baseline_rate(clinics: QuerySet[Clinic], year: int = 2023) -> float | None:
    from django.db.models import Avg

    from .models import NoShowBaseline

    value = NoShowBaseline.objects.filter(clinic__in=clinics, year=year).aggregate(r=Avg("rate"))
    return float(value["r"]) if value["r"] is not None else None


@dataclass(frozen=True)
class DeliveryRow:
    month: date
    status: str
    reason: str
    messages: int
    segments: int


def delivery_counts(clinic_ids: list[int]) -> dict[int, list[tuple[str, str, str, int, int]]]:
    """clinic → [(month, status, reason, messages, segments)] for the last twelve months."""
    from django.db.models import Sum

    from reminders.models import Message

    rows = (
        Message.objects.filter(appointment__clinic_id__in=clinic_ids, due_at__gte=report_since())
        .annotate(month=TruncMonth("due_at"))
        .values("appointment__clinic_id", "month", "status", "reason")
        .annotate(n=Count("id"), segments=Sum("segments"))
    )
    out: dict[int, list[tuple[str, str, str, int, int]]] = {}
    for r in rows:
        out.setdefault(r["appointment__clinic_id"], []).append(
            (_day(r["month"]).isoformat(), r["status"], r["reason"], r["n"], r["segments"] or 0)
        )
    return out


def refresh_delivery_counts(
    clinic_ids: list[int],
) -> dict[int, list[tuple[str, str, str, int, int]]]:
    fresh = delivery_counts(clinic_ids)
    cache.set_many(
        {f"report:delivery:{i}": fresh.get(i, []) for i in clinic_ids}, REPORT_CACHE_SECONDS
    )
    return fresh


def delivery(clinics: QuerySet[Clinic]) -> list[DeliveryRow]:
    """Messages per month by final state and reason (suppressed by reason), with segments,
    from the per-clinic counts kept in the cache."""
    ids = list(clinics.values_list("pk", flat=True))
    cached = cache.get_many([f"report:delivery:{i}" for i in ids])
    per_clinic = {int(key.rsplit(":", 1)[1]): value for key, value in cached.items()}
    missing = [i for i in ids if i not in per_clinic]
    if missing:
        per_clinic.update(refresh_delivery_counts(missing))
    totals: dict[tuple[str, str, str], list[int]] = {}
    for rows in per_clinic.values():
        for month, status, reason, n, segments in rows:
            cell = totals.setdefault((month, status, reason), [0, 0])
            cell[0] += n
            cell[1] += segments
    return [
        DeliveryRow(date.fromisoformat(month), status, reason, n, segments)
        for (month, status, reason), (n, segments) in sorted(totals.items())
    ]
