"""The site header: who the user is, where they work and what waits for them."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from bookings.units import clinics_for, current_clinic
from consent.cases.selectors import open_cases
from core.staff import AUDIT_ROLES, CARE_ROLES, REPORT_ROLES, has_role


def site_header(request: HttpRequest) -> dict[str, Any]:
    """The header's facts: open cases in the user's queues and the clinic worked at."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    care = has_role(user, *CARE_ROLES)
    return {
        "is_care": care,
        "is_auditor": has_role(user, *AUDIT_ROLES),
        "is_manager": has_role(user, *REPORT_ROLES),
        "open_case_count": open_cases(clinics_for(user)).count() if care else 0,
        "current_clinic": current_clinic(request) if care else None,
        "my_clinics": clinics_for(user).order_by("name") if care else [],
    }
