"""Read-only report queries for the dashboard (rules 3.8): no-shows and coverage per month,
delivery, and each clinic's recent no-shows against its 2023 baseline. Each is one or two
aggregate queries, kept per clinic (kept.py: the cache, and the database behind it). The
migration's lists are in `left_out.py`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import TruncMonth
from django.utils import timezone

from bookings.models import Appointment, Clinic

from .kept import REPORT_CACHE_SECONDS, kept_read, kept_write

__all__ = ["REPORT_CACHE_SECONDS"]


def day_of(value: date | datetime) -> date:
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
    # The counts each rate is of: contacts that happened with and without a sent
    # reminder, booked contacts, and arrivals registered at an asking desk.
    reminded_contacts: int = 0
    not_reminded_contacts: int = 0
    booked: int = 0
    desk_arrivals: int = 0


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


def report_since(months: int = 12) -> datetime:
    first = timezone.localdate().replace(day=1)
    for _ in range(months - 1):
        first = (first - timedelta(days=1)).replace(day=1)
    return datetime.combine(first, datetime.min.time(), tzinfo=timezone.get_current_timezone())


def monthly_counts(clinic_ids: list[int], since: datetime) -> dict[int, dict[str, dict[str, int]]]:
    """clinic → month (ISO date) → counts, for contacts from `since` until now. Two
    aggregate queries, each testing for a sent reminder once, in WHERE (the same test in
    every FILTER clause made PostgreSQL evaluate it six times a contact)."""
    from consent.models import ArrivalQuestion
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
    # The SMS question asked at this contact's arrival (one taken back by an undo does
    # not count; a contact has at most one that stands).
    asked_here = Exists(
        ArrivalQuestion.objects.filter(appointment=OuterRef("pk"), undo__isnull=True).exclude(
            outcome="not_asked"
        )
    )
    out: dict[int, dict[str, dict[str, int]]] = {}
    for suffix, queryset in (("r", contacts.filter(reminded)), ("n", contacts.filter(~reminded))):
        rows = (
            queryset.annotate(month=TruncMonth("starts_at"))
            .values("clinic_id", "month")
            .annotate(
                happened=Count("id", filter=Q(status__in=["arrived", "completed", "no_show"])),
                no_show=Count("id", filter=Q(status="no_show")),
                booked=Count("id", filter=~Q(status__in=["cancelled", "withdrawn", "tentative"])),
                desk=Count("id", filter=desk),
                asked=Count("id", filter=desk & Q(asked_here)),
                late=Count("id", filter=Q(late_cancellation=True)),
                contacts=Count("id"),
            )
        )
        for row in rows:
            cell = out.setdefault(row["clinic_id"], {}).setdefault(
                day_of(row["month"]).isoformat(), dict.fromkeys(COUNT_KEYS, 0)
            )
            cell[f"happened_{suffix}"] += row["happened"]
            cell[f"no_show_{suffix}"] += row["no_show"]
            cell["booked"] += row["booked"]
            cell["covered"] += row["booked"] if suffix == "r" else 0
            for key in ("desk", "asked", "late", "contacts"):
                cell[key] += row[key]
    return out


MONTHLY = "report:monthly"


def monthly_suffix(since: datetime | None = None) -> str:
    """The kept monthly counts' key ends with the window's first day (this window's)."""
    return f":{(since or report_since()).date().isoformat()}"


def monthly_earlier(since: datetime | None = None) -> str:
    """The key's end of the window the month before (the one kept until the 1st)."""
    first = (since or report_since()).date()
    return f":{(first - timedelta(days=1)).replace(day=1).isoformat()}"


def refresh_monthly_counts(clinic_ids: list[int]) -> dict[int, dict[str, dict[str, int]]]:
    """Computes the clinics' monthly counts and keeps them."""
    since = report_since()
    fresh = monthly_counts(clinic_ids, since)
    kept_write(MONTHLY, {i: fresh.get(i, {}) for i in clinic_ids}, suffix=monthly_suffix(since))
    return fresh


def monthly_outcomes(clinics: QuerySet[Clinic]) -> list[MonthRow]:
    """Per month (local), over the given clinics: no-show rates with and without a sent
    reminder, reminder coverage, SMS-question compliance and late cancellations. Counts
    are kept per clinic (a Celery task refreshes them; kept.py), so any set of clinics
    sums them in memory."""
    since = report_since()
    per_clinic = kept_read(
        MONTHLY,
        clinics.values_list("pk", flat=True),
        lambda ids: monthly_counts(ids, since),
        {},
        suffix=monthly_suffix(since),
        earlier=monthly_earlier(since),
    )
    first = since.date().isoformat()
    totals: dict[str, dict[str, int]] = {}
    for months in per_clinic.values():
        for month, counts in months.items():
            if month < first:  # the window before's first month (kept until the 1st)
                continue
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
            reminded_contacts=r["happened_r"],
            not_reminded_contacts=r["happened_n"],
            booked=r["booked"],
            desk_arrivals=r["desk"],
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
            (day_of(r["month"]).isoformat(), r["status"], r["reason"], r["n"], r["segments"] or 0)
        )
    return out


