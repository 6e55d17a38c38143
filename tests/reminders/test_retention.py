"""Retention (rules 3.10): after RETENTION_DAYS the SMS texts and numbers, delivery-report
payloads and e-service cases' free text and numbers are erased, and the reports give the
same numbers as before."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from bookings.models import Appointment
from consent.cases.models import EServiceCase
from reminders.delivery import delivery_report_apply
from reminders.dispatch import dispatch_in_process
from reminders.gateways import DeliveryUpdate
from reminders.models import DeliveryReport, Message
from reporting.selectors import delivery_counts, monthly_counts, report_since

pytestmark = pytest.mark.django_db


def test_old_sms_texts_numbers_and_reports_are_erased_and_the_reports_stay_the_same(
    booked: Callable[..., Appointment], recording: Any, settings: Any
) -> None:
    settings.RETENTION_DAYS = 90
    long_ago = timezone.now() - timedelta(days=120)
    with time_machine.travel(long_ago):
        old = booked()
        dispatch_in_process()
        message = Message.objects.get(appointment=old)
        delivery_report_apply(
            DeliveryUpdate(message.pk, "delivered", "r1", None, {"to": message.to}, "recording")
        )
    recent = booked()
    dispatch_in_process()
    clinics = list({old.clinic_id, recent.clinic_id})
    since = report_since(12)
    before = (monthly_counts(clinics, since), delivery_counts(clinics))

    out = StringIO()
    call_command("erase_expired_personal_data", stdout=out)
    assert "Gallrat: 1 sms, 1 leveransrapporter" in out.getvalue()

    message.refresh_from_db()
    assert (message.to, message.body, message.status, message.segments) == ("", "", "delivered", 1)
    assert DeliveryReport.objects.get().raw == {}
    kept = Message.objects.get(appointment=recent)
    assert kept.to and kept.body  # younger than RETENTION_DAYS
    assert (monthly_counts(clinics, since), delivery_counts(clinics)) == before


def test_old_e_service_cases_lose_their_free_text_and_number(settings: Any) -> None:
    settings.RETENTION_DAYS = 90
    from consent.cases.models import CaseStatus
    from core.models import ApiClient, Scope
    from core.services import api_client_create
    from tests.factories import ClinicFactory, GuardianshipFactory

    client: ApiClient = api_client_create(name="e", scopes=[Scope.ESERVICE])[0]
    link = GuardianshipFactory(child__age=6)
    clinic = ClinicFactory()
    case = EServiceCase.objects.create(
        external_id="OLD-1",
        received_at_clinic=clinic,
        submitted_by=link.guardian,
        subject=link.child,
        action="guardian_number",
        mobile_number="+46701112233",
        message="Ring mig på kvällen",
        request_digest="x",
        client=client,
        status=CaseStatus.RESOLVED,
        reply="Numret är registrerat.",
        resolved_at=timezone.now() - timedelta(days=91),
    )
    call_command("erase_expired_personal_data", stdout=StringIO())
    case.refresh_from_db()
    assert (case.message, case.mobile_number, case.status, case.reply) == (
        "",
        "",
        "resolved",
        "Numret är registrerat.",
    )
