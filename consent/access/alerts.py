"""The alerts an auditor sees first (HSLF-FS 2016:40 chapter 4): single reads (listings
and the auditors' own reads left out) of a period that call for a look —

- a patient with protected identity read;
- a staff member reading a patient who has no booking at any of the staff member's
  units (nor at a clinic a unit of theirs registers arrivals for);
- a staff member reading more patients in one clock hour than AUDIT_ALERT_READS_PER_HOUR;
- a read at a unit outside its opening hours (AUDIT_OPENING_HOURS on AUDIT_OPENING_DAYS).

Each is a queryset of the log rows behind it: its count is the alert's count."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import date, time, timedelta

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import ExtractHour, ExtractIsoWeekDay, ExtractMinute, TruncHour
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from bookings.models import Appointment
from core.access_log.models import AccessLog

from .models import AUDIT_READS, LISTINGS
from .rules import parse_opening_hours
from .selectors import period_bounds

KINDS = ("protected", "no_booking", "many_per_hour", "outside_hours")
TITLES = {
    "protected": _("Läsningar av patienter med skyddad identitet"),
    "no_booking": _("Läsningar av patienter utan bokning vid användarens enheter"),
    "many_per_hour": _("Många patienter på en timme"),
    "outside_hours": _("Läsningar utanför enhetens öppettider"),
}


@dataclass(frozen=True)
class Alert:
    kind: str
    title: str
    rows: QuerySet[AccessLog]


def _single_reads(date_from: date, date_to: date) -> QuerySet[AccessLog]:
    start, end = period_bounds(date_from, date_to)
    return (
        AccessLog.objects.filter(created_at__gte=start, created_at__lt=end)
        .exclude(action__in=LISTINGS + AUDIT_READS)
        .select_related("user__staff_identity", "client", "clinic", "patient")
        .order_by("-created_at", "-id")
    )


def protected_reads(date_from: date, date_to: date) -> QuerySet[AccessLog]:
    return _single_reads(date_from, date_to).filter(patient__protected_identity=True)


def reads_without_booking(date_from: date, date_to: date) -> QuerySet[AccessLog]:
    booked_here = Appointment.objects.filter(patient=OuterRef("patient_id")).filter(
        Q(clinic__staff=OuterRef("user_id")) | Q(clinic__served_by__staff=OuterRef("user_id"))
    )
    return (
        _single_reads(date_from, date_to)
        .filter(user__isnull=False, patient__isnull=False)
        .exclude(Exists(booked_here))
    )


def many_per_hour(date_from: date, date_to: date) -> QuerySet[AccessLog]:
    """The reads of each (staff member, clock hour) in which they read more different
    patients than the setting allows."""
    limit = settings.AUDIT_ALERT_READS_PER_HOUR
    zone = timezone.get_current_timezone()
    reads = _single_reads(date_from, date_to).filter(user__isnull=False, patient__isnull=False)
    hours = (
        reads.order_by()
        .annotate(hour=TruncHour("created_at", tzinfo=zone))
        .values("user_id", "hour")
        .annotate(patients=Count("patient_id", distinct=True))
        .filter(patients__gt=limit)
        .values_list("user_id", "hour")
    )
    flagged = Q(pk__in=[])
    for user_id, hour in hours[:200]:
        flagged |= Q(
            user_id=user_id, created_at__gte=hour, created_at__lt=hour + timedelta(hours=1)
        )
    return reads.filter(flagged)


def outside_hours(date_from: date, date_to: date) -> QuerySet[AccessLog]:
    opening = parse_opening_hours(settings.AUDIT_OPENING_HOURS, settings.AUDIT_OPENING_DAYS)
    zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    opens = opening.opens.hour * 60 + opening.opens.minute
    closes = (
        24 * 60 if opening.closes == time.max else opening.closes.hour * 60 + opening.closes.minute
    )
    return (
        _single_reads(date_from, date_to)
        .filter(user__isnull=False, clinic__isnull=False)
        .annotate(
            local_minute=ExtractHour("created_at", tzinfo=zone) * 60
            + ExtractMinute("created_at", tzinfo=zone),
            local_weekday=ExtractIsoWeekDay("created_at", tzinfo=zone),
        )
        .filter(
            ~Q(local_weekday__in=sorted(opening.days))
            | Q(local_minute__lt=opens)
            | Q(local_minute__gte=closes)
        )
    )


FINDERS = {
    "protected": protected_reads,
    "no_booking": reads_without_booking,
    "many_per_hour": many_per_hour,
    "outside_hours": outside_hours,
}


def audit_alerts(date_from: date, date_to: date) -> list[Alert]:
    return [Alert(kind, str(TITLES[kind]), FINDERS[kind](date_from, date_to)) for kind in KINDS]
