"""Pages every staff member has, whatever their role."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from core.params import object_id
from core.staff import AuthedRequest, safe_next

from .services import last_unit_remember
from .units import clinics_for


@require_POST
@login_required
def choose_clinic(request: AuthedRequest) -> HttpResponse:
    """The unit the user works at right now (the header's picker), kept for their next
    login too."""
    chosen = object_id(request.POST.get("clinic"))
    clinic = clinics_for(request.user).filter(pk=chosen).first() if chosen else None
    if clinic is not None:
        request.session["clinic_id"] = clinic.pk
        last_unit_remember(user=request.user, clinic=clinic)
    return redirect(safe_next(request))
