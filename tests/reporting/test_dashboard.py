"""The dashboard (rules 3.8): no-show rates with and without reminders against the 2023
baseline, coverage, the SMS question, delivery — as numbers and CSV."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from bookings.models import Appointment
from consent.models import ArrivalQuestion
from core.staff import Role
from reminders.models import Message
from reporting.models import NoShowBaseline
from tests.factories import ClinicFactory, PatientFactory, UserFactory
from tests.pages import seen

pytestmark = pytest.mark.django_db


@pytest.fixture
def history() -> dict[str, Any]:
    clinic = ClinicFactory(name="A-kliniken", arrival_question=True)
    other = ClinicFactory(name="B-kliniken")
    patient = PatientFactory()
    asker = UserFactory(role=Role.RECEPTION, clinics=[clinic])
    start = timezone.now() - timedelta(days=3)
    # 10 contacts with a sent reminder (1 no-show), 10 without (3 no-shows), one late cancel
    for n in range(21):
        status = "no_show" if n in (0, 10, 11, 12) else "completed"
        if n == 20:
            status = "cancelled"
        a = Appointment.objects.create(
            external_id=f"H{n}",
            patient=patient,
            clinic=clinic,
            starts_at=start,
            booked_at=start - timedelta(days=9),
            status=status,
            arrived_via="desk" if status == "completed" else "",
            late_cancellation=n == 20,
        )
        if n < 10:
            Message.objects.create(
                appointment=a,
                kind="reminder",
                starts_at=start,
                due_at=start - timedelta(hours=48),
                status="delivered",
                segments=1,
            )
        else:
            Message.objects.create(
                appointment=a,
                kind="reminder",
                starts_at=start,
                due_at=start - timedelta(hours=48),
                status="suppressed",
                reason="not_activated",
            )
        if status == "completed" and n % 2 == 0:
            ArrivalQuestion.objects.create(
                appointment=a, clinic=clinic, asked_by=asker, outcome="received"
            )
    Appointment.objects.create(
        external_id="B1",
        patient=patient,
        clinic=other,
        starts_at=start,
        booked_at=start,
        status="no_show",
    )
    NoShowBaseline.objects.create(clinic=clinic, year=2023, rate=Decimal("0.0850"))
    return {"clinic": clinic, "manager": UserFactory(role=Role.MANAGER, clinics=[clinic])}


def csv_rows(response: Any) -> list[str]:
    """The rows of a CSV download, after its byte order mark (which Excel needs)."""
    body = b"".join(response.streaming_content)
    assert body.startswith("\ufeff".encode())
    return body.decode("utf-8-sig").splitlines()


def test_outcomes_per_month_with_and_without_reminders_against_2023(
    history: dict[str, Any],
) -> None:
    client = Client()
    client.force_login(history["manager"])
    rows = csv_rows(client.get("/reports/?format=outcomes.csv"))
    month = timezone.localtime(timezone.now() - timedelta(days=3)).strftime("%Y-%m-01")
    assert rows[0] == (
        "Månad;Uteblivna med påminnelse;Antal kontakter med påminnelse;Uteblivna utan "
        "påminnelse;Antal kontakter utan påminnelse;Uteblivna 2023;Fick påminnelse;Bokade "
        "kontakter;Sms-frågan ställd;Ankomster i receptionen;Sena avbokningar;Kontakter"
    )
    # reminded: 1 of 10; not reminded: 3 of 10; coverage 10 of 20 booked (one cancelled);
    # question: asked at 7 of 16 desk arrivals; B-kliniken's no-show is not this manager's
    # — percentages as the page writes them, each beside the count it is of
    assert rows[1:] == [
        f"{month};10,0\u00a0%;10;30,0\u00a0%;10;8,5\u00a0%;50,0\u00a0%;20;43,8\u00a0%;16;1;21"
    ]


def test_delivery_by_status_and_reason_with_segments(history: dict[str, Any]) -> None:
    client = Client()
    client.force_login(history["manager"])
    rows = csv_rows(client.get("/reports/?format=delivery.csv"))
    month = timezone.localtime(timezone.now() - timedelta(days=5)).strftime("%Y-%m-01")
    assert rows == [  # labels, not codes
        "Månad;Status;Varför;Sms;Sms-delar",
        f"{month};Levererad;;10;10",
        f"{month};Skickas inte;Sms-påminnelse är inte aktiverad (samtycke i 1177 räcker inte);11;0",
    ]


def test_dashboard_page_draws_charts_from_our_own_static_files(history: dict[str, Any]) -> None:
    client = Client()
    client.force_login(history["manager"])
    page = client.get("/reports/").content.decode()
    assert "/static/vendor/chartjs/chart.umd.min.js" in page
    assert "https://" not in page.split("<main")[1]
    assert 'id="table-outcomes"' in page and "Jämförelse 2023" in page


@pytest.mark.parametrize("role", [Role.RECEPTION, Role.AUDITOR])
def test_dashboard_is_for_managers_and_regional_admins(history: dict[str, Any], role: str) -> None:
    client = Client()
    client.force_login(UserFactory(role=role, clinics=[history["clinic"]]))
    assert seen(client.get("/reports/")) == "refused"


def test_dashboard_counts_are_kept_per_clinic_and_refreshed_by_the_task(
    history: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    from reporting.selectors import monthly_outcomes
    from reporting.tasks import refresh_dashboard

    clinic_qs = history["clinic"].__class__.objects.filter(pk=history["clinic"].pk)
    first = monthly_outcomes(clinic_qs)  # computes and keeps the counts
    with django_assert_max_num_queries(1):  # only the clinic ids: the counts are cached
        assert monthly_outcomes(clinic_qs) == first
    Appointment.objects.create(
        external_id="NEW",
        patient=PatientFactory(),
        clinic=history["clinic"],
        starts_at=timezone.now() - timedelta(days=3),
        booked_at=timezone.now() - timedelta(days=9),
        status="no_show",
    )
    assert monthly_outcomes(clinic_qs) == first  # still the kept numbers
    assert refresh_dashboard() == {"clinics": 2}
    assert monthly_outcomes(clinic_qs)[-1].contacts == first[-1].contacts + 1


def test_the_dashboard_speaks_swedish_and_flags_clinics_above_2023(
    history: dict[str, Any],
) -> None:
    client = Client()
    client.force_login(history["manager"])
    page = client.get("/reports/").content.decode()
    suppressed = page[page.index('id="table-suppressed"') :].split("</table>")[0]
    assert "Sms-påminnelse är inte aktiverad" in suppressed
    assert "not_activated" not in suppressed
    assert '"status_labels"' in page and '"delivered": "Levererad"' in page
    # 4 of 20 contacts missed in the last four weeks (20 %) against 8.5 % in 2023.
    # The flag says the numbers behind it.
    flagged = page[page.index('id="flagged"') :].split("</div>")[0]
    assert (
        "<strong>A-kliniken</strong>: 20,0\xa0% uteblivna av 20 genomförda kontakter, mot "
        "8,5\xa0% år 2023" in flagged
    )
    recent = page[page.index(f'id="recent-{history["clinic"].hsa_id}"') :].split("</tr>")[0]
    assert "20,0\xa0%" in recent and "Över 2023" in recent
    assert 'id="failed-sms"' in page


def test_every_table_downloads_as_xlsx_too_under_a_swedish_name(history: dict[str, Any]) -> None:
    import io
    from datetime import date
    from urllib.parse import quote

    from openpyxl import load_workbook

    client = Client()
    client.force_login(history["manager"])
    hsa = history["clinic"].hsa_id
    for path, name in (
        ("/reports/?clinic=alla&format=outcomes.xlsx", "utfall-per-månad-alla-mina.xlsx"),
        (f"/reports/?clinic={hsa}&format=delivery.xlsx", f"sms-leverans-{hsa}.xlsx"),
        ("/reports/caught-since/?format=xlsx", "fångade-sedan.xlsx"),
        ("/reports/migration-exclusions.xlsx", "ej-flyttade-per-mottagning.xlsx"),
        ("/reports/?format=outcomes.csv", f"utfall-per-månad-{hsa}.csv"),
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        assert quote(name) in response["Content-Disposition"], path
    outcomes = client.get("/reports/?format=outcomes.xlsx")
    book = load_workbook(io.BytesIO(b"".join(outcomes.streaming_content)), read_only=True)
    header, first = list(book.active.iter_rows(values_only=True))[:2]
    assert header[:3] == ("Månad", "Uteblivna med påminnelse", "Antal kontakter med påminnelse")
    month = timezone.localdate(timezone.now() - timedelta(days=3)).replace(day=1)
    assert first[0].date() == month and isinstance(first[0].date(), date)  # a date, not text
    assert first[1:3] == ("10,0\u00a0%", 10)  # as on the screen, beside its count
    # the page links both formats
    page = client.get("/reports/").content.decode()
    assert "format=outcomes.xlsx" in page and "format=delivery.xlsx" in page


def test_small_months_are_not_plotted_and_the_running_month_is_marked(
    history: dict[str, Any],
) -> None:
    import json
    import re

    from django.utils.dateformat import format as date_format

    client = Client()
    client.force_login(history["manager"])
    page = client.get("/reports/").content.decode()
    data = json.loads(
        re.search(
            r'<script id="chart-data" type="application/json">(.*?)</script>', page, re.S
        ).group(1)  # type: ignore[union-attr]
    )
    # 10 contacts with a reminder, 10 without, 16 desk arrivals: too few to plot (< 20) —
    # not drawn as 10 % or 30 %, greyed in the table with their counts; 20 booked: drawn
    assert (data["reminded"], data["not_reminded"], data["compliance"]) == ([None], [None], [None])
    assert data["coverage"] == [0.5]
    assert '<td class="few">10,0\u00a0% <small>av 10</small></td>' in page
    month = timezone.localtime(timezone.now() - timedelta(days=3))
    label = date_format(month, "F Y")
    if (month.year, month.month) == (timezone.localdate().year, timezone.localdate().month):
        label += " (pågår)"
    assert data["months"] == [label]
    # the delivery chart has its table, statuses by their Swedish names
    table = page[page.index('<table id="table-delivery">') :]
    assert '<th scope="col">Levererad</th>' in table[: table.index("</table>")]


def test_the_report_opens_on_the_unit_the_header_names_and_all_on_request() -> None:
    from tests.pages import page_text

    a, b = ClinicFactory(name="A-kliniken"), ClinicFactory(name="B-kliniken")
    manager = UserFactory(role=Role.MANAGER, clinics=[a, b])
    client = Client()
    client.force_login(manager)
    client.post("/clinic/", {"clinic": b.pk, "next": "/reports/"})
    page = client.get("/reports/")
    assert "Visar: B-kliniken" in page_text(page)
    assert f'<option value="{b.hsa_id}" selected>B-kliniken</option>' in page.content.decode()
    everything = client.get("/reports/?clinic=alla")
    assert "Visar: alla dina mottagningar" in page_text(everything)
    assert '<option value="alla" selected>Alla mina</option>' in everything.content.decode()


def test_all_mine_draws_each_clinic_against_2023_and_caught_since_a_weekly_line() -> None:
    import json
    import re

    a, b = ClinicFactory(name="A-kliniken"), ClinicFactory(name="B-kliniken")
    manager = UserFactory(role=Role.MANAGER, clinics=[b, a])
    client = Client()
    client.force_login(manager)

    def chart(page: str) -> Any:
        found = re.search(r'<script id="chart-data" type="application/json">(.*?)</script>', page)
        assert found is not None
        return json.loads(found.group(1))

    everything = client.get("/reports/?clinic=alla").content.decode()
    assert 'id="chart-clinics"' in everything
    assert chart(everything)["clinic_names"] == ["A-kliniken", "B-kliniken"]
    one = client.get(f"/reports/?clinic={a.hsa_id}").content.decode()
    assert 'id="chart-clinics"' not in one
    caught = client.get("/reports/caught-since/").content.decode()
    assert 'id="chart-caught"' in caught
    assert chart(caught) == {"weeks": [], "asked": [], "activated": []}
