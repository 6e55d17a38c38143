"""The self check-in page behind the link in the check-in SMS: mobile first, Swedish, and
without any personal data (whoever holds the phone sees only clinic and time)."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from bookings.errors import DomainError
from bookings.staff import client_address

from .checkin import CHECKIN_OPENS, checkin_register, checkin_state
from .models import Kind, Message


def _too_many_misses(request: HttpRequest) -> bool:
    return cache.get(f"checkin-miss:{client_address(request)}", 0) >= settings.CHECKIN_MAX_MISSES


def _count_miss(request: HttpRequest) -> None:
    key = f"checkin-miss:{client_address(request)}"
    if cache.add(key, 1, settings.CHECKIN_MISS_WINDOW):
        return
    try:
        cache.incr(key)
    except ValueError:  # expired in between
        cache.add(key, 1, settings.CHECKIN_MISS_WINDOW)


@never_cache
@require_http_methods(["GET", "POST"])
def checkin(request: HttpRequest, token: str) -> HttpResponse:
    message = (
        Message.objects.select_related("appointment__clinic")
        .filter(kind=Kind.CHECKIN, checkin_token=token)
        .first()
    )
    if message is None:
        # Only unknown links count against an address: behind a carrier's NAT many
        # patients share one, and a real link must always open.
        if _too_many_misses(request):
            return render(request, "reminders/checkin.html", {"state": "throttled"}, status=429)
        _count_miss(request)
        return render(request, "reminders/checkin.html", {"state": "unknown"}, status=404)
    appointment = message.appointment
    context = {
        "clinic": appointment.clinic.sms_name,
        "starts_at": timezone.localtime(appointment.starts_at),
        "opens_at": timezone.localtime(appointment.starts_at - CHECKIN_OPENS),
    }
    if request.method == "POST":
        try:
            check_in, payment = checkin_register(message=message)
        except DomainError:
            pass  # the state below says why, in words the patient understands
        else:
            return render(
                request,
                "reminders/checkin.html",
                {
                    **context,
                    "state": "done",
                    "payment": payment,
                    "checked_in_at": timezone.localtime(check_in.checked_in_at),
                },
            )
        message.refresh_from_db()
    state = checkin_state(message, now=timezone.now())
    return render(
        request,
        "reminders/checkin.html",
        {**context, "state": state},
        status=200 if state in ("open", "used", "not_yet") else 410,
    )
