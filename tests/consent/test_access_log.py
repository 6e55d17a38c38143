"""The access log is complete (rules 3.10): every route of the back office and the API is
read from the URL configuration, and each one that shows a patient's data is requested
and must have logged the read, with the right actor (staff user or API client), unit and
patient. A new route fails this suite until it is classified here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib import admin as django_admin
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.test import APIClient

from bookings.models import Appointment, Patient
from bookings.services import appointment_upsert
from consent.cases.services import CaseRequest, case_receive
from consent.models import ExcludedAtClinic, LegacyImport, MigrationExclusion
from consent.services import consent_block_clinic, guardian_number_register
from core.access_log.models import AccessLog
from core.admin_utils import PatientReadLoggedMixin
from core.append_only import AppendOnlyError
from core.models import Scope
from core.services import api_client_create
from core.staff import Role
from tests.factories import ClinicFactory, GuardianshipFactory, PatientFactory, UserFactory

# The world's contact starts in an hour and the desk lists today's: ten in the morning.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("morning")]

# Routes that show no patient's data, and why.
WITHOUT_PATIENT_DATA = {
    "home": "the start page: the user's own roles and clinics",
    "choose-clinic": "sets the clinic worked at",
    "patient-action": "a consent change: recorded as a consent event",
    "case-decide": "applies a case: recorded as a consent event",
    "desk-arrive": "registers an arrival: recorded on the contact",
    "desk-no-show": "marks a no-show: recorded on the contact",
    "desk-undo": "takes back an arrival or no-show: recorded beside it",
    "desk-guardian-number": "a guardian's number given at the desk: a consent event",
    "worklist-handled": "marks a follow-up: recorded with who and where",
    "checkin": "the patient's own check-in page: clinic and time only",
    "checkin-pay": "the patient's own new Swish request: no personal data shown",
    "checkin-pay-status": "the state of the check-in's payment, one word",
    "swish-callback": "Swish's callback: only makes us ask Swish, answers nothing",
    "swish-refund-callback": "Swish's refund callback: only makes us ask Swish",
    "report-exclusions": "counts per clinic",
    "audit-checks": "the sample checks: counts per unit and month",
    "audit-check-review": "records a review of a read drawn: shows nothing",
    "report-exclusions-csv": "counts per clinic",
    "report-exclusions-xlsx": "counts per clinic",
    "report-caught": "counts per clinic and week",
    "report-dashboard": "counts and rates",
    "login": "",
    "healthz": "operations: the process runs",
    "readyz": "operations: checks and counts, no patient",
    "metrics": "operations: counts by status and reason, no patient",
    "oidc_authentication_init": "",
    "oidc_authentication_callback": "",
    "logout": "",
    "password_change": "",
    "password_change_done": "",
    "api-clinic": "clinics only",
    "api-patient": "the register writing its own data",
    "api-eservice-cases": "the e-service submitting a case",
    "api-outbox": "the demo outbox gateway's SMS (not configurable with a real gateway)",
    "api-46elks-delivery": "a gateway's delivery report",
    "api-sinch-delivery": "a gateway's delivery report",
    "api-schema": "",
    "api-docs": "",
    "api-redoc": "",
    "fhir-metadata": "the FHIR interface's CapabilityStatement",
    "fhir-patient": "the register writing its own data (FHIR)",
    "fhir-not-supported": "an OperationOutcome: nothing here",
    "fhir-bundle": "the register and the booking system writing their own data (FHIR Bundles)",
    "fhir-related-person": "the register writing guardianships (its reads: tests/bookings)",
    "fhir-structure-definition": "our FHIR extensions' definitions, no patient",
    "fhir-structure-definitions": "our FHIR extensions' definitions, no patient",
}


def route_names() -> set[str]:
    names: set[str] = set()

    def walk(patterns: list[Any], namespace: str = "") -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, f"{p.namespace}:" if p.namespace else namespace)
            elif isinstance(p, URLPattern) and p.name:
                names.add(namespace + p.name)

    walk(get_resolver().url_patterns)
    return names


@pytest.fixture
def world() -> dict[str, Any]:
    clinic = ClinicFactory()
    patient = PatientFactory()
    reception = UserFactory(role=Role.RECEPTION, clinics=[clinic])
    manager = UserFactory(role=Role.MANAGER, clinics=[clinic])
    admin = UserFactory(role=Role.REGIONAL_ADMIN, is_staff=True)
    auditor = UserFactory(role=Role.AUDITOR)
    api_client, key = api_client_create(name="journalsystemet", scopes=Scope.values)
    appointment, _ = appointment_upsert(
        external_id="LOG-1",
        patient=patient,
        clinic=clinic,
        starts_at=timezone.now() + timedelta(hours=1),
        status="booked",
        contact_type="visit",
    )
    case, _ = case_receive(
        request=CaseRequest(
            external_id="LOG-CASE",
            received_at_clinic=clinic.hsa_id,
            submitted_by=patient.personal_id,
            subject=patient.personal_id,
            action="activate",
        ),
        client=api_client,
    )
    consent_block_clinic(
        patient=patient, clinic=clinic, actor=reception, channel="phone", handled_at_clinic=clinic
    )
    source = LegacyImport.objects.create(file_name="x.csv", file_sha256="d" * 64)
    exclusion = MigrationExclusion.objects.create(patient=patient, source=source)
    ExcludedAtClinic.objects.create(exclusion=exclusion, clinic=clinic)
    return {
        "clinic": clinic,
        "patient": patient,
        "reception": reception,
        "manager": manager,
        "admin": admin,
        "auditor": auditor,
        "client": api_client,
        "key": key,
        "appointment": appointment,
        "case": case,
    }


def staff(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api(world: dict[str, Any]) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {world['key']}")
    return client


# Route → (who reads, how, the action logged). Staff read as reception (reports: the
# manager; the admin: a regional admin) at their clinic; API clients have no unit.
def _a_swish_payment(w: dict[str, Any]) -> None:
    """A paid Swish payment of the world's contact today (rules 3.5c)."""
    from reminders.models import CheckIn, Payment

    message = w["appointment"].messages.first()
    check_in = CheckIn.objects.create(
        message=message, payment_backend="swish", payment_status="swish"
    )
    Payment.objects.create(
        check_in=check_in,
        clinic=w["clinic"],
        instruction_id="A" * 32,
        payee_alias="1231181189",
        amount=Decimal("250.00"),
        status="paid",
        payer_alias="46701234567",
        paid_at=timezone.now(),
    )


