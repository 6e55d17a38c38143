"""Reads of the case queues."""

from __future__ import annotations

from django.db.models import QuerySet

from bookings.models import Clinic

from .models import CaseStatus, EServiceCase


def open_cases(clinics: QuerySet[Clinic]) -> QuerySet[EServiceCase]:
    """Cases waiting in the queues of these clinics, oldest first."""
    return (
        EServiceCase.objects.filter(received_at__in=clinics, status=CaseStatus.RECEIVED)
        .select_related("received_at", "subject", "submitted_by", "clinic")
        .order_by("created_at", "id")
    )


def handled_cases(clinics: QuerySet[Clinic], limit: int = 20) -> QuerySet[EServiceCase]:
    return (
        EServiceCase.objects.filter(received_at__in=clinics)
        .exclude(status=CaseStatus.RECEIVED)
        .select_related("received_at", "subject", "resolved_by", "standard_reply")
        .order_by("-resolved_at", "-id")[:limit]
    )
