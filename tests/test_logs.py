"""No log line holds a personnummer or a phone number (operations 3).

With the demo data, staff of every role and an API client walk the back office and the
API — look-ups, patient pages, the desk, cases, reports, the audit log, the admin, every
API read, bad requests and unknown patients — and a dispatch sends the due reminders.
Every line the logging system writes (through the handler and formatter production
uses) is then searched for every personnummer and phone number in the database, in
every spelling, and for anything shaped like one."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from bookings.models import Appointment, Clinic, Patient
from consent.cases.models import EServiceCase
from core.models import Scope
from core.services import api_client_create
from reminders.dispatch import dispatch_in_process

pytestmark = pytest.mark.slow

# The oracle's own shapes (not the scrubber's): 10 or 12 digits with an optional dash or
# plus before the last four; a Swedish mobile or any +/00 number of 8+ digits.
PERSONAL_ID_SHAPE = re.compile(r"(?<!\d)(?:19|20)?\d{6}[-+]?\d{4}(?!\d)")
PHONE_SHAPE = re.compile(r"(?:\+|00)46[\d ]{8,12}|(?<!\d)07\d[- ]?\d{3}[ ]?\d{2}[ ]?\d{2}(?!\d)")


@pytest.fixture
def captured() -> Iterator[StringIO]:
    """Every record, as production formats it (JSON, with the request's context)."""
    from config.observability import JsonScrubbingFormatter, RequestContextFilter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonScrubbingFormatter())
    handler.addFilter(RequestContextFilter())
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    # The loggers quietened in settings still reach this handler at their own levels.
    yield stream
    root.removeHandler(handler)
    root.setLevel(old_level)


def spellings(personal_id: str) -> set[str]:
    return {personal_id, personal_id[2:], f"{personal_id[:8]}-{personal_id[8:]}",
            f"{personal_id[2:8]}-{personal_id[8:]}"}  # fmt: skip


def number_spellings(e164: str) -> set[str]:
    national = "0" + e164[3:]
    return {e164, national, e164[1:], f"{national[:3]}-{national[3:]}"}


def walk(settings_: Any, tmp_path: Any) -> dict[str, Any]:
    settings_.VAR_DIR = tmp_path
    call_command("load_demo", "--legacy-scale", "0.02", stdout=StringIO())
    staff = {}
    for username in ("reception", "chef", "admin", "granskare"):
        client = Client()
        client.force_login(User.objects.get(username=username))
        staff[username] = client
    patients = list(Patient.objects.order_by("?")[:12]) + list(
        Patient.objects.filter(protected_identity=True)[:2]
    )
    reception, chef, admin = staff["reception"], staff["chef"], staff["admin"]
    for path in ("/", "/desk/", "/cases/", "/worklist/", "/patients/"):
        assert reception.get(path).status_code == 200, path
    for patient in patients:
        reception.post("/patients/", {"q": patient.personal_id})
        assert reception.get(f"/patients/{patient.page_key}/").status_code == 200
        reception.post(f"/patients/{patient.page_key}/activate/", {"channel": "phone"})
    reception.post("/patients/", {"q": "19121212-1212"})  # nobody
    reception.post("/patients/", {"q": "19121212-1213"})  # a wrong check digit
    for case in EServiceCase.objects.all()[:3]:
        reception.get(f"/cases/{case.pk}/")
    for path in ("/reports/", "/reports/migration-exclusions/", "/reports/caught-since/"):
        assert chef.get(path).status_code == 200
    surgery = Clinic.objects.get(name="Kirurgikliniken")
    for suffix in ("/", ".csv", ".xlsx", "/?vy=bokade"):
        response = chef.get(f"/reports/migration-exclusions/{surgery.hsa_id}{suffix}")
        assert response.status_code == 200
        if response.streaming:
            b"".join(response.streaming_content)
    pid = patients[0].personal_id
    staff["granskare"].get("/audit/", {"patient": pid})
    staff["granskare"].get("/audit/", {"patient": pid, "format": "csv"})
    admin.get("/admin/bookings/patient/", {"q": pid})
    admin.get(f"/admin/bookings/patient/{patients[0].pk}/change/")
    admin.get("/admin/reminders/message/")

    _, key = api_client_create(name="loggtest", scopes=Scope.values)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    for patient in patients:
        api.get(f"/api/v1/patients/{patient.personal_id}/sms-status/", {"clinic": surgery.hsa_id})
    api.get("/api/v1/patients/19121212-1212/sms-status/", {"clinic": surgery.hsa_id})  # 404
    api.put(
        "/api/v1/patients/19121212-1212/",
        {"protected_identity": False, "mobile_number": "070-123 45 67",
         "sms_consent_1177": True, "guardians": []},
        format="json",
    )  # fmt: skip
    api.put("/api/v1/patients/19121212-1212/", {"mobile_number": "+4670"}, format="json")
    for appointment in Appointment.objects.filter(external_id__startswith="DEMO-")[:5]:
        api.get(f"/api/v1/appointments/{appointment.external_id}/")
        api.get(f"/api/v1/appointments/{appointment.external_id}/messages/")
    api.get("/api/v1/access-log/", {"patient": pid})
    api.post(
        "/api/v1/eservice/cases/",
        {"external_id": "LOG-1", "received_at": surgery.hsa_id, "submitted_by": pid,
         "subject": "19121212-1213", "action": "guardian_number",
         "mobile_number": "0701112233"},
        format="json",
    )  # fmt: skip
    dispatch_in_process()
    return {"surgery": surgery}