READS: dict[str, tuple[str, Callable[[dict[str, Any]], Any], str]] = {
    "patient-search": (
        "reception",
        lambda w: staff(w["reception"]).post("/patients/", {"q": w["patient"].personal_id}),
        "lookup",
    ),
    "patient": (
        "reception",
        lambda w: staff(w["reception"]).get(f"/patients/{w['patient'].page_key}/"),
        "view",
    ),
    "cases": ("reception", lambda w: staff(w["reception"]).get("/cases/"), "case_list"),
    "case": (
        "reception",
        lambda w: staff(w["reception"]).get(f"/cases/{w['case'].pk}/"),
        "case_view",
    ),
    "desk": ("reception", lambda w: staff(w["reception"]).get("/desk/"), "desk_list"),
    "worklist": (
        "reception",
        lambda w: (
            w["appointment"]
            .messages.filter(kind="reminder")
            .update(status="failed", reason="delivery_failed", due_at=timezone.now()),
            staff(w["reception"]).get("/worklist/"),
        ),
        "worklist_list",
    ),
    "payments-day": (
        "reception",
        lambda w: (_a_swish_payment(w), staff(w["reception"]).get("/payments/")),  # type: ignore[func-returns-value]
        "report_list",
    ),
    "report-exclusions-clinic": (
        "manager",
        lambda w: staff(w["manager"]).get(f"/reports/migration-exclusions/{w['clinic'].hsa_id}/"),
        "report_list",
    ),
    "report-exclusions-clinic-csv": (
        "manager",
        lambda w: b"".join(
            staff(w["manager"])
            .get(f"/reports/migration-exclusions/{w['clinic'].hsa_id}.csv")
            .streaming_content
        ),
        "report_download",
    ),
    "report-exclusions-clinic-xlsx": (
        "manager",
        lambda w: b"".join(
            staff(w["manager"])
            .get(f"/reports/migration-exclusions/{w['clinic'].hsa_id}.xlsx")
            .streaming_content
        ),
        "report_download",
    ),
    "admin:bookings_patient_change": (
        "admin",
        lambda w: staff(w["admin"]).get(f"/admin/bookings/patient/{w['patient'].pk}/change/"),
        "admin_view",
    ),
    "audit": (
        "auditor",
        lambda w: staff(w["auditor"]).get("/audit/"),
        "audit_list",
    ),
    "audit-alerts": (  # the regional admin has no unit: any read of theirs is an alert
        "auditor",
        lambda w: (
            staff(w["admin"]).get(f"/admin/bookings/patient/{w['patient'].pk}/change/"),
            staff(w["auditor"]).get("/audit/alerts/"),
        ),
        "audit_list",
    ),
    "audit-extract-start": (
        "auditor",
        lambda w: staff(w["auditor"]).post(
            "/audit/extract/",
            {
                "patient": w["patient"].personal_id,
                "date_from": "2020-01-01",
                "date_to": "2099-12-31",
            },
            follow=True,
        ),
        "audit_extract",
    ),
    "audit-extract": (
        "auditor",
        lambda w: staff(w["auditor"]).get(
            f"/audit/extract/{w['patient'].pk}/",
            {"date_from": "2020-01-01", "date_to": "2099-12-31"},
        ),
        "audit_extract",
    ),
    "audit-check": (
        "auditor",
        lambda w: (
            staff(w["reception"]).get(f"/patients/{w['patient'].page_key}/"),
            staff(w["auditor"]).get(f"/audit/checks/{check_of(w['auditor'], w['clinic']).pk}/"),
        ),
        "audit_check",
    ),
    "api-access-log": (
        "client",
        lambda w: (
            staff(w["reception"]).get(f"/patients/{w['patient'].page_key}/"),
            api(w).get("/api/v1/access-log/"),
        ),
        "api_access_log",
    ),
    "api-patient-sms-status": (
        "client",
        lambda w: api(w).get(f"/api/v1/patients/{w['patient'].personal_id}/sms-status/"),
        "api_sms_status",
    ),
    "api-appointment": (
        "client",
        lambda w: api(w).get("/api/v1/appointments/LOG-1/"),
        "api_appointment",
    ),
    "api-appointment-messages": (
        "client",
        lambda w: api(w).get("/api/v1/appointments/LOG-1/messages/"),
        "api_messages",
    ),
    "fhir-appointment": (
        "client",
        lambda w: api(w).get("/fhir/Appointment/LOG-1"),
        "api_appointment",
    ),
    "fhir-appointments": (
        "client",
        lambda w: api(w).get("/fhir/Appointment?_id=LOG-1"),
        "api_appointment",
    ),
    "api-eservice-case": (
        "client",
        lambda w: api(w).get(f"/api/v1/eservice/cases/{w['case'].pk}/"),
        "api_case",
    ),
}


