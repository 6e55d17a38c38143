from typing import Any

from django.http import HttpRequest

from bookings.roles import Role, clinics_for, has_role

from . import selectors


def backoffice(request: HttpRequest) -> dict[str, Any]:
    """The header's facts: open cases in the user's queues and the clinic worked at."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    care = has_role(user, Role.RECEPTION, Role.MANAGER, Role.REGIONAL_ADMIN)
    from .views import current_clinic

    return {
        "is_care": care,
        "is_auditor": has_role(user, Role.AUDITOR, Role.REGIONAL_ADMIN),
        "is_manager": has_role(user, Role.MANAGER, Role.REGIONAL_ADMIN),
        "open_case_count": selectors.open_cases(clinics_for(user)).count() if care else 0,
        "current_clinic": current_clinic(request) if care else None,
        "my_clinics": clinics_for(user).order_by("name") if care else [],
    }
