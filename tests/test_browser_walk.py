"""The back office walked as each role uses it, in Chromium (Playwright), with axe-core
checking every page against WCAG 2.1 A and AA and a screenshot of each step in
var/screenshots/walk-*.png (docs/backoffice.md says what they show).

Reception starts the day at its own clinic, registers, undoes and confirms at the desk,
activates where only a number is missing, enters a guardian's number, works the cases,
and the next login starts where it last worked; a manager reads the reports; an auditor
filters the log; a regional admin sets up a receptionist; a patient checks in at 390 px.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from bookings.identity import personal_id_for
from bookings.services import appointment_upsert, patient_get_or_create_from_legacy
from consent.cases.services import CaseRequest, case_receive
from consent.models import (
    ArrivalQuestion,
    DeskUndo,
    ExcludedAtClinic,
    GuardianNumber,
    LegacyImport,
    MigrationExclusion,
    NoShow,
)
from consent.selectors import snapshot_of
from consent.services import consent_activate
from core.models import Scope
from core.services import api_client_create
from core.staff import Role
from tests.browser import assert_accessible, log_in
from tests.factories import ClinicFactory, GuardianshipFactory, PatientFactory, UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture(autouse=True)
def ten_o_clock(settings: Any) -> Iterator[None]:
    """Today at 10:00 in Stockholm on the server's clock (it goes on ticking)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    moment = datetime.combine(
        timezone.localdate(), time(10, 0), tzinfo=timezone.get_current_timezone()
    )
    with time_machine.travel(moment):
        yield


def at(hour: int, minute: int = 0) -> datetime:
    return datetime.combine(
        timezone.localdate(), time(hour, minute), tzinfo=timezone.get_current_timezone()
    )


def book(patient: Any, clinic: Any, ext: str, starts: datetime) -> Any:
    return appointment_upsert(
        external_id=ext,
        patient=patient,
        clinic=clinic,
        starts_at=starts,
        status="booked",
        contact_type="visit",
        booked_at=starts - timedelta(days=10),
    )[0]


@pytest.fixture
def world() -> dict[str, Any]:
    surgery = ClinicFactory(name="Kirurgikliniken", arrival_question=True)
    central = ClinicFactory(name="Centralreceptionen Halmstad", arrival_question=False)
    central.serves.add(surgery)
    reception = UserFactory(
        username="rebecka",
        first_name="Rebecka",
        last_name="Andersson",
        role=Role.RECEPTION,
        clinics=[central, surgery],
    )
    alva = PatientFactory(given_name="Alva", family_name="Ek")
    bo = PatientFactory(given_name="Bo", family_name="Holm")
    consent_activate(patient=alva, actor=None, channel="phone")
    legacy, _ = patient_get_or_create_from_legacy(
        personal_id=personal_id_for(date(1940, 1, 8), 980), legacy_number="+46701112233"
    )
    consent_activate(patient=legacy, actor=None, channel="migration")
    no_number = PatientFactory(given_name="Nils", family_name="Berg", mobile_number="")
    link = GuardianshipFactory(
        child__given_name="Liv",
        child__family_name="Lund",
        guardian__given_name="Mira",
        guardian__family_name="Lund",
    )
    late = PatientFactory(given_name="Sigrid", family_name="Sand")
    rows = {
        "started": book(alva, surgery, "W1", at(9, 30)),
        "bo": book(bo, surgery, "W2", at(10, 30)),
        "legacy": book(legacy, surgery, "W3", at(11, 0)),
        "no_number": book(no_number, surgery, "W4", at(11, 30)),
        "child": book(link.child, surgery, "W5", at(13, 0)),
        "late": book(late, surgery, "W6", at(16, 0)),
    }
    api_client_create(name="e-tjänsten", scopes=[Scope.ESERVICE])
    from core.models import ApiClient

    client = ApiClient.objects.get(name="e-tjänsten")
    cases = [
        case_receive(
            request=CaseRequest(
                external_id=ext,
                received_at_clinic=surgery.hsa_id,
                submitted_by=who.personal_id,
                subject=who.personal_id,
                action=action,
            ),
            client=client,
        )[0]
        for ext, who, action in (("1177-1", bo, "activate"), ("1177-2", late, "activate"))
    ]
    exclusion = MigrationExclusion.objects.create(
        patient=bo, source=LegacyImport.objects.create(file_name="x", file_sha256="0")
    )
    ExcludedAtClinic.objects.create(exclusion=exclusion, clinic=surgery)
    return {
        "surgery": surgery,
        "central": central,
        "reception": reception,
        "rows": rows,
        "child": link.child,
        "guardian": link.guardian,
        "no_number": no_number,
        "cases": cases,
        "bo": bo,
    }