def check_of(auditor: Any, clinic: Any) -> Any:
    from consent.access.services import access_check_draw

    today = timezone.localdate()
    return access_check_draw(
        actor=auditor, clinic=clinic, date_from=today, date_to=today, size=5, seed=1
    )


def test_every_route_is_classified() -> None:
    """A new page or endpoint must say whether it shows patient data (and then log it)."""
    names = {n for n in route_names() if not n.startswith("admin:")}
    unclassified = names - set(WITHOUT_PATIENT_DATA) - set(READS)
    assert unclassified == set()
    assert set(READS) - {"admin:bookings_patient_change"} <= names


@pytest.mark.parametrize("route", sorted(READS))
def test_every_read_of_patient_data_is_logged_with_actor_unit_and_patient(
    world: dict[str, Any], route: str
) -> None:
    who, read, action = READS[route]
    before = set(AccessLog.objects.values_list("pk", flat=True))
    read(world)
    entries = list(
        AccessLog.objects.exclude(pk__in=before).values_list(
            "action", "patient_id", "user__username", "client__name", "clinic_id"
        )
    )
    actor = world[who]
    if who == "client":
        expected = (action, world["patient"].pk, None, actor.name, None)
    else:
        unit = None if who in ("admin", "auditor") else world["clinic"].pk
        expected = (action, world["patient"].pk, actor.username, None, unit)
    assert expected in entries, entries


