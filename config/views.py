"""Site-wide pages: the start page and error pages (problem+json under /api/)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from bookings.units import clinics_for
from core.staff import Role, user_roles


def _problem(status: int, title: str, detail: str) -> JsonResponse:
    return JsonResponse(
        {"type": "about:blank", "status": status, "title": title, "detail": detail, "errors": []},
        status=status,
        content_type="application/problem+json",
        json_dumps_params={"ensure_ascii": False},
    )


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith("/api/"):
        return _problem(404, "Finns inte", f"Ingen resurs på {request.path}.")
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return _problem(500, "Internt fel", "Ett oväntat fel inträffade. Inget har sparats.")
    return render(request, "500.html", status=500)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    roles = user_roles(request.user)
    return render(
        request,
        "home.html",
        {
            # The roles by their Swedish names, in the order of Role.
            "roles": [role.label for role in Role if role.value in roles],
            "clinics": clinics_for(request.user),
            # The API documentation is for those who set up integrations, not the desk.
            "shows_api_docs": Role.REGIONAL_ADMIN in roles,
        },
    )
