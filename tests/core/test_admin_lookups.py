"""The admin's list pages take only the lookups their own filters send (issue 29.2): any
other lookup in the URL — on a hidden field (`mobile_number__startswith`), on a relation
(`children__exact`) — answers 400 before a query runs, and a filtered search that finds
nobody is logged as a read like one that finds someone."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.test import Client

from consent.models import ConsentEvent
from consent.services import consent_activate, guardian_number_register
from core.access_log.models import AccessLog
from core.admin_utils import FilterLookupsOnlyMixin, filter_lookups
from tests.factories import GuardianshipFactory, PatientFactory

pytestmark = pytest.mark.django_db

NUMBER = "+46709990001"

# Every admin's allowed lookups, spelled out: a filter added to a list page shows up here.
TIME = {f"attempt_time__{part}" for part in ("day", "gte", "isnull", "lt", "month", "year")}
ALLOWED = {
    "auth.Group": set(),
    "axes.AccessAttempt": TIME | {"locked_out", "path_info", "path_info__isnull"},
    "axes.AccessFailureLog": TIME
    | {"locked_out__exact", "locked_out__isnull", "path_info", "path_info__isnull"},
    "axes.AccessLog": TIME
    | {"logout_time__gte", "logout_time__isnull", "logout_time__lt"}
    | {"path_info", "path_info__isnull"},
    "auth.User": {"roll", "is_active__exact", "is_active__isnull"},  # roles by Swedish name
    "bookings.Clinic": {
        "arrival_question__exact",
        "arrival_question__isnull",
        "mobile_payment__exact",
        "mobile_payment__isnull",
        "self_checkin__exact",
        "self_checkin__isnull",
    },
    "bookings.Patient": {
        "link_broken__exact",
        "link_broken__isnull",
        "number_source__exact",
        "number_source__isnull",
        "protected_identity__exact",
        "protected_identity__isnull",
    },
    "core.AccessLog": {"action__exact", "action__isnull"},
    "consent.ConsentEvent": {
        "action__exact",
        "action__isnull",
        "channel__exact",
        "channel__isnull",
        "created_at__day",
        "created_at__month",
        "created_at__year",
    },
    "consent.EServiceCase": {
        "action__exact",
        "action__isnull",
        "auto_applied__exact",
        "auto_applied__isnull",
        "status__exact",
        "status__isnull",
    },
    "consent.LegacyImport": set(),
    "consent.MigrationExclusion": set(),
    "consent.PatientConsent": {"state__exact", "state__isnull"},
    "consent.StandardReply": {
        "active__exact",
        "active__isnull",
        "outcome__exact",
        "outcome__isnull",
        "situation__exact",
        "situation__isnull",
    },
    "core.ApiClient": set(),
    "django_celery_beat.ClockedSchedule": set(),
    "django_celery_beat.CrontabSchedule": set(),
    "django_celery_beat.IntervalSchedule": set(),
    "django_celery_beat.SolarSchedule": set(),
    "django_celery_beat.PeriodicTask": {
        "enabled__exact",
        "enabled__isnull",
        "last_run_at__gte",
        "last_run_at__isnull",
        "last_run_at__lt",
        "one_off__exact",
        "one_off__isnull",
        "start_time__day",
        "start_time__gte",
        "start_time__isnull",
        "start_time__lt",
        "start_time__month",
        "start_time__year",
        "task",
        "task__isnull",
    },
    "reminders.Message": {
        "gateway",
        "gateway__isnull",
        "kind__exact",
        "kind__isnull",
        "reason__exact",
        "reason__isnull",
        "status__exact",
        "status__isnull",
    },
    "reporting.NoShowBaseline": {"year", "year__isnull"},
}


@pytest.fixture
def superuser() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("drift", password="pw-for-tests-12"))
    return client


def test_every_admin_allows_only_its_filters_lookups() -> None:
    registry = admin.site._registry
    assert {m._meta.label: filter_lookups(a) for m, a in registry.items()} == ALLOWED
    for model, model_admin in registry.items():
        assert isinstance(model_admin, FilterLookupsOnlyMixin), model
        assert not model_admin.lookup_allowed("pk", "1", None)


def test_every_filter_link_of_every_list_page_still_works(superuser: Client) -> None:
    child = GuardianshipFactory(child__age=6).child
    consent_activate(patient=child, actor=None, channel="phone")
    links = 0
    for model in admin.site._registry:
        url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        response = superuser.get(url)
        assert response.status_code == 200, url
        changelist = response.context_data["cl"]  # type: ignore[attr-defined]
        for spec in changelist.filter_specs:
            for choice in spec.choices(changelist):
                query = choice["query_string"]
                sent = {key for key, _ in parse_qsl(query.lstrip("?"))}
                assert sent <= ALLOWED[model._meta.label] | {"e", "_facets"}, (url, query)
                assert superuser.get(url + query).status_code == 200, (url, query)
                links += 1
    assert links > 40  # the pages' filters were really walked
    day = ConsentEvent.objects.get().created_at
    drill = f"?created_at__year={day.year}&created_at__month={day.month}"
    assert superuser.get(f"/admin/consent/consentevent/{drill}").status_code == 200


def probes(child: Any, guardian: Any) -> list[str]:
    """The issue's ways round the pages' masks, each a lookup no filter sends."""
    pid = guardian.personal_id
    return [
        f"/admin/bookings/patient/?children__exact={child.pk}",
        f"/admin/bookings/patient/?children={child.pk}",
        f"/admin/bookings/patient/?personal_id={pid}&mobile_number__startswith=%2B467",
        f"/admin/bookings/patient/?personal_id={pid}&mobile_number__regex=%5E%2B4670",
        f"/admin/bookings/patient/?wards__child={child.pk}",
        "/admin/consent/consentevent/?number__startswith=%2B467",
        f"/admin/consent/consentevent/?guardian__exact={guardian.pk}",
        f"/admin/consent/consentevent/?patient__personal_id={child.personal_id}",
        "/admin/consent/eservicecase/?mobile_number__startswith=%2B467",
        f"/admin/consent/eservicecase/?submitted_by__exact={guardian.pk}",
        f"/admin/reminders/message/?to={NUMBER.replace('+', '%2B')}",
        "/admin/auth/user/?password__startswith=pbkdf2",
        f"/admin/core/accesslog/?patient__exact={child.pk}",
    ]


@pytest.mark.parametrize("protected", ["child", "guardian"])
def test_the_admin_s_filters_read_nothing_the_pages_hide(superuser: Client, protected: str) -> None:
    link = GuardianshipFactory(
        child__age=6,
        child__protected_identity=protected == "child",
        guardian__protected_identity=protected == "guardian",
        guardian__mobile_number=NUMBER,
    )
    guardian_number_register(
        child=link.child, guardian=link.guardian, number=NUMBER, actor=None, channel="phone"
    )
    before = AccessLog.objects.count()
    for url in probes(link.child, link.guardian):
        response = superuser.get(url)
        assert response.status_code == 400, url
        page = response.content.decode()
        assert "9990001" not in page and link.guardian.personal_id[2:8] not in page, url
    assert AccessLog.objects.count() == before  # nothing was listed, nothing read


def test_a_filtered_search_that_finds_nobody_is_logged(superuser: Client) -> None:
    PatientFactory()  # somebody, but not the one searched for
    superuser.get("/admin/bookings/patient/", {"q": "19121212-1212"})
    superuser.get("/admin/bookings/patient/", {"protected_identity__exact": "1"})
    superuser.get("/admin/consent/consentevent/", {"action__exact": "block"})
    superuser.get("/admin/consent/consentevent/")  # an unfiltered empty list: no read
    entries = list(
        AccessLog.objects.order_by("id").values_list(
            "action", "patient", "searched_for", "user__username"
        )
    )
    assert entries[0] == ("admin_list", None, "19121212-1212", "drift")
    assert entries[1:] == [
        ("admin_list", None, "protected_identity__", "drift"),
        ("admin_list", None, "action__exact=block", "drift"),
    ]


def test_a_search_that_finds_someone_logs_them_not_the_search(superuser: Client) -> None:
    patient = PatientFactory()
    superuser.get("/admin/bookings/patient/", {"q": patient.display_id})
    assert list(AccessLog.objects.values_list("action", "patient", "searched_for")) == [
        ("admin_list", patient.pk, ""),
    ]
