"""Keeps the dashboard's per-clinic counts warm, so the page never scans a year of contacts
while a manager waits."""

from __future__ import annotations

from celery import shared_task

from bookings.models import Clinic

from . import left_out, selectors


@shared_task(name="reporting.tasks.refresh_dashboard", ignore_result=True)
def refresh_dashboard() -> dict[str, int]:
    ids = list(Clinic.objects.values_list("pk", flat=True))
    selectors.refresh_monthly_counts(ids)
    left_out.refresh_caught_counts(ids)
    selectors.refresh_delivery_counts(ids)
    left_out.refresh_exclusion_counts(ids)
    return {"clinics": len(ids)}
