"""The site around the API: login, admin, roles, schema and docs, commands, demo data."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from bookings.models import Appointment, Clinic, Patient
from bookings.units import clinics_for
from consent.models import ConsentEvent, GuardianNumber, MigrationExclusion, PatientConsent
from consent.services import consent_activate
from core.models import ApiClient
from core.staff import Role
from tests.factories import ClinicFactory, PatientFactory, UserFactory
from tests.pages import seen

pytestmark = pytest.mark.django_db


def test_the_four_roles_exist_as_groups() -> None:
    assert set(Group.objects.values_list("name", flat=True)) >= set(Role.values)


def test_staff_login_page_is_swedish_and_logs_in() -> None:
    user = UserFactory(role=Role.RECEPTION)
    client = Client()
    page = client.get("/accounts/login/")
    assert "Logga in" in page.content.decode()
    response = client.post(
        "/accounts/login/", {"username": user.username, "password": "pw-for-tests-1"}
    )
    assert (response.status_code, response["Location"]) == (302, "/")
    assert seen(client.get("/")) == f"Välkommen, {user.username}"


def test_start_page_requires_login() -> None:
    assert seen(Client().get("/")) == "login"


def test_clinics_for_scopes_to_the_user_s_clinics_and_all_for_regional_admins() -> None:
    a, b = ClinicFactory(), ClinicFactory()
    reception = UserFactory(role=Role.RECEPTION, clinics=[a])
    admin = UserFactory(role=Role.REGIONAL_ADMIN)
    assert list(clinics_for(reception)) == [a]
    assert set(clinics_for(admin)) == {a, b}


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (Role.RECEPTION, "the admin's login page"),
        (Role.MANAGER, "the admin's login page"),
        (Role.AUDITOR, "the admin's login page"),
        (Role.REGIONAL_ADMIN, "the clinic list"),
    ],
)
def test_admin_site_is_for_regional_admins_only(role: str, expected: str) -> None:
    ClinicFactory(name="Hudkliniken")
    user = UserFactory(role=role, is_staff=role == Role.REGIONAL_ADMIN)
    client = Client()
    client.force_login(user)
    response = client.get("/admin/bookings/clinic/")
    shown = {
        (200, True): "the clinic list",
        (302, False): "the admin's login page",
    }.get(
        (response.status_code, "Hudkliniken" in response.content.decode()),
        f"{response.status_code}",
    )
    assert shown == expected
    assert response.status_code == 200 or response["Location"].startswith("/admin/login/")


@pytest.fixture
def admin_client_() -> Client:
    client = Client()
    client.force_login(UserFactory(role=Role.REGIONAL_ADMIN, is_staff=True))
    return client


def test_admin_shows_the_1177_number_read_only(admin_client_: Client) -> None:
    patient = PatientFactory(mobile_number="+46701234567")
    page = admin_client_.get(f"/admin/bookings/patient/{patient.pk}/change/").content.decode()
    assert "070-123 45 67" in page  # as people write it, the same as on the patient page
    assert 'name="mobile_number"' not in page  # no input: staff never overwrite it
    response = admin_client_.post(
        f"/admin/bookings/patient/{patient.pk}/change/", {"mobile_number": "+46700000000"}
    )
    assert response.status_code == 403
    patient.refresh_from_db()
    assert patient.mobile_number == "+46701234567"


def test_admin_consent_events_are_read_only(admin_client_: Client) -> None:
    event = consent_activate(patient=PatientFactory(), actor=None, channel="phone")
    assert admin_client_.get(f"/admin/consent/consentevent/{event.pk}/change/").status_code == 200
    assert admin_client_.get("/admin/consent/consentevent/add/").status_code == 403
    assert (
        admin_client_.post(
            f"/admin/consent/consentevent/{event.pk}/delete/", {"post": "yes"}
        ).status_code
        == 403
    )
    assert ConsentEvent.objects.filter(pk=event.pk).exists()


def test_admin_clinic_form_refuses_a_too_long_sms_name(admin_client_: Client) -> None:
    response = admin_client_.post(
        "/admin/bookings/clinic/add/",
        {
            "hsa_id": "SE2321000115-E000000077",
            "name": "Lång",
            "sms_name": "x" * 40,
            "arrival_question": "on",
        },
    )
    assert response.status_code == 200
    assert "högst 34 tecken" in response.content.decode()
    assert not Clinic.objects.exists()


def test_admin_clinic_form_creates_through_the_service(admin_client_: Client) -> None:
    response = admin_client_.post(
        "/admin/bookings/clinic/add/",
        {
            "hsa_id": "se2321000115-e000000077",
            "name": "Hudkliniken",
            "sms_name": "Hud–kliniken",
            "arrival_question": "on",
        },
    )
    assert response.status_code == 302
    clinic = Clinic.objects.get()
    assert (clinic.hsa_id, clinic.sms_name) == ("SE2321000115-E000000077", "Hud-kliniken")


def test_schema_is_served_and_describes_the_endpoints() -> None:
    response = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert {
        "/api/v1/clinics/{hsa_id}/",
        "/api/v1/patients/{personal_id}/",
        "/api/v1/patients/{personal_id}/sms-status/",
    } <= set(schema["paths"])
    bearer = schema["components"]["securitySchemes"]
    assert any(s.get("scheme") == "bearer" for s in bearer.values())


def test_docs_work_offline_from_our_own_static_files() -> None:
    page = Client().get("/api/docs/").content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert any("swagger-ui" in s for s in sources)
    assert not [s for s in sources if s.startswith(("http://", "https://", "//"))]


def test_create_api_client_prints_the_key_alone_on_the_last_line() -> None:
    out, err = StringIO(), StringIO()
    call_command(
        "create_api_client",
        "Bokningssystemet",
        "--scopes",
        "bookings:write,status:read",
        stdout=out,
        stderr=err,
    )
    key = out.getvalue().strip().splitlines()[-1]
    client = ApiClient.objects.get(name="Bokningssystemet")
    assert client.scopes == ["bookings:write", "status:read"]
    assert client.key_hash == ApiClient.hash_key(key)
    assert key not in err.getvalue()


def test_create_api_client_refuses_unknown_scopes() -> None:
    with pytest.raises(CommandError, match="Unknown scope"):
        call_command("create_api_client", "X", "--scopes", "everything")
    assert not ApiClient.objects.exists()


DEMO_CLINICS = [
    "Kirurgikliniken",
    "Ortopedikliniken",
    "Med.klin Kba Vbg",
    "Kungsbacka VC",
    "Medicinkliniken Halmstad",
    "Klinisk Kemi Halland",
    "Ögonkliniken",
    "Öron-,näs- och halsklin",
    "Urologikliniken",
    "Hudkliniken",
    "Rehabiliteringskliniken",
    "Kvinnohälsovården Halland",
    "Capio Vårdcentral Halmstad",
    "Barn-/Ungdomskliniken",
    "Medicinkliniken Kba",
    "Kvinnokliniken Varberg",
    "Särö Vårdcentral",
    "Infektionskliniken",
    "Nya Säröledens Familjeläkare",
    "Centralreceptionen Halmstad",
]


def test_load_demo_gives_every_kind_of_patient_and_a_user_per_role(tmp_path, settings) -> None:
    settings.VAR_DIR = tmp_path
    # A twentieth of the routine's exclusion table: the whole table is proven by
    # tests/reporting/test_exclusions.py; this test is about the rest of the demo.
    call_command("load_demo", "--legacy-scale", "0.05", stdout=StringIO())
    assert sorted(Clinic.objects.values_list("name", flat=True)) == sorted(DEMO_CLINICS)
    central = Clinic.objects.get(name="Centralreceptionen Halmstad")
    assert not central.arrival_question
    assert set(central.serves.values_list("name", flat=True)) == {
        "Kirurgikliniken",
        "Ortopedikliniken",
    }
    assert Patient.objects.count() >= 300
    assert Patient.objects.filter(protected_identity=True).exists()
    assert Patient.objects.filter(mobile_number="").exists()
    assert Patient.objects.filter(mobile_number__startswith="+4635").exists()  # landlines
    assert Patient.objects.filter(guardianships__isnull=False).exists()
    assert Patient.objects.filter(is_coordination_number=True).exists()
    assert GuardianNumber.objects.exists()
    assert {"active", "blocked"} <= set(PatientConsent.objects.values_list("state", flat=True))
    assert Patient.objects.filter(consent__isnull=True).exists()  # never activated
    for role in Role.values:
        assert Group.objects.get(name=role).user_set.exists()
    key = (tmp_path / "demo-api-key.txt").read_text().strip()
    assert ApiClient.objects.get(name="demo").key_hash == ApiClient.hash_key(key)

    assert MigrationExclusion.objects.count() > 800  # left out by the migration
    assert Appointment.objects.filter(external_id__startswith="HIST-").exists()  # history
    _the_demo_history_obeys_the_rules()
    counts = (Patient.objects.count(), ConsentEvent.objects.count())
    call_command("load_demo", "--legacy-scale", "0.05", stdout=StringIO())
    assert (Patient.objects.count(), ConsentEvent.objects.count()) == counts


def _the_demo_history_obeys_the_rules() -> None:
    """What the walk through the demo found wrong, checked against the registry itself:
    no SMS reached a protected person or a child through anyone but a guardian who gave
    a number, each went to its recipient's own number, and guardians are of a parent's
    age."""
    from bookings.demo import years_between
    from bookings.models import Guardianship
    from reminders.models import Message

    reached = Message.objects.filter(
        appointment__external_id__startswith="HIST-", status__in=["sent", "delivered"]
    ).select_related("appointment__patient")
    assert reached.count() > 1000
    numbers = dict(GuardianNumber.objects.values_list("child_id", "number"))
    given = set(GuardianNumber.objects.values_list("child_id", "number"))
    for message in reached:
        patient = message.appointment.patient
        assert not patient.protected_identity, message.pk
        day = timezone.localtime(message.due_at).date()
        if years_between(patient.birth_date, day) < 13:
            assert message.recipient_role == "guardian"
            assert (patient.pk, message.to) in given, message.pk
        else:
            assert (message.to, message.recipient_role) == (patient.mobile_number, "patient")
        assert message.body.startswith("Påminnelse om bokad kontakt med ")
    suppressed = Message.objects.filter(
        appointment__external_id__startswith="HIST-",
        appointment__patient__protected_identity=True,
    )
    assert suppressed.exists()
    assert set(suppressed.values_list("status", "reason")) == {("suppressed", "protected_identity")}
    assert numbers  # some children have a guardian's number, and get SMS through it
    for link in Guardianship.objects.select_related("child", "guardian"):
        gap = years_between(link.guardian.birth_date, link.child.birth_date)
        assert 20 <= gap <= 60, (link.child.birth_date, link.guardian.birth_date)


def test_the_admin_never_shows_a_protected_person_s_number(admin_client_: Client) -> None:
    protected = PatientFactory(protected_identity=True, mobile_number="+46701239999")
    page = admin_client_.get(f"/admin/bookings/patient/{protected.pk}/change/").content.decode()
    assert "+46701239999" not in page
    assert "skyddad identitet – visas inte" in page
    listing = admin_client_.get("/admin/bookings/patient/").content.decode()
    assert "+46701239999" not in listing


def test_a_receptionist_is_set_up_on_one_page_with_role_and_clinics(
    admin_client_: Client,
) -> None:
    from django.contrib.auth.models import Group, User

    a, b = ClinicFactory(name="A-kliniken"), ClinicFactory(name="B-kliniken")
    page = admin_client_.get("/admin/auth/user/add/").content.decode()
    assert "Reception" in page and "Verksamhetschef" in page and "Logggranskare" in page
    assert ">regional_admin<" not in page  # the role's Swedish name, never its code
    response = admin_client_.post(
        "/admin/auth/user/add/",
        {
            "username": "sara",
            "first_name": "Sara",
            "last_name": "Ek",
            "usable_password": "true",
            "password1": "en-lång-fras-2026",
            "password2": "en-lång-fras-2026",
            "hsa_id": "SE2321000073-abc1",
            "role": Group.objects.get(name=Role.RECEPTION).pk,
            "clinics": [a.pk, b.pk],
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    user = User.objects.get(username="sara")
    assert list(user.groups.values_list("name", flat=True)) == [Role.RECEPTION]
    assert set(user.clinics.all()) == {a, b}  # type: ignore[attr-defined]
    # the HSA-id on the same page, not behind "Lägg till ytterligare…"
    assert user.staff_identity.hsa_id == "SE2321000073-ABC1"  # type: ignore[attr-defined]
    assert 'type="radio" name="role"' in page  # one role, not boxes to tick several
    assert "Lägg till ytterligare" not in page
    listing = admin_client_.get("/admin/auth/user/").content.decode()
    assert "Reception" in listing


def test_a_new_user_s_hsa_id_is_checked_and_a_taken_one_refused(admin_client_: Client) -> None:
    from django.contrib.auth.models import User

    from core.models import StaffIdentity

    taken = UserFactory(username="first")
    StaffIdentity.objects.create(user=taken, hsa_id="SE2321000073-ABC1")
    form = {
        "username": "second",
        "usable_password": "false",
        "role": Group.objects.get(name=Role.RECEPTION).pk,
    }
    for hsa_id, error in (
        ("SE2321000073-abc1", "HSA-id:t hör redan till en annan användare."),
        ("inte-ett-id", "”inte-ett-id” är inte ett HSA-id"),
    ):
        page = admin_client_.post("/admin/auth/user/add/", {**form, "hsa_id": hsa_id})
        assert page.status_code == 200
        assert error in page.content.decode()
    assert not User.objects.filter(username="second").exists()
    assert StaffIdentity.objects.count() == 1


def test_the_clinic_form_shows_the_longest_reminder_with_its_sms_name(
    admin_client_: Client,
) -> None:
    clinic = ClinicFactory(name="Hudkliniken", sms_name="Hudkliniken Halmstad")
    page = admin_client_.get(f"/admin/bookings/clinic/{clinic.pk}/change/").content.decode()
    assert (
        "<q>Påminnelse om bokad kontakt med Hudkliniken Halmstad torsdag 30 september kl. "
        "00:00. Av/omboka senast 24 timmar innan, annars betalar du en avgift</q>" in page
    )
    assert "146 av 160 tecken" in page


@pytest.mark.parametrize(
    "path",
    [
        "/admin/bookings/patient/",
        "/admin/auth/user/add/",
        "/admin/consent/standardreply/add/",
    ],
)
def test_the_admin_has_no_english_field_labels_left(admin_client_: Client, path: str) -> None:
    page = admin_client_.get(path).content.decode()
    for english in ("Display id", "DISPLAY ID", ">Guardian", "Order:"):
        assert english not in page