def test_the_access_log_api_gives_the_auditor_every_read(world: dict[str, Any]) -> None:
    READS["patient"][1](world)
    READS["api-patient-sms-status"][1](world)
    pid = world["patient"].personal_id
    answer = api(world).get("/api/v1/access-log/", {"patient": pid}).json()
    assert [(e["action"], e["actor"], e["patient"]) for e in answer["results"][:2]] == [
        ("api_sms_status", {"kind": "api_client", "name": "journalsystemet"}, pid),
        ("view", {"kind": "staff", "name": world["reception"].username}, pid),
    ]
    assert answer["results"][1]["clinic"] == world["clinic"].hsa_id
    only_client = api(world).get("/api/v1/access-log/", {"actor": "journalsystemet"}).json()
    assert {e["actor"]["kind"] for e in only_client["results"]} == {"api_client"}


def test_the_access_log_api_needs_its_scope(world: dict[str, Any], make_api: Any) -> None:
    reader = make_api(Scope.STATUS_READ)[0]
    response = reader.get("/api/v1/access-log/")
    assert (response.status_code, response["Content-Type"]) == (403, "application/problem+json")


def test_the_auditor_downloads_the_log_as_csv(world: dict[str, Any]) -> None:
    """Swedish headers and labels, names beside usernames and HSA-ids, times Excel reads
    as times, a Swedish file name; three desk reloads are one row counted three times."""
    from core.models import StaffIdentity

    reception = world["reception"]
    reception.first_name, reception.last_name = "Rebecka", "Andersson"
    reception.save()
    StaffIdentity.objects.create(user=reception, hsa_id="SE2321000131-P000000101")
    for _ in range(3):
        READS["desk"][1](world)
    auditor = staff(UserFactory(role=Role.AUDITOR))
    response = auditor.get("/audit/", {"format": "csv", "user": reception.username})
    assert response["Content-Disposition"] == (
        f"attachment; filename*=utf-8''%C3%A5tkomstlogg-{timezone.localdate().isoformat()}.csv"
    )
    lines = b"".join(response.streaming_content).decode("utf-8-sig").splitlines()
    assert lines[0] == (
        "Senast;Första;Antal gånger;Namn;Användarnamn eller system;HSA-id (person);Roll;"
        "Enhet;Enhetens HSA-id;Personnummer;Vad"
    )
    assert len(lines) == 2
    cells = lines[1].split(";")
    last = timezone.localtime(AccessLog.objects.filter(action="desk_list").latest("id").created_at)
    assert cells[0] == last.strftime("%Y-%m-%d %H:%M:%S")
    assert cells[2:] == [
        "3",
        "Rebecka Andersson",
        reception.username,
        "SE2321000131-P000000101",
        "Reception",
        world["clinic"].name,
        world["clinic"].hsa_id,
        world["patient"].personal_id,
        "Listad i ankomstlistan",
    ]


def test_the_access_log_is_append_only_in_the_database(world: dict[str, Any]) -> None:
    READS["patient"][1](world)
    entry = AccessLog.objects.get()
    with pytest.raises(AppendOnlyError):
        AccessLog.objects.update(action="lookup")
    with pytest.raises(AppendOnlyError):
        entry.delete()
    from django.db import DatabaseError, transaction

    table = AccessLog._meta.db_table
    statements = (f"UPDATE {table} SET action = 'lookup'", f"DELETE FROM {table}")  # noqa: S608
    for sql in statements:
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cur:
            cur.execute(sql)
    assert AccessLog.objects.get().action == "view"


# Admin pages (every registered model) that show no patient's data, and why; every other
# one must log its list and its detail pages.
ADMIN_WITHOUT_PATIENT_DATA = {
    "bookings.clinic": "clinics and their staff",
    "core.apiclient": "the systems that call the API",
    "core.staffidentity": "staff logins",
    "auth.user": "staff",
    "auth.group": "roles",
    "consent.legacyimport": "counts per imported file",
    "consent.standardreply": "the prepared reply texts",
    "reporting.noshowbaseline": "rates per clinic",
}
THIRD_PARTY_WITHOUT_PATIENT_DATA = {"django_celery_beat", "axes"}  # schedules, login attempts


