"""The self check-in page behind the link in the check-in SMS: mobile first, Swedish, and
without any personal data (whoever holds the phone sees only clinic and time). And
reception's failed-SMS worklist, and the SMS history panel of the patient page."""

from __future__ import annotations

import re

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from bookings.models import Patient
from bookings.units import current_clinic
from core.access_log.models import AccessLog
from core.access_log.services import access_log_record_many
from core.errors import DomainError
from core.staff import CARE_ROLES, AuthedRequest, client_address, role_required

from . import sql
from .checkin import CHECKIN_OPENS, checkin_register, checkin_state
from .followup import failed_sms_follow_up, failed_sms_worklist, sms_history
from .models import Message
from .payment_views import pay_context
from .payments import SWISH, payment_start

TOKEN_FORM = re.compile(r"[A-Za-z0-9_-]{1,32}")


def _too_many_misses(request: HttpRequest) -> bool:
    misses: int = cache.get(f"checkin-miss:{client_address(request)}", 0)
    limit: int = settings.CHECKIN_MAX_MISSES
    return misses >= limit


def _count_miss(request: HttpRequest) -> None:
    key = f"checkin-miss:{client_address(request)}"
    if cache.add(key, 1, settings.CHECKIN_MISS_WINDOW):
        return
    try:
        cache.incr(key)
    except ValueError:  # expired in between
        cache.add(key, 1, settings.CHECKIN_MISS_WINDOW)


def checkin_message(token: str) -> Message | None:
    # A link we made is URL-safe base64 (reminders.schedule): anything else is unknown
    # without asking the database (which refuses some characters outright).
    if not TOKEN_FORM.fullmatch(token):
        return None
    return sql.checkin_link(token)  # one prepared statement on PostgreSQL


@never_cache
@require_http_methods(["GET", "POST"])
def checkin(request: HttpRequest, token: str) -> HttpResponse:
    message: Message | None
    if request.method == "POST" and TOKEN_FORM.fullmatch(token):
        try:
            # The POST's only read of the link: locked, in the check-in's transaction.
            check_in = checkin_register(token=token)
        except Message.DoesNotExist:
            message = None
        except DomainError:  # the state below says why, in words the patient understands
            message = checkin_message(token)
        else:
            if check_in.payment_status == SWISH:
                payment_start(check_in=check_in)
            message = check_in.message
            message.check_in = check_in  # read before it was made
            return render(
                request,
                "reminders/checkin.html",
                {
                    **_checkin_context(token, message),
                    "state": "done",
                    "pay": pay_context(message, refresh=False),
                    "checked_in_at": timezone.localtime(check_in.checked_in_at),
                },
            )
    else:
        message = checkin_message(token)
    if message is None:
        # Only unknown links count against an address: behind a carrier's NAT many
        # patients share one, and a real link must always open.
        if _too_many_misses(request):
            return render(request, "reminders/checkin.html", {"state": "throttled"}, status=429)
        _count_miss(request)
        return render(request, "reminders/checkin.html", {"state": "unknown"}, status=404)
    state = checkin_state(message, now=timezone.now())
    return render(
        request,
        "reminders/checkin.html",
        {**_checkin_context(token, message), "state": state, "pay": pay_context(message)},
        status=200 if state in ("open", "used", "not_yet") else 410,
    )


def _checkin_context(token: str, message: Message) -> dict[str, object]:
    appointment = message.appointment
    return {
        "token": token,
        "clinic": appointment.clinic.sms_name,
        "starts_at": timezone.localtime(appointment.starts_at),
        "opens_at": timezone.localtime(appointment.starts_at - CHECKIN_OPENS),
    }


@role_required(*CARE_ROLES)
def worklist(request: AuthedRequest) -> HttpResponse:
    """The clinic's patients whose last SMS failed for their number (rules 3.5b)."""
    clinic = current_clinic(request)
    rows = failed_sms_worklist(clinic) if clinic else []
    access_log_record_many(
        actor=request.user,
        clinic=clinic,
        action=AccessLog.Action.WORKLIST,
        patient_ids=[row.patient.pk for row in rows],
    )
    return render(request, "reminders/worklist.html", {"clinic": clinic, "rows": rows})


@require_POST
@role_required(*CARE_ROLES)
def worklist_handled(request: AuthedRequest, message_id: int) -> HttpResponse:
    clinic = current_clinic(request)
    message = get_object_or_404(Message.objects.select_related("appointment"), pk=message_id)
    if clinic is None:
        raise PermissionDenied(_("Välj mottagning i sidhuvudet."))
    try:
        failed_sms_follow_up(message=message, clinic=clinic, actor=request.user)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Markerad som åtgärdad."))
    return redirect("worklist")


def sms_history_panel(request: HttpRequest, patient: Patient) -> str:
    """The patient page's SMS history (the page is consent's; this app adds the panel)."""
    return render_to_string(
        "reminders/sms_history.html", {"rows": sms_history(patient)}, request=request
    )