def refresh_delivery_counts(
    clinic_ids: list[int],
) -> dict[int, list[tuple[str, str, str, int, int]]]:
    fresh = delivery_counts(clinic_ids)
    kept_write("report:delivery", {i: fresh.get(i, []) for i in clinic_ids})
    return fresh


def delivery(clinics: QuerySet[Clinic]) -> list[DeliveryRow]:
    """Messages per month by final state and reason (suppressed by reason), with segments,
    from the per-clinic counts kept (kept.py)."""
    per_clinic = kept_read(
        "report:delivery", clinics.values_list("pk", flat=True), delivery_counts, []
    )
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


# --- No-shows against the 2023 baseline, per clinic -----------------------------------
@dataclass(frozen=True)
class RecentNoShows:
    rate: float | None  # no-shows / contacts that happened, the last four weeks
    baseline: float | None  # the clinic's 2023 rate
    contacts: int

    @property
    def above_baseline(self) -> bool:
        return self.rate is not None and self.baseline is not None and self.rate > self.baseline


def recent_counts(clinic_ids: list[int], *, weeks: int = 4) -> dict[int, tuple[int, int]]:
    """clinic → (no-shows, contacts that happened) in the last `weeks` weeks. One
    aggregate query."""
    now = timezone.now()
    rows = (
        Appointment.objects.filter(
            clinic_id__in=clinic_ids, starts_at__gte=now - timedelta(weeks=weeks), starts_at__lt=now
        )
        .values("clinic_id")
        .annotate(
            happened=Count("id", filter=Q(status__in=["arrived", "completed", "no_show"])),
            no_show=Count("id", filter=Q(status="no_show")),
        )
    )
    return {r["clinic_id"]: (r["no_show"], r["happened"]) for r in rows}


def refresh_recent_counts(clinic_ids: list[int]) -> dict[int, tuple[int, int]]:
    fresh = recent_counts(clinic_ids)
    kept_write("report:recent", {i: fresh.get(i, (0, 0)) for i in clinic_ids})
    return fresh


def recent_no_shows(clinics: QuerySet[Clinic]) -> dict[int, RecentNoShows]:
    """Per clinic: the no-show rate of the last four weeks and the 2023 baseline, so a
    clinic where reminders stopped helping is flagged. The counts are kept per clinic like
    the dashboard's (refreshed every five minutes); one read of the baselines."""
    from .models import NoShowBaseline

    ids = list(clinics.values_list("pk", flat=True))
    counts = kept_read("report:recent", ids, recent_counts, (0, 0))
    baselines = dict(
        NoShowBaseline.objects.filter(clinic_id__in=ids, year=2023).values_list("clinic_id", "rate")
    )
    return {
        pk: RecentNoShows(
            rate=_share(*counts[pk]),
            baseline=float(baselines[pk]) if pk in baselines else None,
            contacts=counts[pk][1],
        )
        for pk in ids
    }


# --- The failed-SMS worklists' count ---------------------------------------------------
def failed_sms_ids(clinic_ids: list[int]) -> dict[int, list[int]]:
    """clinic → the messages on its failed-SMS worklist (reminders/followup.py)."""
    from reminders.followup import failed_sms_open_ids

    return failed_sms_open_ids(Clinic.objects.filter(pk__in=clinic_ids))


def refresh_failed_sms(clinic_ids: list[int]) -> dict[int, list[int]]:
    fresh = failed_sms_ids(clinic_ids)
    kept_write("report:failed", {i: fresh.get(i, []) for i in clinic_ids})
    return fresh


def failed_sms_waiting(clinics: QuerySet[Clinic]) -> int:
    """SMS waiting on these clinics' worklists, each counted once (a central reception's
    list overlaps those of the clinics it serves), from the lists kept per clinic like the
    dashboard's other counts: the worklist page itself is read live."""
    kept = kept_read("report:failed", clinics.values_list("pk", flat=True), failed_sms_ids, [])
    return len({pk for ids in kept.values() for pk in ids})
