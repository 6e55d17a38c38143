"""The auditor's search of the access log and the consent events."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from bookings.models import Clinic

from ..models import ConsentEvent
from .models import AccessLog


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
    narrows the access log to one kind of read, or to every read of a single patient
    ("single": no listings, which a download writes by the thousand)."""
    from .forms import LISTINGS, SINGLE

    log = AccessLog.objects.select_related("user__staff_identity", "client", "clinic", "patient")
    if action == SINGLE:
        log = log.exclude(action__in=LISTINGS)
    elif action:
        log = log.filter(action=action)
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
