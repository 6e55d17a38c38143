"""The reports' counts kept in the database behind the cache (reporting/kept.py): a
restarted cache is filled from there, not by counting again; counts the task has not
refreshed for longer than the cache keeps them are served with their time, and the task is
queued once; counts of a month that left the window are forgotten."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from bookings.models import Appointment, Clinic
from core.staff import Role
from reporting.models import KeptCounts
from tests.factories import ClinicFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db


def contact(clinic: Clinic, n: int, status: str = "completed") -> Appointment:
    start = timezone.now() - timedelta(days=2)
    return Appointment.objects.create(  # type: ignore[no-any-return]
        external_id=f"K{n}",
        patient=PatientFactory(),
        clinic=clinic,
        starts_at=start,
        booked_at=start - timedelta(days=9),
        status=status,
    )


@pytest.fixture
def setting() -> dict[str, Any]:
    clinic = ClinicFactory(name="A-kliniken")
    for n in range(3):
        contact(clinic, n, "no_show" if n == 0 else "completed")
    client = Client()
    client.force_login(UserFactory(role=Role.MANAGER, clinics=[clinic]))
    return {"clinic": clinic, "client": client}


def contacts_shown(client: Client) -> str:
    body = b"".join(client.get("/reports/?format=outcomes.csv").streaming_content)
    return body.decode("utf-8-sig").splitlines()[1].rsplit(";", 1)[1]


def test_a_restarted_cache_is_filled_from_the_database_not_by_counting(
    setting: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    from reporting.selectors import monthly_outcomes
    from reporting.tasks import refresh_dashboard

    refresh_dashboard()
    clinics = Clinic.objects.filter(pk=setting["clinic"].pk)
    kept = monthly_outcomes(clinics)
    assert kept[-1].contacts == 3
    contact(setting["clinic"], 9)  # not counted until the next refresh
    cache.clear()  # the cache restarted
    with django_assert_max_num_queries(2):  # the clinic ids and the kept counts: no count
        assert monthly_outcomes(clinics) == kept
    with django_assert_max_num_queries(1):  # back in the cache
        assert monthly_outcomes(clinics) == kept
    assert contacts_shown(setting["client"]) == "3"
    refresh_dashboard()
    assert contacts_shown(setting["client"]) == "4"


def test_counts_the_task_has_not_refreshed_are_served_with_their_time_and_the_task_queued(
    setting: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from reporting import tasks

    queued: list[bool] = []
    monkeypatch.setattr(
        tasks.refresh_dashboard, "apply_async", lambda **kwargs: queued.append(True)
    )
    tasks.refresh_dashboard()
    page = setting["client"].get("/reports/").content.decode()
    assert 'id="as-of"' not in page  # current counts: nothing to say
    contact(setting["clinic"], 9)
    an_hour_ago = timezone.now() - timedelta(hours=1)
    KeptCounts.objects.update(computed_at=an_hour_ago)  # the worker was down
    cache.clear()
    page = setting["client"].get("/reports/").content.decode()
    when = timezone.localtime(an_hour_ago).strftime("%H:%M")
    assert f"kl. {when}. Nya siffror räknas fram" in page
    assert contacts_shown(setting["client"]) == "3"  # the kept counts, not a recount
    assert queued == [True]  # once, however many pages ask
    cache.delete("report:refresh-queued")
    tasks.refresh_dashboard()
    assert contacts_shown(setting["client"]) == "4"
    assert 'id="as-of"' not in setting["client"].get("/reports/").content.decode()


def test_counts_never_computed_are_computed_on_the_spot_and_kept(setting: dict[str, Any]) -> None:
    assert not KeptCounts.objects.exists()
    assert setting["client"].get("/reports/").status_code == 200
    assert contacts_shown(setting["client"]) == "3"
    pk = setting["clinic"].pk
    keys = set(KeptCounts.objects.values_list("key", flat=True))
    assert {f"report:delivery:{pk}", f"report:recent:{pk}"} <= keys
    assert any(k.startswith(f"report:monthly:{pk}:") for k in keys)
    assert KeptCounts.objects.get(key=f"report:recent:{pk}").value == [1, 3]


def test_the_task_forgets_counts_it_no_longer_writes(setting: dict[str, Any]) -> None:
    from reporting.tasks import refresh_dashboard

    KeptCounts.objects.create(
        key="report:monthly:1:2020-01-01", value={}, computed_at=timezone.now() - timedelta(days=2)
    )
    refresh_dashboard()
    assert not KeptCounts.objects.filter(key="report:monthly:1:2020-01-01").exists()
    assert KeptCounts.objects.filter(key=f"report:recent:{setting['clinic'].pk}").exists()


def test_the_four_weeks_flag_is_kept_until_the_refresh(setting: dict[str, Any]) -> None:
    from reporting.selectors import recent_no_shows
    from reporting.tasks import refresh_dashboard

    clinics = Clinic.objects.filter(pk=setting["clinic"].pk)
    first = recent_no_shows(clinics)[setting["clinic"].pk]
    assert (first.rate, first.contacts) == (round(1 / 3, 4), 3)
    contact(setting["clinic"], 9, "no_show")
    assert recent_no_shows(clinics)[setting["clinic"].pk] == first
    refresh_dashboard()
    after = recent_no_shows(clinics)[setting["clinic"].pk]
    assert (after.rate, after.contacts) == (0.5, 4)


def test_on_the_1st_the_window_before_is_served_until_the_task_has_run(
    setting: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new month starts a new twelve-month window, kept under a new key: until the task
    has counted it, the page shows the window before's counts (without its first month)
    and says from when, rather than counting a year while a manager waits."""
    from reporting import selectors, tasks

    queued: list[bool] = []
    monkeypatch.setattr(
        tasks.refresh_dashboard, "apply_async", lambda **kwargs: queued.append(True)
    )

    def no_count(*args: Any) -> Any:
        raise AssertionError("counted on the spot")

    monkeypatch.setattr(selectors, "monthly_counts", no_count)
    pk = setting["clinic"].pk
    old_first = selectors.monthly_earlier()[1:]
    this_month = timezone.localdate().replace(day=1).isoformat()
    counts = dict.fromkeys(selectors.COUNT_KEYS, 0)
    at = timezone.now() - timedelta(minutes=3)
    KeptCounts.objects.create(
        key=f"report:monthly:{pk}{selectors.monthly_earlier()}",
        value={old_first: {**counts, "contacts": 99}, this_month: {**counts, "contacts": 7}},
        computed_at=at,
    )
    body = b"".join(setting["client"].get("/reports/?format=outcomes.csv").streaming_content)
    rows = body.decode("utf-8-sig").splitlines()[1:]
    assert [(r.split(";")[0], r.rsplit(";", 1)[1]) for r in rows] == [(this_month, "7")]
    page = setting["client"].get("/reports/").content.decode()
    assert f"kl. {timezone.localtime(at).strftime('%H:%M')}. Nya siffror" in page
    assert queued == [True]


