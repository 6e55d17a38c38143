"""The region's day (bench/day.py): its seed, its requests and how a stage is counted."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from bench.api import fhir_appointment

CHECKIN_HSA = "SE2321000115-E000000001"
CLINICS = [
    (CHECKIN_HSA, "Ortopedkliniken", True),
    ("SE2321000115-E000000002", "Kirurgikliniken", False),
    ("SE2321000115-E000000003", "Hudkliniken", False),
    ("SE2321000115-E000000004", "Ögonkliniken", False),
]
Request = tuple[str, str, dict[str, Any]]  # method, path, httpx keyword arguments


@dataclass
class Stage:
    name: str
    unit: str
    items: int = 0
    busy: float = 0.0  # seconds it had work
    errors: Counter[int] = field(default_factory=Counter)
    limit: float = 0.0  # the same unit a second
    alone: float = 0.0  # for an HTTP stage: the bare endpoint's req/s with the server alone
    first: float | None = None
    last: float = 0.0

    @property
    def rate(self) -> float:
        return self.items / self.busy if self.busy else 0.0

    @property
    def ratio(self) -> float:
        return self.rate / self.limit if self.limit else 0.0

    def add(self, items: int, began: float, ended: float) -> None:
        self.items += items
        self.busy += ended - began
        self.first = began if self.first is None else self.first
        self.last = max(self.last, ended)


# --- Seeding ------------------------------------------------------------------------------
def seed(bookings: int) -> dict[str, Any]:
    """Clinics, one activated adult per booking (personnummer with valid check digits),
    an API client with every scope, a logged-in desk user per clinic (session cookies)."""
    import django

    django.setup()
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.test import Client

    from bookings.identity import personal_id_for
    from bookings.models import Clinic, Patient
    from consent.models import PatientConsent
    from core.models import Scope
    from core.services import api_client_create
    from core.staff import Role
    from tests.factories import UserFactory

    call_command("migrate", "--no-input", "-v", "0")
    from django.utils import timezone

    now = timezone.now()
    clinics = [
        Clinic.objects.create(hsa_id=h, name=n, sms_name=n, self_checkin=s, arrival_question=True)
        for h, n, s in CLINICS
    ]
    first = date(1950, 1, 1)
    Patient.objects.bulk_create(
        Patient(
            personal_id=personal_id_for(first + timedelta(days=i % 20000), 1 + i // 20000),
            birth_date=first + timedelta(days=i % 20000),
            mobile_number=f"+4670{i:07d}",
            number_source="1177",
            synced_1177_at=now,
        )
        for i in range(bookings)
    )
    patients = list(Patient.objects.order_by("id"))
    PatientConsent.objects.bulk_create(
        PatientConsent(patient=p, state="active", updated_at=now) for p in patients
    )
    _, key = api_client_create(name="day", scopes=Scope.values)
    Group.objects.get_or_create(name=Role.RECEPTION)
    sessions = {}
    for clinic in clinics:
        user: Any = UserFactory(username=f"desk-{clinic.pk}", role=Role.RECEPTION, clinics=[clinic])
        client = Client()
        client.force_login(user)
        sessions[clinic.hsa_id] = client.cookies["sessionid"].value
    return {
        "key": key,
        "patients": [p.personal_id for p in patients],
        "sessions": sessions,
    }


# --- Driving HTTP -------------------------------------------------------------------------
async def run_batch(client: Any, requests: list[Request], clients: int, stage: Stage) -> None:
    """Sends `requests` with `clients` open at once; adds them to `stage`."""
    if not requests:
        return
    queue = list(reversed(requests))

    async def worker() -> None:
        while queue:
            method, path, kwargs = queue.pop()
            response = await client.request(method, path, timeout=60, **kwargs)
            if response.status_code >= 400:  # the desk answers with a redirect
                stage.errors[response.status_code] += 1

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(min(clients, len(requests)))))
    stage.add(len(requests), began, time.perf_counter())


def booking_requests(data: dict[str, Any], count: int, start: datetime) -> list[Request]:
    """New contacts, half JSON and half FHIR, the registry's patient updates among them."""
    out: list[Request] = []
    for i, pid in enumerate(data["patients"][:count]):
        hsa = clinic_of(i)
        ext = f"DAY-{i:06d}"
        if i % 2:
            body = fhir_appointment(ext, pid, hsa, start, i % 50)
            out.append(("PUT", f"/fhir/Appointment/{ext}", {"json": body}))
        else:
            when = (start + timedelta(minutes=i % 50)).isoformat().replace("+00:00", "Z")
            body = {"patient": pid, "clinic": hsa, "starts_at": when, "status": "booked",
                    "contact_type": "visit"}  # fmt: skip
            out.append(("PUT", f"/api/v1/appointments/{ext}/", {"json": body}))
        if i % 10 == 5:  # the population registry's update of someone booked today
            person = {"given_name": f"Namn{i}", "family_name": "Dag", "protected_identity": False,
                      "mobile_number": f"+4670{i:07d}", "sms_consent_1177": False,
                      "guardians": []}  # fmt: skip
            out.append(("PUT", f"/api/v1/patients/{pid}/", {"json": person}))
    return out


def change_requests(data: dict[str, Any], count: int, start: datetime) -> list[Request]:
    """One in ten contacts changed: moved ten minutes later (i % 20 == 3) or cancelled
    (i % 20 == 13)."""
    out: list[Request] = []
    for i, pid in enumerate(data["patients"][:count]):
        if i % 20 not in (3, 13):
            continue
        when = (start + timedelta(minutes=i % 50 + 10)).isoformat().replace("+00:00", "Z")
        status = "booked" if i % 20 == 3 else "cancelled"
        body = {"patient": pid, "clinic": clinic_of(i), "starts_at": when, "status": status,
                "contact_type": "visit"}  # fmt: skip
        out.append(("PUT", f"/api/v1/appointments/DAY-{i:06d}/", {"json": body}))
    return out


def clinic_of(i: int) -> str:
    """A third of the contacts at the self check-in clinic, the others at the rest."""
    return CLINICS[0][0] if i % 3 == 0 else CLINICS[1 + (i // 3) % 3][0]