def admin_models() -> dict[str, Any]:
    return {model._meta.label_lower: ma for model, ma in django_admin.site._registry.items()}


def logged_admin_models() -> list[str]:
    models = admin_models().items()
    return sorted(label for label, ma in models if isinstance(ma, PatientReadLoggedMixin))


def test_every_admin_page_is_classified_and_every_patient_table_logs() -> None:
    for label, model_admin in admin_models().items():
        model = model_admin.model
        holds_patients = model is Patient or any(
            getattr(field, "related_model", None) in (Patient, Appointment)
            for field in model._meta.get_fields()
            if field.concrete
        )
        logged = isinstance(model_admin, PatientReadLoggedMixin)
        if model._meta.app_label in THIRD_PARTY_WITHOUT_PATIENT_DATA:
            continue
        assert logged != (label in ADMIN_WITHOUT_PATIENT_DATA), label
        if holds_patients:
            assert logged, f"{label} shows patients and does not log"


@pytest.mark.parametrize("label", logged_admin_models())
def test_every_admin_page_with_patient_data_logs_its_list_and_detail(
    world: dict[str, Any], label: str
) -> None:
    superuser = User.objects.create_superuser("drift", password="pw-for-tests-1")
    client = staff(superuser)
    model_admin = admin_models()[label]
    if model_admin.model is AccessLog:
        READS["patient"][1](world)  # a read for the log to show
    obj = model_admin.model.objects.first()
    assert obj is not None, f"the world holds no {label}"
    patient_id = model_admin._patient_of(obj)
    app, name = label.split(".")
    for url, action in (
        (f"/admin/{app}/{name}/", "admin_list"),
        (f"/admin/{app}/{name}/{obj.pk}/change/", "admin_view"),
        (f"/admin/{app}/{name}/{obj.pk}/history/", "admin_view"),
    ):
        before = set(AccessLog.objects.values_list("pk", flat=True))
        assert client.get(url).status_code == 200, url
        entries = set(
            AccessLog.objects.exclude(pk__in=before).values_list(
                "action", "patient_id", "user__username", "clinic_id"
            )
        )
        assert (action, patient_id, "drift", None) in entries, (url, entries)


def test_the_auditor_filters_single_look_ups_from_listings_and_sees_who_and_protection() -> None:
    """A report download writes a row per resident: the auditor can leave the listings
    out and see each single read, with the actor's full name and HSA-id and a mark on a
    protected-identity patient."""
    from core.models import StaffIdentity

    clinic = ClinicFactory(name="A-kliniken")
    nurse = UserFactory(
        role=Role.RECEPTION, clinics=[clinic], first_name="Rebecka", last_name="Andersson"
    )
    StaffIdentity.objects.create(user=nurse, hsa_id="SE2321000131-P000000101")
    hidden = PatientFactory(protected_identity=True)
    listed = [PatientFactory() for _ in range(3)]
    AccessLog.objects.create(user=nurse, clinic=clinic, patient=hidden, action="view")
    for patient in listed:
        AccessLog.objects.create(
            user=nurse, clinic=clinic, patient=patient, action="report_download"
        )
    auditor = staff(UserFactory(role=Role.AUDITOR))
    page = auditor.get("/audit/", {"action": "single"}).content.decode()
    log = page.split('id="access-log"')[1].split("</table>")[0]
    assert log.count("<tr><td>") == 1
    assert hidden.display_id in log and "Skyddad identitet" in log
    assert "Rebecka Andersson" in log and "SE2321000131-P000000101" in log
    assert all(p.display_id not in log for p in listed)
    downloads = auditor.get("/audit/", {"action": "report_download"}).content.decode()
    assert downloads.split('id="access-log"')[1].split("</table>")[0].count("<tr><td>") == 3


def test_the_auditor_s_download_of_the_log_is_logged_too(world: dict[str, Any]) -> None:
    READS["patient"][1](world)
    auditor = staff(world["auditor"])
    before = set(AccessLog.objects.values_list("pk", flat=True))
    response = auditor.get("/audit/", {"format": "csv"})
    assert world["patient"].personal_id in b"".join(response.streaming_content).decode()
    assert set(
        AccessLog.objects.exclude(pk__in=before).values_list("action", "patient_id", "user")
    ) == {("audit_download", world["patient"].pk, world["auditor"].pk)}