@pytest.mark.django_db
def test_no_log_line_holds_a_personnummer_or_a_phone_number(
    captured: StringIO, settings: Any, tmp_path: Any
) -> None:
    walk(settings, tmp_path)
    lines = [line for line in captured.getvalue().splitlines() if line.strip()]
    assert len(lines) > 100  # the walk was logged (one line per request at least)

    secrets_: set[str] = {"191212121212", "1912121212", "0701234567", "+46701234567"}
    for personal_id, number in Patient.objects.values_list("personal_id", "mobile_number"):
        secrets_ |= spellings(personal_id)
        if number:
            secrets_ |= number_spellings(number)
    leaks = [
        line
        for line in lines
        if any(s in line for s in secrets_)
        or PERSONAL_ID_SHAPE.search(line)
        or PHONE_SHAPE.search(line)
    ]
    assert leaks == [], leaks[:5]


@pytest.mark.django_db
def test_request_lines_carry_the_request_id_the_actor_and_the_unit(
    captured: StringIO, settings: Any
) -> None:
    from tests.factories import ClinicFactory, UserFactory

    clinic = ClinicFactory()
    client = Client()
    client.force_login(UserFactory(username="rebecka", role="reception", clinics=[clinic]))
    session = client.session
    session["clinic_id"] = clinic.pk
    session.save()
    response = client.get("/desk/", HTTP_X_REQUEST_ID="req-abc-xyz-42")
    assert response["X-Request-ID"] == "req-abc-xyz-42"
    records = [json.loads(line) for line in captured.getvalue().splitlines() if line.strip()]
    line = next(r for r in records if r.get("route") == "desk")
    assert (line["request_id"], line["actor"], line["unit"], line["status"]) == (
        "req-abc-xyz-42",
        "staff:rebecka",
        str(clinic.pk),
        200,
    )
    assert settings.LOGGING["handlers"]["console"]["formatter"] == "json"  # production


@pytest.mark.parametrize(
    ("line", "masked"),
    [
        ("Not Found: /api/v1/patients/19121212-1212/", "/api/v1/patients/[personnummer]/"),
        ("search 191212121212 done", "search [personnummer] done"),
        ("to +46701234567", "to [telefonnummer]"),
        ("to 070-123 45 67.", "to [telefonnummer]."),
        ("0046701234567", "[telefonnummer]"),
        ("ids [191212121212,191212121213]", "[[personnummer],[personnummer]]"),
    ],
)
def test_the_last_guard_masks_whatever_a_line_holds(line: str, masked: str) -> None:
    """Whatever a library logs (an exception's text, a third party's message), the
    formatter masks identities and numbers before the line is written."""
    from config.observability import scrub

    assert masked in scrub(line)
    assert scrub("took 12.3 ms at 2026-11-27 13:01:02") == "took 12.3 ms at 2026-11-27 13:01:02"
