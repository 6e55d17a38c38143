"""The auditor's search of the access log and the consent events."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, Max, Min, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import TruncDate
from django.utils import timezone

from bookings.models import Clinic, Patient
from core.access_log.models import AccessLog

from ..models import ConsentEvent
from .models import AccessCheck, AccessCheckItem, AccessCheckReview, ReviewOutcome


def access_log_search(
    *,
    patient: str = "",
    user: str = "",
    clinic: Clinic | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    action: str = "",
) -> tuple[QuerySet[AccessLog], QuerySet[ConsentEvent]]:
    """The access log and the consent events, filtered alike, newest first. `action`
    narrows the access log to one kind of read, to every read of a single patient
    ("single": no listings, which a download writes by the thousand), or to the auditors'
    own reads ("audit"), which are otherwise left out: reading the log is not news."""
    from .forms import AUDIT, AUDIT_READS, LISTINGS, SINGLE

    log = AccessLog.objects.select_related("user__staff_identity", "client", "clinic", "patient")
    if action == SINGLE:
        log = log.exclude(action__in=LISTINGS + AUDIT_READS)
    elif action == AUDIT:
        log = log.filter(action__in=AUDIT_READS)
    elif action:
        log = log.filter(action=action)
    else:
        log = log.exclude(action__in=AUDIT_READS)
    events = ConsentEvent.objects.select_related(
        "patient", "clinic", "handled_at_clinic", "actor_user__staff_identity", "actor_client"
    )
    if patient:
        log = log.filter(Q(patient__personal_id=patient) | Q(searched_for=patient))
        events = events.filter(patient__personal_id=patient)
    if user:
        # by the name as it was logged, and by the actor's present name
        log = log.filter(Q(actor_username=user) | Q(user__username=user) | Q(client__name=user))
        events = events.filter(actor_user__username=user)
    if clinic:
        log = log.filter(clinic=clinic)
        events = events.filter(handled_at_clinic=clinic)
    zone = timezone.get_current_timezone()
    if date_from:
        start = datetime.combine(date_from, time.min, tzinfo=zone)
        log, events = log.filter(created_at__gte=start), events.filter(created_at__gte=start)
    if date_to:
        end = datetime.combine(date_to, time.max, tzinfo=zone)
        log, events = log.filter(created_at__lte=end), events.filter(created_at__lte=end)
    return log.order_by("-created_at", "-id"), events.order_by("-created_at", "-id")


def access_log_api_search(
    *, patient: str = "", since: datetime | None = None, actor: str = ""
) -> QuerySet[AccessLog]:
    """The access log for the API: by patient, time and actor (staff or API client)."""
    log = AccessLog.objects.select_related("user", "client", "clinic", "patient")
    if patient:
        log = log.filter(patient__personal_id=patient)
    if since:
        log = log.filter(created_at__gte=since)
    if actor:
        log = log.filter(Q(actor_username=actor) | Q(user__username=actor) | Q(client__name=actor))
    return log.order_by("-created_at", "-id")


def period_bounds(date_from: date, date_to: date) -> tuple[datetime, datetime]:
    """A period of whole days in Stockholm as [start, end) aware times."""
    zone = timezone.get_current_timezone()
    start = datetime.combine(date_from, time.min, tzinfo=zone)
    end = datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=zone)
    return start, end


def access_log_of_patient(
    *, patient: Patient, date_from: date, date_to: date
) -> QuerySet[AccessLog]:
    """Every read of one patient's data in a period, oldest first (a log extract)."""
    start, end = period_bounds(date_from, date_to)
    return (
        AccessLog.objects.filter(patient=patient, created_at__gte=start, created_at__lt=end)
        .select_related("user__staff_identity", "client", "clinic")
        .order_by("created_at", "id")
    )


# --- Systematic checks -----------------------------------------------------------------------
def check_population(*, clinic: Clinic, date_from: date, date_to: date, last: int) -> Any:
    """The ids of the reads a check draws from, in id order: the single reads made at the
    unit in the period, up to log entry `last` (listings and auditors' reads left out)."""
    from .models import AUDIT_READS, LISTINGS

    start, end = period_bounds(date_from, date_to)
    return (
        AccessLog.objects.filter(
            clinic=clinic, created_at__gte=start, created_at__lt=end, id__lte=last
        )
        .exclude(action__in=LISTINGS + AUDIT_READS)
        .order_by("id")
        .values_list("id", flat=True)
    )


def _latest_outcome() -> Subquery:
    return Subquery(
        AccessCheckReview.objects.filter(item=OuterRef("pk"))
        .order_by("-created_at", "-id")
        .values("outcome")[:1]
    )


