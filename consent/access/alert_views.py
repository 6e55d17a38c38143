"""The auditor's alerts for a period, each with its count and the rows behind it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone

from bookings.units import current_clinic
from core.access_log.models import AccessLog
from core.access_log.services import access_log_record_many
from core.staff import AUDIT_ROLES, AuthedRequest, role_required

from .alerts import audit_alerts
from .forms import PeriodForm
from .rows import what, who

SHOWN = 100  # rows shown per alert; the count says how many there are


@role_required(*AUDIT_ROLES)
def alerts(request: AuthedRequest) -> HttpResponse:
    today = timezone.localdate()
    period = PeriodForm(
        request.GET
        or {"date_from": (today - timedelta(days=29)).isoformat(), "date_to": today.isoformat()}
    )
    sections: list[dict[str, Any]] = []
    if period.is_valid():
        found = audit_alerts(period.cleaned_data["date_from"], period.cleaned_data["date_to"])
        for alert in found:
            rows = list(alert.rows[:SHOWN])
            sections.append(
                {
                    "alert": alert,
                    "count": alert.rows.count(),
                    "rows": [(row, who(row), what(row)) for row in rows],
                }
            )
        access_log_record_many(
            actor=request.user,
            clinic=current_clinic(request),
            action=AccessLog.Action.AUDIT_LIST,
            patient_ids=[
                row.patient_id
                for section in sections
                for row, _who, _what in section["rows"]
                if row.patient_id is not None
            ],
        )
    return render(
        request,
        "consent/alerts.html",
        {
            "period": period,
            "sections": sections,
            "shown": SHOWN,
            "per_hour": settings.AUDIT_ALERT_READS_PER_HOUR,
            "opening_hours": settings.AUDIT_OPENING_HOURS,
            "opening_days": settings.AUDIT_OPENING_DAYS,
        },
    )