def row(page: Page, appointment: Any) -> Any:
    return page.locator(f"#row-{appointment.pk}")


def outcome(page: Page, appointment: Any) -> Any:
    """What the desk says at the row after a registration (issue 31, item 1)."""
    return page.locator(f'tr.row-outcome[data-for="row-{appointment.pk}"]')


def test_reception_s_day_at_the_desk(live_server: Any, browser: Browser, world: Any) -> None:
    base = live_server.url
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{base}/accounts/login/")
    assert_accessible(page, "walk-01-login")
    log_in(page, base, "rebecka")
    assert_accessible(page, "walk-02-start")
    page.get_by_role("link", name="Ankomst").click()
    # 1. The user's own clinic that asks, not the first in the alphabet, shown plainly.
    expect(page.locator("h1")).to_contain_text("Kirurgikliniken")
    expect(page.locator("#unit")).to_contain_text("Du registrerar ankomster för Kirurgikliniken")
    rows = world["rows"]
    # 2. Never a blank SMS column or name.
    expect(row(page, rows["legacy"])).to_contain_text("Väntar på folkbokföringen")
    expect(
        row(page, rows["legacy"]).get_by_role("link", name="Namn saknas", exact=True)
    ).to_be_visible()
    # 3. No "Uteblev" before the start; 4. this visit's reminder and the masked number.
    expect(row(page, rows["late"])).to_contain_text("Uteblev kan markeras från kl. 16:00")
    expect(row(page, rows["started"])).to_contain_text("Påminnelse")
    # 5. Only a number missing: activate, and what to tell the patient.
    expect(row(page, rows["no_number"])).to_contain_text("lägg in ditt mobilnummer i 1177")
    assert_accessible(page, "walk-03-desk")

    # 3. An arrival registered by mistake is taken back within minutes.
    row(page, rows["bo"]).get_by_role("button", name="Fick sms").click()
    expect(outcome(page, rows["bo"])).to_contain_text("ankomst registrerad (Fick sms)")
    expect(row(page, rows["bo"])).to_contain_text("Ankommen")
    assert_accessible(page, "walk-04-desk-arrived")
    row(page, rows["bo"]).get_by_role("button", name="Ångra").click()
    expect(outcome(page, rows["bo"])).to_contain_text("ångrat – kontakten är bokad igen")
    expect(row(page, rows["bo"]).get_by_role("button", name="Fick sms")).to_be_visible()
    assert DeskUndo.objects.get().question == ArrivalQuestion.objects.get()
    assert_accessible(page, "walk-05-desk-undone")

    # 3. "Uteblev" asks first, and only for a contact that has begun.
    started = row(page, rows["started"])
    started.get_by_text("Uteblev").click()
    expect(started).to_contain_text("Alva Ek kom inte till besöket kl. 09:30?")
    assert_accessible(page, "walk-06-desk-no-show-confirm")
    started.get_by_role("button", name="Ja, markera som utebliven").click()
    expect(outcome(page, rows["started"])).to_contain_text("markerad som utebliven")
    assert NoShow.objects.get().appointment == rows["started"]

    # 5. Activate where only the number is missing; the message says what to tell.
    row(page, rows["no_number"]).get_by_role("button", name="Fick inte – aktivera nu").click()
    expect(outcome(page, rows["no_number"])).to_contain_text("lägg in ditt mobilnummer i 1177")
    assert snapshot_of(world["no_number"]).state == "active"

    # 5. A guardian's number for a child, entered at the desk, the guardian by name.
    child_row = row(page, rows["child"])
    child_row.get_by_text("Lägg in vårdnadshavares nummer").click()
    expect(child_row.get_by_label("Vårdnadshavare")).to_contain_text("Mira Lund")
    assert_accessible(page, "walk-07-desk-guardian-number")
    child_row.get_by_label("Mobilnummer").fill("070-555 12 34")
    child_row.get_by_role("button", name="Spara nummer").click()
    expect(outcome(page, rows["child"])).to_contain_text("vårdnadshavarens nummer är registrerat")
    assert GuardianNumber.objects.get().number == "+46705551234"

    # 6. The patient page: only what applies, the guardian by name in the picker.
    page.goto(f"{base}/patients/{world['child'].page_key}/")
    expect(page.locator("#btn-activate")).to_have_count(0)  # active now (the number)
    expect(page.locator("#btn-unblock")).to_have_count(0)
    expect(page.locator("#btn-unblock-clinic")).to_have_count(0)
    expect(page.locator("#clinic-form")).not_to_contain_text("Centralreceptionen")
    expect(page.locator("#guardian-form")).to_contain_text("Mira Lund")
    assert_accessible(page, "walk-08-patient")
    page.goto(f"{base}/patients/")
    assert_accessible(page, "walk-09-patient-search")
    page.goto(f"{base}/worklist/")
    assert_accessible(page, "walk-10-worklist")

    # Cases: names, time waited; no reason chosen for a rejection, its text shown;
    # applying one opens the next.
    page.get_by_role("link", name="Ärenden").click()
    expect(page.locator("#open-cases")).to_contain_text("Bo Holm")
    assert_accessible(page, "walk-11-cases")
    page.get_by_role("link", name="Öppna ärendet för Bo Holm").click()
    preview = page.locator("#reject-preview")
    expect(preview).to_contain_text("Välj varför ärendet avslås")
    select = page.locator("#reject-form select")
    first_reason = select.locator("option").nth(1)
    select.select_option(first_reason.get_attribute("value"))
    expect(preview).not_to_contain_text("Välj varför ärendet avslås")
    assert_accessible(page, "walk-12-case")
    page.locator("#btn-apply").click()
    expect(page).to_have_url(f"{base}/cases/{world['cases'][1].pk}/")
    expect(page.locator(".messages")).to_contain_text("Ärendet är utfört")

    # The header's picker changes only with its button (WCAG 3.2.2), and the next login
    # starts where the user last worked.
    page.select_option("#nav-clinic", label="Centralreceptionen Halmstad")
    expect(page).to_have_url(f"{base}/cases/{world['cases'][1].pk}/")  # nothing moved
    page.locator("#nav-clinic-go").click()
    page.goto(f"{base}/desk/")
    expect(page.locator("h1")).to_contain_text("Centralreceptionen Halmstad")
    page.get_by_role("button", name="Logga ut").click()
    log_in(page, base, "rebecka")
    page.goto(f"{base}/desk/")
    expect(page.locator("h1")).to_contain_text("Centralreceptionen Halmstad")
    assert_accessible(page, "walk-13-desk-central-next-login")
    page.close()


