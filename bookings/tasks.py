"""Celery tasks of the registry. The beat runs `fhir_pull` every 15 s (an interval); the task
polls the booking system's FHIR server when FHIR_PULL_INTERVAL has passed (sooner after a
failure) and returns at once otherwise, or when the connector is off."""

from __future__ import annotations

from celery import shared_task

from .fhir.pull.poll import fhir_pull_poll

FHIR_PULL_TASK_NAME = "bookings: poll the booking system's FHIR server"


@shared_task(name="bookings.tasks.fhir_pull", ignore_result=True)
def fhir_pull() -> dict[str, object]:
    report = fhir_pull_poll()
    return {"ran": report.ran, "applied": report.applied, "error": report.error}