def access_checks(*, clinic: Clinic | None = None) -> list[AccessCheck]:
    """The checks, newest period first, each with `drawn`, `reviewed` and `deviations`
    (reads whose latest review is a deviation) and `done` (every read reviewed)."""
    checks = AccessCheck.objects.select_related("clinic", "drawn_by")
    if clinic:
        checks = checks.filter(clinic=clinic)
    found = list(checks.order_by("-date_from", "clinic__name", "-id"))
    items = AccessCheckItem.objects.filter(check_run__in=found).annotate(outcome=_latest_outcome())
    tally: dict[int, list[int]] = {c.pk: [0, 0, 0] for c in found}
    for check_id, outcome in items.values_list("check_run_id", "outcome"):
        counts = tally[check_id]
        counts[0] += 1
        counts[1] += outcome is not None
        counts[2] += outcome == ReviewOutcome.DEVIATION
    for check in found:
        check.drawn, check.reviewed, check.deviations = tally[check.pk]  # type: ignore[attr-defined]
        check.done = check.reviewed == check.drawn  # type: ignore[attr-defined]
    return found


def access_check_items(check: AccessCheck) -> list[AccessCheckItem]:
    """The reads drawn into a check, in the order drawn, each with its reviews newest
    first (`item.reviews.all()`)."""
    return list(
        AccessCheckItem.objects.filter(check_run=check)
        .select_related(
            "entry__user__staff_identity", "entry__client", "entry__clinic", "entry__patient"
        )
        .prefetch_related(
            Prefetch(
                "reviews",
                queryset=AccessCheckReview.objects.select_related("reviewed_by").order_by(
                    "-created_at", "-id"
                ),
            )
        )
        .order_by("position")
    )


# --- The audit page's rows: repeats grouped ---------------------------------------------------
GROUP_KEY = (
    "user_id",
    "client_id",
    "clinic_id",
    "patient_id",
    "searched_for",
    "action",
    "actor_full_name",
    "actor_hsa_id",
    "actor_roles",
)


def access_log_grouped(log: QuerySet[AccessLog]) -> QuerySet[Any]:
    """The same read repeated on one day (the same person, unit, patient and action: a
    desk list reloaded all morning) as one row with its count and first and last time,
    newest first."""
    zone = timezone.get_current_timezone()
    return (
        log.order_by()
        .annotate(day=TruncDate("created_at", tzinfo=zone))
        .values(*GROUP_KEY, "day")
        .annotate(times=Count("id"), first_at=Min("created_at"), last_at=Max("created_at"))
        .order_by("-last_at", "-day", "patient_id", "action")
    )


def access_log_rows(groups: list[dict[str, Any]]) -> list[AccessLog]:
    """Grouped rows as log entries (unsaved, for `rows.who` and the templates), with
    `times` and `first_at`, the users, clients, units and patients read in bulk."""
    from django.contrib.auth import get_user_model

    from core.models import ApiClient

    def by_pk(model: Any, key: str, *related: str) -> dict[int, Any]:
        pks = {g[key] for g in groups if g[key] is not None}
        return model.objects.select_related(*related).in_bulk(pks) if pks else {}

    users = by_pk(get_user_model(), "user_id", "staff_identity")
    clients = by_pk(ApiClient, "client_id")
    clinics = by_pk(Clinic, "clinic_id")
    patients = by_pk(Patient, "patient_id")
    rows = []
    for g in groups:
        entry = AccessLog(
            user=users.get(g["user_id"]),
            client=clients.get(g["client_id"]),
            clinic=clinics.get(g["clinic_id"]),
            patient=patients.get(g["patient_id"]),
            searched_for=g["searched_for"],
            action=g["action"],
            actor_full_name=g["actor_full_name"],
            actor_hsa_id=g["actor_hsa_id"],
            actor_roles=g["actor_roles"],
            created_at=g["last_at"],
        )
        entry.times = g["times"]  # type: ignore[attr-defined]
        entry.first_at = g["first_at"]  # type: ignore[attr-defined]
        rows.append(entry)
    return rows


def unusual_readers(*, on: date, threshold: int) -> list[tuple[str, int]]:
    """Staff users who read at least `threshold` single patients on the local day `on`
    (no listings: the desk and the reports list patients by the hundred), as (username
    as logged, reads), most first: the auditors' alert (issue 29.8). Empty when the
    threshold is 0."""
    from .forms import LISTINGS

    if threshold <= 0:
        return []
    start = datetime.combine(on, time.min, tzinfo=timezone.get_current_timezone())
    rows = (
        AccessLog.objects.filter(
            user__isnull=False, created_at__gte=start, created_at__lt=start + timedelta(days=1)
        )
        .exclude(action__in=LISTINGS)
        .values("user__username")
        .annotate(reads=Count("id"))
        .filter(reads__gte=threshold)
        .order_by("-reads", "user__username")
    )
    return [(row["user__username"], row["reads"]) for row in rows]