def test_a_manager_reads_the_reports(live_server: Any, browser: Browser, world: Any) -> None:
    from reporting.models import NoShowBaseline

    UserFactory(username="chef", role=Role.MANAGER, clinics=[world["surgery"]])
    NoShowBaseline.objects.create(clinic=world["surgery"], year=2023, rate="0.01")
    for n, status in enumerate(["no_show", "completed", "completed"]):
        appointment_upsert(
            external_id=f"PAST-{n}",
            patient=world["bo"],
            clinic=world["surgery"],
            starts_at=timezone.now() - timedelta(days=3 + n),
            booked_at=timezone.now() - timedelta(days=20),
            status=status,
            contact_type="visit",
        )
    base = live_server.url
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log_in(page, base, "chef")
    page.goto(f"{base}/reports/")
    expect(page.locator("#flagged")).to_contain_text("Kirurgikliniken")
    expect(page.locator("#flagged")).to_contain_text(
        "33,3\u00a0% uteblivna av 3 genomförda kontakter, mot 1,0\u00a0% år 2023"
    )
    assert_accessible(page, "walk-20-dashboard")
    page.goto(f"{base}/reports/migration-exclusions/")
    assert_accessible(page, "walk-21-exclusions")
    page.get_by_role("link", name="Hade blockerat Kirurgikliniken").click()
    assert_accessible(page, "walk-22-exclusions-clinic")
    page.get_by_role("link", name="Bo Holm").click()
    expect(page.locator("h1")).to_contain_text("Bo Holm")
    page.goto(f"{base}/reports/caught-since/")
    assert_accessible(page, "walk-23-caught")
    page.close()


