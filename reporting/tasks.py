"""Keeps the reports' per-clinic counts current (kept.py: the cache and the database), so
a page never scans a year of contacts while a manager waits."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from bookings.models import Clinic

from . import kept, left_out, selectors


@shared_task(name="reporting.tasks.refresh_dashboard", ignore_result=True)
def refresh_dashboard() -> dict[str, int]:
    started = timezone.now()
    ids = list(Clinic.objects.values_list("pk", flat=True))
    selectors.refresh_monthly_counts(ids)
    selectors.refresh_recent_counts(ids)
    selectors.refresh_failed_sms(ids)
    left_out.refresh_caught_counts(ids)
    selectors.refresh_delivery_counts(ids)
    left_out.refresh_exclusion_counts(ids)
    # What this run did not write is of a month that left the window: forgotten a day on.
    kept.kept_prune(started - timedelta(days=1))
    return {"clinics": len(ids)}
