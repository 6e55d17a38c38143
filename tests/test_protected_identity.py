"""Protected identity (rules 3.10): staff never see a protected person's contact data —
their number, their guardians' numbers and identities — on any page, in the admin or
through the API; and no page says "SMS on" for someone who will never get one.

A person is *seen* on a page when any form of their personnummer or mobile number is in
it: 12 digits, 10 digits, with or without the dash, E.164 or national."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from bookings.models import Patient
from bookings.services import appointment_upsert
from consent.cases.models import EServiceCase
from consent.cases.services import CaseRequest, case_receive
from consent.desk.models import ArrivalQuestion
from consent.models import ConsentEvent
from consent.selectors import guardian_choice
from consent.services import consent_activate, guardian_number_register
from core.models import Scope
from core.services import api_client_create
from core.staff import Role
from reminders.models import Message
from tests.factories import ClinicFactory, GuardianshipFactory, PatientFactory, UserFactory
from tests.pages import page_text

pytestmark = pytest.mark.django_db

GUARDIAN_NUMBER = "+46709990001"


def identity_shown(page: str, person: Patient) -> bool:
    pid = person.personal_id
    return any(form in page for form in (pid[2:], f"{pid[2:8]}-{pid[8:]}"))


def number_shown(page: str, e164: str) -> bool:
    subscriber = e164.removeprefix("+46")  # +46709990001 and 0709990001 alike
    spaced = re.sub(r"(\d{2})(\d{3})(\d{2})(\d{2})", r"\1-\2 \3 \4", subscriber)
    return subscriber in page or spaced in page


def staff(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def clinic() -> Any:
    return ClinicFactory(name="Barnkliniken")


@pytest.fixture
def reception(clinic: Any) -> Client:
    return staff(UserFactory(role=Role.RECEPTION, clinics=[clinic]))


@pytest.fixture
def admin_site() -> Client:
    return staff(User.objects.create_superuser("drift", password="pw-for-tests-12"))


def guardian_case(clinic: Any, *, child: Patient, guardian: Patient) -> EServiceCase:
    client, _ = api_client_create(name=f"e-tjänsten-{child.pk}", scopes=[Scope.ESERVICE])
    return case_receive(
        request=CaseRequest(
            external_id=f"GN-{child.pk}",
            received_at_clinic=clinic.hsa_id,
            submitted_by=guardian.personal_id,
            subject=child.personal_id,
            action="guardian_number",
            mobile_number=GUARDIAN_NUMBER,
        ),
        client=client,
    )[0]


def family(protected: str) -> tuple[Patient, Patient]:
    """A child under 13 and their guardian, with `protected` ("guardian", "child" or
    "nobody") protected: a protected child's guardians are the child's contact data."""
    link: Any
    if protected == "guardian":
        link = GuardianshipFactory(child__age=6, guardian__protected_identity=True)
    elif protected == "child":
        link = GuardianshipFactory(child__age=6, child__protected_identity=True)
    else:
        link = GuardianshipFactory(child__age=6)
    return link.child, link.guardian


# --- 1. The case page ------------------------------------------------------------------
@pytest.mark.parametrize("protected", ["guardian", "child"])
def test_the_case_page_never_shows_a_protected_family_s_guardian(
    clinic: Any, reception: Client, protected: str
) -> None:
    child, guardian = family(protected)
    case = guardian_case(clinic, child=child, guardian=guardian)
    before = reception.get(f"/cases/{case.pk}/")
    reception.post(f"/cases/{case.pk}/apply/", {"note": ""})
    assert EServiceCase.objects.get(pk=case.pk).status == "resolved"
    after = reception.get(f"/cases/{case.pk}/")
    for response in (before, after):
        page = page_text(response)
        assert not identity_shown(page, guardian), page
        assert not number_shown(page, GUARDIAN_NUMBER), page
        assert identity_shown(page, child)  # the case's subject is still identified
        assert "skyddad identitet – visas inte" in page


def test_the_case_page_shows_an_unprotected_guardian_and_their_number(
    clinic: Any, reception: Client
) -> None:
    child, guardian = family("nobody")
    case = guardian_case(clinic, child=child, guardian=guardian)
    page = page_text(reception.get(f"/cases/{case.pk}/"))
    assert identity_shown(page, guardian) and number_shown(page, GUARDIAN_NUMBER)


# --- 2. The guardian forms on a protected child's page -----------------------------------
def test_a_protected_child_s_page_names_no_guardian_in_its_forms(reception: Client) -> None:
    child, guardian = family("child")
    guardian_number_register(
        child=child, guardian=guardian, number=GUARDIAN_NUMBER, actor=None, channel="phone"
    )
    response = reception.get(f"/patients/{child.page_key}/")
    html = response.content.decode()  # the forms' options too, not only the text
    assert not identity_shown(html, guardian)
    assert not number_shown(html, GUARDIAN_NUMBER)
    # both forms still offer the guardian, by a value that names nobody and leads nowhere
    assert html.count(f'<option value="{guardian_choice(child, guardian)}"') == 2


def test_an_unprotected_child_s_forms_name_the_guardian(reception: Client) -> None:
    child, guardian = family("nobody")
    html = reception.get(f"/patients/{child.page_key}/").content.decode()
    shown = f"{guardian.full_name} ({guardian.display_id})"
    assert f'<option value="{guardian_choice(child, guardian)}">{shown}</option>' in html


# --- 2b. Nothing on a family's page leads to another member's page (issue 29.1) ----------
def test_patient_pages_answer_only_to_their_random_key(reception: Client) -> None:
    first, second = PatientFactory(), PatientFactory()
    assert first.page_key != second.page_key and first.page_key.version == 4
    assert reception.get(f"/patients/{first.page_key}/").status_code == 200
    # the sequential id no longer addresses a page, nor an action on it
    assert reception.get(f"/patients/{first.pk}/").status_code == 404
    assert reception.get(f"/patients/{second.pk}/").status_code == 404
    response = reception.post(f"/patients/{first.pk}/activate/", {"channel": "phone"})
    assert response.status_code == 404
    assert not ConsentEvent.objects.exists()
    # a well-formed key that is nobody's
    assert reception.get("/patients/00000000-0000-4000-8000-000000000000/").status_code == 404


@pytest.mark.parametrize("protected", ["guardian", "child", "nobody"])
def test_a_family_s_pages_lead_to_no_other_member(reception: Client, protected: str) -> None:
    child, guardian = family(protected)
    guardian_number_register(
        child=child, guardian=guardian, number=GUARDIAN_NUMBER, actor=None, channel="phone"
    )
    for own, other in ((child, guardian), (guardian, child)):
        html = reception.get(f"/patients/{own.page_key}/").content.decode()
        assert str(other.page_key) not in html
        assert f'value="{other.pk}"' not in html
        # the only patient page it links to is its own
        linked = set(re.findall(r'href="/patients/([^/"]+)/', html))
        assert linked <= {str(own.page_key)}, linked


def test_a_guardian_choice_works_only_on_its_own_child_s_page(reception: Client) -> None:
    first = GuardianshipFactory(child__age=6)
    second = GuardianshipFactory(child__age=7, guardian=first.guardian)
    guardian = first.guardian
    for value in (guardian_choice(first.child, guardian), str(guardian.pk)):
        reception.post(
            f"/patients/{second.child.page_key}/guardian-number/",
            {"channel": "phone", "guardian": value, "number": "070-999 00 01"},
        )
    assert not ConsentEvent.objects.exists()
    reception.post(
        f"/patients/{second.child.page_key}/guardian-number/",
        {
            "channel": "phone",
            "guardian": guardian_choice(second.child, guardian),
            "number": "070-999 00 01",
        },
    )
    assert list(ConsentEvent.objects.values_list("patient", "guardian", "number")) == [
        (second.child.pk, guardian.pk, GUARDIAN_NUMBER),
    ]


# --- 3. The admin --------------------------------------------------------------------------
@pytest.mark.parametrize("protected", ["guardian", "child"])
def test_the_admin_never_shows_a_protected_family_s_guardian(
    clinic: Any, admin_site: Client, protected: str
) -> None:
    child, guardian = family(protected)
    case = guardian_case(clinic, child=child, guardian=guardian)
    admin_site.post(f"/cases/{case.pk}/apply/", {"note": ""})  # a superuser is no clinic's
    guardian_number_register(
        child=child, guardian=guardian, number=GUARDIAN_NUMBER, actor=None, channel="phone"
    )
    event = ConsentEvent.objects.filter(guardian=guardian).first()
    assert event is not None
    for url in (
        f"/admin/bookings/patient/{child.pk}/change/",
        f"/admin/consent/eservicecase/{case.pk}/change/",
        f"/admin/consent/consentevent/{event.pk}/change/",
    ):
        page = page_text(admin_site.get(url))
        assert not identity_shown(page, guardian), (url, page)
        assert not number_shown(page, GUARDIAN_NUMBER), (url, page)
        assert "skyddad identitet – visas inte" in page, url


def test_the_admin_shows_an_unprotected_guardian(clinic: Any, admin_site: Client) -> None:
    child, guardian = family("nobody")
    case = guardian_case(clinic, child=child, guardian=guardian)
    guardian_number_register(
        child=child, guardian=guardian, number=GUARDIAN_NUMBER, actor=None, channel="phone"
    )
    event = ConsentEvent.objects.get(guardian=guardian)
    for url in (
        f"/admin/bookings/patient/{child.pk}/change/",
        f"/admin/consent/eservicecase/{case.pk}/change/",
        f"/admin/consent/consentevent/{event.pk}/change/",
    ):
        assert identity_shown(page_text(admin_site.get(url)), guardian), url


# --- 4. The messages API ------------------------------------------------------------------
def test_the_messages_api_hides_the_number_of_a_guardian_who_became_protected(
    clinic: Any, make_api: Any
) -> None:
    child, guardian = family("nobody")
    consent_activate(patient=child, actor=None, channel="phone")
    guardian_number_register(
        child=child, guardian=guardian, number=GUARDIAN_NUMBER, actor=None, channel="phone"
    )
    appointment_upsert(
        external_id="CHILD-1",
        patient=child,
        clinic=clinic,
        starts_at=timezone.now() + timedelta(hours=30),
        status="booked",
        contact_type="visit",
    )
    Message.objects.update(status="sent", to=GUARDIAN_NUMBER, sent_at=timezone.now())
    api = make_api(Scope.STATUS_READ)[0]
    shown = api.get("/api/v1/appointments/CHILD-1/messages/").json()["results"]
    assert [m["to"] for m in shown] == [GUARDIAN_NUMBER]
    Patient.objects.filter(pk=guardian.pk).update(protected_identity=True)
    hidden = api.get("/api/v1/appointments/CHILD-1/messages/").json()["results"]
    assert [m["to"] for m in hidden] == [None]
    assert [m["status"] for m in hidden] == ["sent"]  # the rest is still told


# --- 5. Never "SMS on" for someone who gets none -----------------------------------------
def test_the_patient_page_says_no_sms_will_come_after_activating_a_protected_patient(
    reception: Client,
) -> None:
    patient = PatientFactory(protected_identity=True)
    response = reception.post(
        f"/patients/{patient.page_key}/activate/", {"channel": "phone", "note": ""}, follow=True
    )
    assert ConsentEvent.objects.get(patient=patient).action == "activate"  # the wish is kept
    html = response.content.decode()
    state = re.search(r'<p class="state ([^"]*)" id="consent-state">(.*?)</p>', html, re.S)
    assert state is not None
    assert state.group(1) != "active"  # not the green "on"
    assert state.group(2).startswith("Aktiverad, men inga sms skickas: Skyddad identitet")
    page = page_text(response)
    assert "Sms-påminnelser är aktiverade." not in page
    assert (
        "Sms-påminnelse är aktiverad, men inga sms skickas: Skyddad identitet "
        "(patienten eller vårdnadshavaren): sms skickas aldrig"
    ) in page


@time_machine.travel(datetime(2026, 11, 26, 9, 0, tzinfo=UTC))  # the desk lists today's
def test_the_desk_records_a_protected_patient_s_wish_and_says_no_sms_will_come(
    clinic: Any, reception: Client
) -> None:
    """The same as the patient page: the wish is recorded, the answer is truthful."""
    session = reception.session
    session["clinic_id"] = clinic.pk
    session.save()
    patient = PatientFactory(protected_identity=True)
    appointment, _ = appointment_upsert(
        external_id="DESK-P",
        patient=patient,
        clinic=clinic,
        starts_at=timezone.now() + timedelta(minutes=30),
        status="booked",
        contact_type="visit",
    )
    desk = page_text(reception.get("/desk/"))
    assert "Skyddad identitet" in desk and "Får sms" not in desk
    response = reception.post(
        f"/desk/{appointment.pk}/arrive/", {"outcome": "activated"}, follow=True
    )
    event = ConsentEvent.objects.get(patient=patient)
    assert (event.action, event.channel) == ("activate", "arrival_desk")
    assert ArrivalQuestion.objects.values_list("outcome", "reason").get() == (
        "activated",
        "protected_identity",
    )
    assert "aktiverad, men inga sms skickas: Skyddad identitet" in page_text(response)