def autocomplete_targets() -> list[tuple[str, str, str]]:
    """Every (app, model, field) the admin's autocomplete answers for: a registered
    model's relation to a registered model whose admin shows patients' data."""
    targets: list[tuple[str, str, str]] = []
    for model in django_admin.site._registry:
        for field in model._meta.get_fields():
            remote = getattr(field, "related_model", None)
            remote_admin = django_admin.site._registry.get(remote)  # type: ignore[arg-type]
            relation = (field.many_to_one or field.many_to_many) and field.concrete
            if relation and isinstance(remote_admin, PatientReadLoggedMixin):
                targets.append((model._meta.app_label, str(model._meta.model_name), field.name))
    return sorted(targets)


@pytest.mark.parametrize("target", autocomplete_targets(), ids=".".join)
def test_the_admin_s_autocomplete_gives_no_patient_away(
    world: dict[str, Any], target: tuple[str, str, str]
) -> None:
    """Django answers /admin/autocomplete/ for any relation to a model whose admin can be
    searched, whether or not a form uses it: it would page through the whole registry by
    name, unlogged. It is closed for every model with patients' data."""
    app_label, model_name, field_name = target
    client = staff(User.objects.create_superuser("drift", password="pw-for-tests-1"))
    params = {"app_label": app_label, "model_name": model_name, "field_name": field_name}
    response = client.get("/admin/autocomplete/", {**params, "term": ""})
    assert response.status_code in (403, 404), response.content[:300]
    assert world["patient"].display_id not in response.content.decode()


def test_the_admin_s_autocomplete_still_answers_for_clinics(world: dict[str, Any]) -> None:
    client = staff(User.objects.create_superuser("drift", password="pw-for-tests-1"))
    params = {"app_label": "consent", "model_name": "consentevent", "field_name": "clinic"}
    response = client.get("/admin/autocomplete/", {**params, "term": ""})
    assert response.status_code == 200
    assert [r["text"] for r in response.json()["results"]] == [world["clinic"].name]


def test_the_case_page_logs_the_guardian_it_shows(world: dict[str, Any]) -> None:
    link = GuardianshipFactory(child__age=6)
    case, _ = case_receive(
        request=CaseRequest(
            external_id="LOG-GUARDIAN",
            received_at_clinic=world["clinic"].hsa_id,
            submitted_by=link.guardian.personal_id,
            subject=link.child.personal_id,
            action="guardian_number",
            mobile_number="+46709990002",
        ),
        client=world["client"],
    )
    staff(world["reception"]).get(f"/cases/{case.pk}/")
    assert set(AccessLog.objects.filter(action="case_view").values_list("patient_id")) == {
        (link.child.pk,),
        (link.guardian.pk,),
    }


def test_the_consent_event_admin_page_logs_the_guardian_it_shows(world: dict[str, Any]) -> None:
    link = GuardianshipFactory(child__age=6)
    event = guardian_number_register(
        child=link.child, guardian=link.guardian, number="0709990003", actor=None, channel="phone"
    )
    client = staff(User.objects.create_superuser("drift", password="pw-for-tests-1"))
    assert client.get(f"/admin/consent/consentevent/{event.pk}/change/").status_code == 200
    assert set(AccessLog.objects.filter(action="admin_view").values_list("patient_id")) == {
        (link.child.pk,),
        (link.guardian.pk,),
    }


def test_a_replayed_eservice_case_answers_with_the_case_and_logs_the_read(
    world: dict[str, Any],
) -> None:
    body = {
        "external_id": "LOG-CASE",
        "received_at": world["clinic"].hsa_id,
        "submitted_by": world["patient"].personal_id,
        "subject": world["patient"].personal_id,
        "action": "activate",
    }
    response = api(world).post("/api/v1/eservice/cases/", body, format="json")
    assert (response.status_code, response.json()["id"]) == (200, world["case"].pk)
    assert list(AccessLog.objects.values_list("action", "patient_id", "client__name")) == [
        ("api_case", world["patient"].pk, "journalsystemet")
    ]
