"""The auditor's work as the patient data law asks (HSLF-FS 2016:40 chapter 4): a
patient's log extract, systematic sample checks with reviews, the alerts, and the audit
page and its downloads without noise."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.utils import timezone

from bookings.models import Appointment
from consent.access.models import AccessCheck, AccessCheckItem, AccessCheckReview
from consent.access.rules import parse_opening_hours, sample_positions
from consent.access.services import access_check_draw, access_check_review
from core.access_log.models import AccessLog
from core.access_log.services import _actor, access_log_record
from core.append_only import AppendOnlyError
from core.errors import DomainError
from core.models import StaffIdentity
from core.staff import Role
from tests.factories import AppointmentFactory, ClinicFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db
ZONE = timezone.get_current_timezone()


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZONE)


def staff(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def world() -> dict[str, Any]:
    clinic = ClinicFactory(name="Kirurgikliniken", hsa_id="SE2321000115-E000000001")
    other = ClinicFactory(name="Ögonkliniken", hsa_id="SE2321000115-E000000002")
    nurse = UserFactory(
        username="rebecka",
        role=Role.RECEPTION,
        clinics=[clinic],
        first_name="Rebecka",
        last_name="Andersson",
    )
    StaffIdentity.objects.create(user=nurse, hsa_id="SE2321000131-P000000101")
    auditor = UserFactory(
        username="granskare", role=Role.AUDITOR, first_name="Greta", last_name="Granskare"
    )
    patient = PatientFactory(given_name="Bo", family_name="Ek")
    AppointmentFactory(patient=patient, clinic=clinic)
    return {
        "clinic": clinic,
        "other": other,
        "nurse": nurse,
        "auditor": auditor,
        "patient": patient,
    }


def read(user: Any, clinic: Any, patient: Any, action: str, when: datetime) -> AccessLog:
    """A read with the actor columns the services write, at `when` (the log's own time
    is the database's clock, which no test moves)."""
    return AccessLog.objects.create(
        clinic=clinic, patient=patient, action=action, created_at=when, **_actor(user)
    )


# --- 1. The log extract ------------------------------------------------------------------------
def test_the_extract_names_each_reader_as_they_were_then_in_swedish(
    world: dict[str, Any],
) -> None:
    day = date(2026, 3, 2)
    read(world["nurse"], world["clinic"], world["patient"], "view", at(day, 9, 15))
    read(world["nurse"], world["clinic"], world["patient"], "desk_list", at(day, 9, 30))
    read(world["nurse"], world["clinic"], PatientFactory(), "view", at(day, 9, 40))  # another
    read(world["nurse"], world["clinic"], world["patient"], "view", at(date(2026, 4, 2), 9))
    # She marries and moves on: the extract still names her as she was at the reads.
    world["nurse"].last_name = "Berg"
    world["nurse"].save()
    world["nurse"].groups.clear()
    auditor = staff(world["auditor"])
    start = auditor.post(
        "/audit/extract/",
        {
            "patient": world["patient"].personal_id,
            "date_from": "2026-03-01",
            "date_to": "2026-03-31",
        },
    )
    assert start.status_code == 302
    assert world["patient"].personal_id not in start["Location"]
    assert start["Location"] == (
        f"/audit/extract/{world['patient'].pk}/?date_from=2026-03-01&date_to=2026-03-31"
    )
    page = auditor.get(start["Location"]).content.decode()
    table = page.split('id="extract"')[1].split("</table>")[0]
    assert table.count("<tr><td>") == 2
    assert (
        "<tr><td>2026-03-02 09:15:00</td><td>Rebecka Andersson</td>"
        "<td>SE2321000131-P000000101</td><td>Reception</td><td>Kirurgikliniken</td>"
        "<td>SE2321000115-E000000001</td><td>Visning av sms-sidan</td></tr>"
    ) in table
    assert "<td>Listad i ankomstlistan</td>" in table
    assert "Bo Ek, " + world["patient"].display_id in page
    # Making the extract is a read of the patient's data, logged.
    assert list(
        AccessLog.objects.filter(user=world["auditor"]).values_list("action", "patient_id")
    ) == [("audit_extract", world["patient"].pk)]


def test_the_extract_downloads_as_xlsx_with_times_a_spreadsheet_reads(
    world: dict[str, Any],
) -> None:
    from openpyxl import load_workbook

    day = date(2026, 3, 2)
    read(world["nurse"], world["clinic"], world["patient"], "view", at(day, 9, 15))
    response = staff(world["auditor"]).get(
        f"/audit/extract/{world['patient'].pk}/",
        {"date_from": "2026-03-01", "date_to": "2026-03-31", "format": "xlsx"},
    )
    assert response["Content-Disposition"] == (
        'attachment; filename="loggutdrag-2026-03-01-till-2026-03-31.xlsx"'
    )
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows == [
        ("Tid", "Namn", "HSA-id (person)", "Roll", "Enhet", "Enhetens HSA-id", "Vad"),
        (
            datetime(2026, 3, 2, 9, 15),
            "Rebecka Andersson",
            "SE2321000131-P000000101",
            "Reception",
            "Kirurgikliniken",
            "SE2321000115-E000000001",
            "Visning av sms-sidan",
        ),
    ]
    assert AccessLog.objects.filter(action="audit_extract").count() == 1


def test_an_extract_for_nobody_says_so_and_logs_the_search(world: dict[str, Any]) -> None:
    page = staff(world["auditor"]).post(
        "/audit/extract/",
        {"patient": "191212121212", "date_from": "2026-03-01", "date_to": "2026-03-31"},
    )
    assert page.status_code == 200
    assert "Ingen patient har det personnumret." in page.content.decode()
    assert list(AccessLog.objects.values_list("action", "searched_for", "patient_id")) == [
        ("audit_extract", "191212121212", None)
    ]


def test_only_auditors_make_extracts(world: dict[str, Any]) -> None:
    url = f"/audit/extract/{world['patient'].pk}/?date_from=2026-03-01&date_to=2026-03-31"
    assert staff(world["nurse"]).get(url).status_code == 403
    assert not AccessLog.objects.exists()


# --- 2. Systematic checks ----------------------------------------------------------------------
def test_a_sample_is_the_same_for_the_same_seed_and_never_larger_than_asked() -> None:
    assert sample_positions(100, 10, 7) == sample_positions(100, 10, 7)
    assert len(set(sample_positions(100, 10, 7))) == 10
    assert sample_positions(100, 10, 7) != sample_positions(100, 10, 8)
    assert sample_positions(3, 10, 7) == [0, 1, 2]
    assert sample_positions(0, 10, 7) == []


def test_a_check_draws_single_reads_of_the_unit_and_period_reproducibly(
    world: dict[str, Any],
) -> None:
    day = date(2026, 3, 2)
    nurse, clinic = world["nurse"], world["clinic"]
    singles = [read(nurse, clinic, PatientFactory(), "view", at(day, 9, n)) for n in range(12)]
    read(nurse, clinic, world["patient"], "desk_list", at(day, 10))  # a listing
    read(world["auditor"], clinic, world["patient"], "audit_list", at(day, 10))  # an audit
    read(nurse, world["other"], world["patient"], "view", at(day, 10))  # another unit
    read(nurse, clinic, world["patient"], "view", at(date(2026, 4, 1), 10))  # after
    first = access_check_draw(
        actor=world["auditor"],
        clinic=clinic,
        date_from=date(2026, 3, 1),
        date_to=date(2026, 3, 31),
        size=5,
        seed=42,
    )
    drawn = list(first.items.order_by("position").values_list("entry_id", flat=True))
    ids = [e.pk for e in singles]
    assert (first.population, len(drawn)) == (12, 5)
    assert drawn == [ids[p] for p in sample_positions(12, 5, 42)]
    # Reads logged since do not change the draw: it stops at the entry it saw last.
    read(nurse, clinic, PatientFactory(), "view", at(day, 11))
    again = access_check_draw(
        actor=world["auditor"],
        clinic=clinic,
        date_from=date(2026, 3, 1),
        date_to=date(2026, 3, 31),
        size=5,
        seed=42,
    )
    assert again.population == 13
    replay = list(
        AccessLog.objects.filter(
            clinic=clinic, id__lte=first.last_entry_id, action="view", created_at__month=3
        )
        .order_by("id")
        .values_list("id", flat=True)
    )
    assert [replay[p] for p in sample_positions(first.population, 5, first.seed)] == drawn


def test_a_deviation_needs_a_note_and_reviews_are_append_only(world: dict[str, Any]) -> None:
    read(world["nurse"], world["clinic"], world["patient"], "view", at(date(2026, 3, 2), 9))
    check = access_check_draw(
        actor=world["auditor"],
        clinic=world["clinic"],
        date_from=date(2026, 3, 1),
        date_to=date(2026, 3, 31),
        size=5,
        seed=1,
    )
    item = check.items.get()
    with pytest.raises(DomainError, match="Skriv vad avvikelsen gäller"):
        access_check_review(actor=world["auditor"], item=item, outcome="deviation", note=" ")
    assert not AccessCheckReview.objects.exists()
    review = access_check_review(
        actor=world["auditor"], item=item, outcome="deviation", note="Ingen vårdrelation."
    )
    with pytest.raises(AppendOnlyError):
        AccessCheckReview.objects.update(outcome="ok")
    with pytest.raises(AppendOnlyError):
        review.delete()
    for table in ("consent_accesscheckreview", "consent_accesscheck", "consent_accesscheckitem"):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cur:
            cur.execute(f"DELETE FROM {table}")  # noqa: S608
    assert AccessCheckReview.objects.get().outcome == "deviation"


def test_the_auditor_draws_and_reviews_a_check_in_the_back_office(
    world: dict[str, Any],
) -> None:
    read(world["nurse"], world["clinic"], world["patient"], "view", at(date(2026, 3, 2), 9))
    read(world["nurse"], world["clinic"], PatientFactory(), "view", at(date(2026, 3, 3), 9))
    auditor = staff(world["auditor"])
    drawn = auditor.post(
        "/audit/checks/",
        {
            "clinic": world["clinic"].pk,
            "date_from": "2026-03-01",
            "date_to": "2026-03-31",
            "size": "2",
            "seed": "",
        },
    )
    check = AccessCheck.objects.get()
    assert drawn["Location"] == f"/audit/checks/{check.pk}/"
    page = auditor.get(drawn["Location"]).content.decode()
    assert page.count('class="review-form"') == 2
    assert "Rebecka Andersson" in page and "SE2321000131-P000000101" in page
    assert AccessLog.objects.filter(action="audit_check").count() == 2
    first, second = AccessCheckItem.objects.filter(check_run=check).order_by("position")
    refused = auditor.post(
        f"/audit/checks/{check.pk}/{first.pk}/review/", {"outcome": "deviation", "note": ""}
    )
    assert refused.status_code == 302 and not AccessCheckReview.objects.exists()
    auditor.post(f"/audit/checks/{check.pk}/{first.pk}/review/", {"outcome": "ok"})
    listing = auditor.get("/audit/checks/").content.decode()
    row = listing.split('id="checks"')[1].split("</table>")[0]
    assert "<td>1 av 2</td><td>0</td><td>Pågår</td>" in row
    auditor.post(
        f"/audit/checks/{check.pk}/{second.pk}/review/",
        {"outcome": "deviation", "note": "Ingen bokning."},
    )
    row = auditor.get("/audit/checks/").content.decode().split('id="checks"')[1]
    assert "<td>2 av 2</td><td>1</td><td>Klar</td>" in row
    assert "mars 2026" in row
    assert list(
        AccessCheckReview.objects.order_by("id").values_list("outcome", "note", "reviewed_by")
    ) == [("ok", "", world["auditor"].pk), ("deviation", "Ingen bokning.", world["auditor"].pk)]


def test_a_sample_larger_than_allowed_is_refused_and_nothing_drawn(world: dict[str, Any]) -> None:
    page = staff(world["auditor"]).post(
        "/audit/checks/",
        {
            "clinic": world["clinic"].pk,
            "date_from": "2026-03-01",
            "date_to": "2026-03-31",
            "size": "501",
        },
    )
    assert page.status_code == 200
    assert not AccessCheck.objects.exists()


# --- 3. Alerts ---------------------------------------------------------------------------------
def alert_counts(client: Client, **period: str) -> dict[str, int]:
    page = client.get("/audit/alerts/", period).content.decode()
    counts = {}
    for kind in ("protected", "no_booking", "many_per_hour", "outside_hours"):
        heading = page.split(f'id="{kind}-heading"')[1]
        counts[kind] = int(heading.split('class="count">')[1].split("<")[0])
    return counts


def test_each_alert_counts_the_reads_behind_it(world: dict[str, Any], settings: Any) -> None:
    settings.AUDIT_ALERT_READS_PER_HOUR = 3
    settings.AUDIT_OPENING_HOURS = "07:00-18:00"
    settings.AUDIT_OPENING_DAYS = "1-5"
    monday = date(2026, 3, 2)
    nurse, clinic = world["nurse"], world["clinic"]
    hidden = PatientFactory(protected_identity=True)
    AppointmentFactory(patient=hidden, clinic=clinic)
    read(nurse, clinic, hidden, "view", at(monday, 9))  # protected
    read(nurse, clinic, hidden, "desk_list", at(monday, 9))  # a listing: no alert
    stranger = PatientFactory()
    read(nurse, clinic, stranger, "view", at(monday, 10))  # no booking at her unit
    read(nurse, clinic, world["patient"], "view", at(monday, 19))  # after closing
    read(nurse, clinic, world["patient"], "view", at(monday + timedelta(days=5), 10))  # Sat
    many = [PatientFactory() for _ in range(4)]
    for n, patient in enumerate(many):
        AppointmentFactory(patient=patient, clinic=clinic)
        read(nurse, clinic, patient, "view", at(monday, 14, n))  # 4 patients in one hour
    read(nurse, clinic, many[0], "view", at(monday, 15, 1))  # the next hour: not counted
    auditor = staff(world["auditor"])
    counts = alert_counts(auditor, date_from="2026-03-01", date_to="2026-03-31")
    assert counts == {"protected": 1, "no_booking": 1, "many_per_hour": 4, "outside_hours": 2}
    page = auditor.get("/audit/alerts/", {"date_from": "2026-03-01", "date_to": "2026-03-31"})
    rows = page.content.decode().split('id="rows-no_booking"')[1].split("</table>")[0]
    assert stranger.display_id in rows and "Rebecka Andersson" in rows
    settings.AUDIT_ALERT_READS_PER_HOUR = 4
    assert alert_counts(auditor, date_from="2026-03-01", date_to="2026-03-31")["many_per_hour"] == 0


def test_opening_hours_are_read_from_the_setting() -> None:
    hours = parse_opening_hours("07:00-18:00", "1-5")
    assert hours.is_open(datetime(2026, 3, 2, 7, 0))
    assert not hours.is_open(datetime(2026, 3, 2, 18, 0))
    assert not hours.is_open(datetime(2026, 3, 7, 12, 0))  # a Saturday
    assert parse_opening_hours("00:00-24:00", "1-7").is_open(datetime(2026, 3, 7, 23, 59))
    with pytest.raises(ValueError):
        parse_opening_hours("18:00-07:00", "1-5")
    with pytest.raises(ValueError):
        parse_opening_hours("07:00-18:00", "0-8")


# --- 4. The audit page without noise ----------------------------------------------------------
def test_the_auditor_s_own_reads_are_apart_and_repeats_are_one_row(world: dict[str, Any]) -> None:
    for _ in range(3):
        access_log_record(
            actor=world["nurse"],
            clinic=world["clinic"],
            action="desk_list",
            patient=world["patient"],
        )
    auditor = staff(world["auditor"])
    for _ in range(2):
        page = auditor.get("/audit/").content.decode()
    log = page.split('id="access-log"')[1].split("</table>")[0]
    assert log.count("<tr><td>") == 1
    assert "3 gånger sedan" in log and "Listad i ankomstlistan" in log
    assert "Rebecka Andersson" in log and "rebecka · SE2321000131-P000000101 · Reception" in log
    assert "Kirurgikliniken<br><small>SE2321000115-E000000001</small>" in log
    own = auditor.get("/audit/", {"action": "audit"}).content.decode()
    own_log = own.split('id="access-log"')[1].split("</table>")[0]
    assert "Listad i granskningen av loggen" in own_log and "Listad i ankomstlistan" not in own_log
    single = auditor.get("/audit/", {"action": "single"}).content.decode()
    assert "Inget." in single.split('id="access-log"')[1].split("</table>")[0]


def test_the_log_downloads_as_xlsx_with_times_and_a_swedish_name(world: dict[str, Any]) -> None:
    from openpyxl import load_workbook

    read(world["nurse"], world["clinic"], world["patient"], "view", at(date(2026, 3, 2), 9, 5))
    response = staff(world["auditor"]).get(
        "/audit/", {"format": "xlsx", "date_from": "2026-03-01", "date_to": "2026-03-31"}
    )
    assert response["Content-Disposition"] == (
        f"attachment; filename*=utf-8''%C3%A5tkomstlogg-{timezone.localdate().isoformat()}.xlsx"
    )
    rows = list(
        load_workbook(io.BytesIO(b"".join(response.streaming_content))).active.iter_rows(
            values_only=True
        )
    )
    assert rows[1] == (
        datetime(2026, 3, 2, 9, 5),
        datetime(2026, 3, 2, 9, 5),
        1,
        "Rebecka Andersson",
        "rebecka",
        "SE2321000131-P000000101",
        "Reception",
        "Kirurgikliniken",
        "SE2321000115-E000000001",
        world["patient"].personal_id,
        "Visning av sms-sidan",
    )
    assert len(rows) == 2  # the download's own logging is not in it
    assert AccessLog.objects.filter(action="audit_download").count() == 1


def test_without_a_filter_the_page_shows_today_s_reads(world: dict[str, Any]) -> None:
    read(world["nurse"], world["clinic"], world["patient"], "view", at(date(2026, 3, 2), 9))
    access_log_record(
        actor=world["nurse"], clinic=world["clinic"], action="case_view", patient=world["patient"]
    )
    auditor = staff(world["auditor"])
    page = auditor.get("/audit/").content.decode()
    log = page.split('id="access-log"')[1].split("</table>")[0]
    assert "Visning av ärende" in log and "Visning av sms-sidan" not in log
    assert f'value="{timezone.localdate().isoformat()}"' in page
    march = auditor.get("/audit/", {"date_from": "2026-03-01"}).content.decode()
    assert "Visning av sms-sidan" in march.split('id="access-log"')[1].split("</table>")[0]


def test_the_audit_page_pages_by_fifty_groups(world: dict[str, Any]) -> None:
    for n in range(51):
        read(world["nurse"], world["clinic"], PatientFactory(), "view", at(date(2026, 3, 2), 9, n))
    auditor = staff(world["auditor"])
    first = auditor.get("/audit/", {"date_from": "2026-03-01"}).content.decode()
    assert first.split('id="access-log"')[1].split("</table>")[0].count("<tr><td>") == 50
    assert 'sida=2">Nästa</a>' in first
    second = auditor.get("/audit/", {"date_from": "2026-03-01", "sida": "2"}).content.decode()
    log = second.split('id="access-log"')[1].split("</table>")[0]
    assert log.count("<tr><td>") == 1 and "2026-03-02 09:00:00" in log
    assert "sida=3" not in second


def test_the_audit_page_shows_the_alerts_first(world: dict[str, Any]) -> None:
    hidden = PatientFactory(protected_identity=True)
    Appointment.objects.filter(patient=world["patient"]).update(patient=hidden)
    access_log_record(actor=world["nurse"], clinic=world["clinic"], action="view", patient=hidden)
    page = staff(world["auditor"]).get("/audit/").content.decode()
    assert page.index('id="alert-summary"') < page.index('id="access-log"')
    assert '<strong id="alert-count-protected">1</strong>' in page


# --- 5. Retention ------------------------------------------------------------------------------
def test_the_access_log_is_kept_five_years_by_default_and_check_deploy_says_less_is_wrong(
    settings: Any,
) -> None:
    from consent.checks import access_log_retention

    assert settings.ACCESS_LOG_RETENTION_YEARS == 5
    assert access_log_retention() == []
    settings.ACCESS_LOG_RETENTION_YEARS = 4
    assert [e.id for e in access_log_retention()] == ["consent.E004"]
    with pytest.raises(SystemCheckError, match=r"consent\.E004"):
        call_command("check", "--deploy", stdout=io.StringIO(), stderr=io.StringIO())


def test_erasing_sms_after_retention_days_leaves_the_access_log(world: dict[str, Any]) -> None:
    from reminders.retention import personal_data_erase_expired

    old = read(world["nurse"], world["clinic"], world["patient"], "view", at(date(2020, 1, 2), 9))
    personal_data_erase_expired(now=timezone.now())
    assert AccessLog.objects.get(pk=old.pk).actor_full_name == "Rebecka Andersson"


@pytest.mark.parametrize("patients", [1, 3])
def test_each_entry_keeps_the_reader_s_name_hsa_id_and_roles(
    world: dict[str, Any], patients: int
) -> None:
    """One entry (its insert reads the HSA-id) and a list (read once) alike."""
    from core.access_log.services import access_log_record_many

    ids = [world["patient"].pk] + [PatientFactory().pk for _ in range(patients - 1)]
    access_log_record_many(
        actor=world["nurse"], clinic=world["clinic"], action="desk_list", patient_ids=ids
    )
    assert set(AccessLog.objects.values_list("actor_full_name", "actor_hsa_id", "actor_roles")) == {
        ("Rebecka Andersson", "SE2321000131-P000000101", "reception")
    }
    assert AccessLog.objects.count() == patients


def test_a_download_logs_each_patient_once_however_many_rows_name_them(
    world: dict[str, Any],
) -> None:
    for day in (2, 3, 4):
        read(world["nurse"], world["clinic"], world["patient"], "view", at(date(2026, 3, day), 9))
    response = staff(world["auditor"]).get(
        "/audit/", {"format": "csv", "date_from": "2026-03-01", "date_to": "2026-03-31"}
    )
    lines = b"".join(response.streaming_content).decode("utf-8-sig").splitlines()
    assert len(lines) == 4  # the header and a row a day
    assert list(
        AccessLog.objects.filter(action="audit_download").values_list("patient_id", flat=True)
    ) == [world["patient"].pk]