def test_a_broker_down_too_does_not_stop_the_page(
    setting: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from kombu.exceptions import OperationalError

    from reporting import tasks

    def unreachable(**kwargs: Any) -> None:
        raise OperationalError("connection refused")

    tasks.refresh_dashboard()
    monkeypatch.setattr(tasks.refresh_dashboard, "apply_async", unreachable)
    KeptCounts.objects.update(computed_at=timezone.now() - timedelta(hours=1))
    cache.clear()
    page = setting["client"].get("/reports/")
    assert page.status_code == 200 and 'id="as-of"' in page.content.decode()
    assert contacts_shown(setting["client"]) == "3"


def test_the_failed_sms_count_is_kept_and_counts_a_central_reception_s_once(
    setting: dict[str, Any],
) -> None:
    from reminders.models import FailedSmsFollowUp, Message
    from reporting.selectors import failed_sms_waiting
    from reporting.tasks import refresh_dashboard

    clinic = setting["clinic"]
    central: Clinic = ClinicFactory(name="Centralreceptionen")  # type: ignore[assignment]
    central.serves.add(clinic)
    appointment = Appointment.objects.get(external_id="K1")
    failed = Message.objects.create(
        appointment=appointment,
        kind="reminder",
        starts_at=appointment.starts_at,
        due_at=appointment.starts_at - timedelta(hours=48),
        status="failed",
        reason="delivery_failed",
    )
    both = Clinic.objects.filter(pk__in=[clinic.pk, central.pk])
    assert failed_sms_waiting(both) == 1  # on both lists, counted once
    page = setting["client"].get("/reports/").content.decode()
    assert "Misslyckade sms att följa upp: <strong>1</strong>" in page
    FailedSmsFollowUp.objects.create(
        message=failed, clinic=clinic, handled_by=UserFactory(role=Role.RECEPTION)
    )
    assert failed_sms_waiting(both) == 1  # kept until the refresh
    refresh_dashboard()
    assert failed_sms_waiting(both) == 0