def test_an_auditor_filters_the_log(live_server: Any, browser: Browser, world: Any) -> None:
    UserFactory(username="granskare", role=Role.AUDITOR)
    base = live_server.url
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log_in(page, world and base, "rebecka")
    page.goto(f"{base}/desk/")  # a listing: one access-log row per patient
    page.goto(f"{base}/patients/{world['bo'].page_key}/")  # a single read
    page.get_by_role("button", name="Logga ut").click()
    log_in(page, base, "granskare")
    page.goto(f"{base}/audit/")
    page.get_by_label("Åtgärd").select_option("single")
    page.get_by_role("button", name="Filtrera").click()
    log = page.locator("#access-log")
    expect(log).to_contain_text("Visning av sms-sidan")
    expect(log).not_to_contain_text("Listad i ankomstlistan")
    expect(log).to_contain_text("Rebecka Andersson")
    assert_accessible(page, "walk-30-audit")
    page.close()


def test_a_regional_admin_sets_up_a_receptionist(
    live_server: Any, browser: Browser, world: Any
) -> None:
    from django.contrib.auth.models import User

    UserFactory(username="admin", role=Role.REGIONAL_ADMIN, is_staff=True)
    base = live_server.url
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    log_in(page, base, "admin")
    page.goto(f"{base}/admin/")
    assert_accessible(page, "walk-40-admin")
    page.goto(f"{base}/admin/auth/user/add/")
    page.locator("#id_username").fill("sara")
    page.locator("#id_first_name").fill("Sara")
    page.locator("#id_password1").fill("en-lång-fras-2026")
    page.locator("#id_password2").fill("en-lång-fras-2026")
    page.locator("#id_hsa_id").fill("SE2321000073-sara1")
    page.get_by_label("Reception").check()
    expect(page.locator("#id_clinics_add")).to_have_text("Välj markerade mottagningar")
    page.locator("#id_clinics_from").select_option(label="Kirurgikliniken")
    page.locator("#id_clinics_add").click()
    assert_accessible(page, "walk-41-admin-user-add")
    page.get_by_role("button", name="Spara", exact=True).click()
    expect(page.locator(".messagelist")).to_be_visible()
    user = User.objects.get(username="sara")
    assert list(user.clinics.all()) == [world["surgery"]]  # type: ignore[attr-defined]
    assert user.groups.get().name == Role.RECEPTION
    assert user.staff_identity.hsa_id == "SE2321000073-SARA1"  # type: ignore[attr-defined]
    page.goto(f"{base}/admin/bookings/clinic/{world['surgery'].pk}/change/")
    expect(page.locator(".field-longest_sms")).to_contain_text("torsdag 30 september")
    assert_accessible(page, "walk-42-admin-clinic")
    page.goto(f"{base}/admin/bookings/patient/{world['child'].pk}/change/")
    assert_accessible(page, "walk-43-admin-patient")
    page.goto(f"{base}/admin/consent/standardreply/")
    assert_accessible(page, "walk-44-admin-replies")
    page.goto(f"{base}/admin/reminders/message/")
    assert_accessible(page, "walk-45-admin-messages")
    page.close()


def test_the_check_in_pages_on_a_phone(live_server: Any, browser: Browser, settings: Any) -> None:
    from reminders.models import Message

    clinic = ClinicFactory(name="Hudkliniken", sms_name="Hudkliniken", self_checkin=True)
    patient = PatientFactory()
    consent_activate(patient=patient, actor=None, channel="phone")
    book(patient, clinic, "P1", at(11, 0))
    token = Message.objects.get(kind="checkin").checkin_token
    phone = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    ).new_page()
    phone.goto(f"{live_server.url}/c/{token}/")
    assert_accessible(phone, "walk-50-checkin-open")
    phone.locator("#btn-checkin").tap()
    expect(phone.locator("#checkin")).to_contain_text("du ropas upp")
    assert_accessible(phone, "walk-51-checkin-done")
    phone.goto(f"{live_server.url}/c/no-such-link/")
    expect(phone.locator("h1")).to_have_text("Incheckning")
    assert_accessible(phone, "walk-52-checkin-unknown")
    phone.close()
