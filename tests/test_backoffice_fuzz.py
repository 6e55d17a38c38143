"""No 500 on any input (contract 1: bad input is a 4xx): every page of the back office and
the admin, read from the URL configuration, as every role, with hostile query parameters
and form fields — digits that are not ASCII ("²", "٣"), numbers too big for any column,
negative numbers, the calendar's first and last days, empty and very long text — answers
below 500. The API's bodies get the same, nested deeper than any parser recurses.

A new page is fuzzed without being listed here; a new parameter name is added to NAMES."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
import time_machine
from django.contrib import admin as django_admin
from django.contrib.auth.models import User
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bookings.services import appointment_upsert
from consent.cases.services import CaseRequest, case_receive
from consent.models import ExcludedAtClinic, LegacyImport, MigrationExclusion
from consent.services import consent_activate, guardian_number_register
from core.models import Scope
from core.services import api_client_create
from core.staff import Role
from reminders.models import Kind, Message
from tests.factories import ClinicFactory, GuardianshipFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db

# Every query parameter and form field a page of ours or the admin reads.
NAMES = [
    # the back office's query strings
    "sida", "hsida", "vy", "format", "clinic", "patient", "user", "date_from", "date_to",
    "next", "page", "enhet", "dag",
    # its forms
    "q", "channel", "note", "guardian", "number", "outcome", "reblock", "reply", "size", "seed",
    "confirmed", "otp",
    # logging in and changing one's password
    "username", "password", "old_password", "new_password1", "new_password2",
    # the admin's lists and autocomplete
    "p", "o", "e", "all", "term", "app_label", "model_name", "field_name", "_changelist_filters",
    "created_at__year", "created_at__month", "created_at__day", "action__exact",
    "protected_identity__exact", "state__exact", "status__exact",
]  # fmt: skip

HOSTILE = [
    "²",  # a digit to str.isdigit(), not to int()
    "٣",  # Arabic-Indic three: int() reads it as 3
    "9" * 30,  # more than any column holds
    str(10**17),  # fits Python and bigint, not an offset times a page size
    "-1",
    "0",
    "0001-01-01",
    "9999-12-31",
    "",
    "x" * 1000,  # every name at once stays under the body limit (64 KiB)
    "1e3",
    " 7 ",
    "\x00",
]

ROLES = [None, Role.RECEPTION, Role.MANAGER, Role.REGIONAL_ADMIN, Role.AUDITOR, "superuser"]


@pytest.fixture(autouse=True)
def mid_morning() -> Iterator[None]:
    """The desk lists today's contacts: keep the seeded ones inside one local day."""
    with time_machine.travel(datetime(2026, 11, 26, 9, 0, tzinfo=UTC)):
        yield


@pytest.fixture
def world() -> dict[str, Any]:
    """A registry with one of everything a page can be about, and a user of each role."""
    clinic = ClinicFactory(self_checkin=True)
    other = ClinicFactory()
    adult = PatientFactory()
    link = GuardianshipFactory(child__age=6)
    consent_activate(patient=adult, actor=None, channel="phone")
    guardian_number_register(
        child=link.child, guardian=link.guardian, number="0709990004", actor=None, channel="phone"
    )
    appointment, _ = appointment_upsert(
        external_id="FUZZ-DESK",
        patient=adult,
        clinic=clinic,
        starts_at=timezone.now() + timedelta(hours=1, minutes=30),
        status="booked",
        contact_type="visit",
    )
    client, _key = api_client_create(name="e-tjänsten", scopes=[Scope.ESERVICE])
    case, _ = case_receive(
        request=CaseRequest(
            external_id="FUZZ-CASE",
            received_at_clinic=clinic.hsa_id,
            submitted_by=link.guardian.personal_id,
            subject=link.child.personal_id,
            action="guardian_number",
            mobile_number="+46709990005",
        ),
        client=client,
    )
    source = LegacyImport.objects.create(file_name="x.csv", file_sha256="e" * 64)
    exclusion = MigrationExclusion.objects.create(patient=adult, source=source)
    ExcludedAtClinic.objects.create(exclusion=exclusion, clinic=other)
    message = Message.objects.filter(appointment=appointment, kind=Kind.CHECKIN).first()
    users: dict[Any, Any] = {None: None}
    for role in ROLES[1:-1]:
        users[role] = UserFactory(role=role, clinics=[clinic, other], is_staff=True)
    users["superuser"] = User.objects.create_superuser("drift", password="pw-for-tests-12")
    # An auditor's sample check with one read in it.
    from consent.access.services import access_check_draw
    from core.access_log.services import access_log_record

    access_log_record(actor=users[Role.RECEPTION], clinic=clinic, action="view", patient=adult)
    check = access_check_draw(  # any day: the log's clock is the database's
        actor=users[Role.AUDITOR],
        clinic=clinic,
        date_from=date(2000, 1, 1),
        date_to=date(2099, 12, 31),
        size=1,
        seed=1,
    )
    return {
        "check": check,
        "check_item": check.items.get(),
        "clinic": clinic,
        "patient": adult,
        "case": case,
        "appointment": appointment,
        "message": message,
        "users": users,
    }


def path_values(world: dict[str, Any]) -> dict[str, list[str]]:
    """What a route's path parameters are filled with: a seeded row first, then what the
    path's own converter lets through but no row has (ids of 30 digits, text that is no
    HSA-id or link, a NUL)."""
    huge = "9" * 30
    return {
        # a key nobody has, and one in capitals (the converter lets both through)
        "page_key": [
            str(world["patient"].page_key),
            "00000000-0000-4000-8000-000000000000",
            str(world["patient"].page_key).upper(),
        ],
        "patient_id": [str(world["patient"].pk), huge],  # the auditor's extract
        "case_id": [str(world["case"].pk), huge],
        "appointment_id": [str(world["appointment"].pk), huge],
        "message_id": [str(world["message"].pk), huge],
        "check_id": [str(world["check"].pk), huge],
        "item_id": [str(world["check_item"].pk), huge],
        "hsa_id": [world["clinic"].hsa_id, "²", "x" * 300, "%00"],
        "token": [world["message"].checkin_token or "none", "٣" * 40, "%00"],
    }


# Path parameters that choose what a page does: every choice is fuzzed.
CHOICES = {
    "action": ["activate", "guardian-number", "remove-guardian-number", "block-clinic"],
    "outcome": ["apply", "reject"],
}


def routes() -> list[tuple[str, str]]:
    """(route name, path pattern with <name> placeholders) of every page outside the APIs
    and the admin (fuzzed on its own)."""
    found: list[tuple[str, str]] = []

    def walk(patterns: list[Any], prefix: str) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern) and p.name:
                found.append((p.name, prefix + str(p.pattern)))

    walk(get_resolver().url_patterns, "/")
    # The APIs (JSON and FHIR) answer bearer keys only; their bodies are fuzzed below and
    # against their schemas (tests/test_api_fuzz.py, tests/bookings/test_fhir.py).
    pages = [(n, p) for n, p in found if not p.startswith(("/api/", "/admin/", "/fhir/"))]
    return sorted(pages)


def concrete(pattern: str, values: dict[str, list[str]]) -> list[str]:
    """Every way of filling a path pattern's parameters from `values`."""
    import re

    paths = [pattern]
    for converter, name in re.findall(r"<(?:(\w+):)?(\w+)>", pattern):
        placeholder = f"<{converter}:{name}>" if converter else f"<{name}>"
        paths = [p.replace(placeholder, v) for p in paths for v in values[name]]
    return paths


def seeded_paths(world: dict[str, Any], pattern: str) -> list[str]:
    """The route about seeded rows, with each of its choices."""
    return concrete(pattern, {**{k: v[:1] for k, v in path_values(world).items()}, **CHOICES})


def hostile_paths(world: dict[str, Any], pattern: str) -> list[str]:
    """The route about rows that are not there, each parameter in turn."""
    seeded = {k: v[:1] for k, v in path_values(world).items()} | {
        k: v[:1] for k, v in CHOICES.items()
    }
    paths: list[str] = []
    for name, values in path_values(world).items():
        if f":{name}>" in pattern or f"<{name}>" in pattern:
            paths += concrete(pattern, {**seeded, name: values[1:]})
    return paths


def client_as(world: dict[str, Any], role: Any) -> Client:
    client = Client(raise_request_exception=False)
    user = world["users"][role]
    if user is not None:
        client.force_login(user)
    return client


def crashed(response: Any) -> bool:
    """Whether the answer is a 5xx, a download's stream included (it fails while it
    streams, if at all)."""
    if response.status_code == 503 and response.get("Content-Type") == "application/json":
        return b'"checks"' not in response.content  # /readyz: "not ready" is its answer
    if response.status_code >= 500:
        return True
    if hasattr(response, "streaming_content"):
        b"".join(response.streaming_content)
    return False


# The whole list for a regional admin (every page lets them in); for the others, who
# are refused most pages before a parameter is read, the worst three.
SOME = ["²", "9" * 30, "0001-01-01"]


@pytest.mark.parametrize("role", ROLES, ids=lambda r: str(r))
def test_no_page_answers_500_to_hostile_parameters(world: dict[str, Any], role: Any) -> None:
    """Each value in every name at once, in the query string and the form alike (a POST
    with both reaches what a page reads of either), and the plain GET."""
    client = client_as(world, role)
    crashes = []
    for name, pattern in routes():
        for path in seeded_paths(world, pattern):
            for hostile in HOSTILE if role == Role.REGIONAL_ADMIN else SOME:
                data = dict.fromkeys(NAMES, hostile)
                if crashed(client.post(f"{path}?{urlencode(data)}", data)):
                    crashes.append(f"POST {name} {path} {hostile[:12]!r}")
                if hostile in SOME and crashed(client.get(path, data)):
                    crashes.append(f"GET {name} {path} {hostile[:12]!r}")
            if role is not None and name == "logout":
                client = client_as(world, role)  # log back in for the next pages
    assert crashes == [], "\n".join(crashes)


@pytest.mark.parametrize("role", [Role.RECEPTION, Role.REGIONAL_ADMIN])
def test_no_page_answers_500_about_rows_that_are_not_there(
    world: dict[str, Any], role: Any
) -> None:
    client = client_as(world, role)
    crashes = []
    for name, pattern in routes():
        for path in hostile_paths(world, pattern):
            for method in ("get", "post"):
                if crashed(getattr(client, method)(path)):
                    crashes.append(f"{method.upper()} {name} {path}")
    assert crashes == [], "\n".join(crashes)


def admin_pages(world: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Every registered model's list (which reads the query string: search, filters,
    dates, order, page), and its add page, a row's change and history pages and a row
    that is not there (which read little of it)."""
    lists, pages = ["/admin/", "/admin/autocomplete/"], []
    for model in django_admin.site._registry:
        base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        lists.append(base)
        pages += [f"{base}add/", f"{base}{'9' * 30}/change/"]
        row = model._default_manager.order_by("pk").first()
        if row is not None:
            pages += [f"{base}{row.pk}/change/", f"{base}{row.pk}/history/"]
    return lists, pages


def test_no_admin_page_answers_500_to_hostile_parameters(world: dict[str, Any]) -> None:
    client = client_as(world, "superuser")
    lists, pages = admin_pages(world)
    crashes = []
    for paths, values in ((lists, [*SOME, "9999", "x" * 1000, "\x00"]), (pages, SOME[:1])):
        for path in paths:
            for hostile in values:
                if crashed(client.get(path, dict.fromkeys(NAMES, hostile))):
                    crashes.append(f"GET {path} {hostile[:12]!r}")
    assert crashes == [], "\n".join(crashes)


@settings(
    max_examples=40,
    derandomize=True,  # the same examples on every run
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    route=st.sampled_from(routes()),
    role=st.sampled_from(ROLES),
    data=st.dictionaries(
        st.sampled_from(NAMES),
        st.one_of(
            st.sampled_from(HOSTILE),
            st.integers(min_value=-(10**40), max_value=10**40).map(str),
            st.dates().map(lambda d: d.isoformat()),
            st.text(max_size=40),
        ),
        max_size=6,
    ),
    post=st.booleans(),
)
def test_no_page_answers_500_to_drawn_parameters(
    world: dict[str, Any], route: tuple[str, str], role: Any, data: dict[str, str], post: bool
) -> None:
    """The same with values drawn in the form they arrive: any integer as text, any date,
    any text, a few names at a time (one bad field must not hide a crash behind it)."""
    name, pattern = route
    client = client_as(world, role)
    for path in seeded_paths(world, pattern)[:2]:
        response = client.post(path, data) if post else client.get(path, data)
        assert not crashed(response), f"{role} {'POST' if post else 'GET'} {name} {path} {data}"


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.fixture
def api_key() -> Iterator[str]:
    _client, key = api_client_create(name="fuzzer", scopes=Scope.values)
    yield key


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("put", "/api/v1/clinics/SE2321000115-E000000001/"),
        ("put", "/api/v1/patients/191212121212/"),
        ("put", "/api/v1/appointments/DEEP-1/"),
        ("post", "/api/v1/eservice/cases/"),
    ],
)
@pytest.mark.parametrize("depth", [5_000, 100_000])
def test_an_api_body_nested_deeper_than_any_parser_recurses_is_a_400(
    api_key: str, method: str, path: str, depth: int, settings: Any
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = settings.API_MAX_BODY_BYTES = 1_000_000
    client = Client(raise_request_exception=False)
    response = getattr(client, method)(
        path,
        nested(depth),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {api_key}",
    )
    assert (response.status_code, response["Content-Type"]) == (400, "application/problem+json")
    assert json.loads(response.content)["title"] == "Ogiltig begäran"


def test_the_fuzzed_names_are_the_ones_the_code_reads() -> None:
    """NAMES keeps up with the code: every literal `request.GET/POST.get("…")` is in it."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    read: set[str] = set()
    for app in ("bookings", "consent", "core", "reminders", "reporting", "config"):
        for source in (root / app).rglob("*.py"):
            text = source.read_text()
            read |= set(re.findall(r"\.(?:GET|POST)\.(?:get|getlist)\(\s*\"(\w+)\"", text))
    gateways = {"message", "token", "status", "delivered", "id"}  # delivery-report webhooks
    assert read - set(NAMES) - gateways == set()


# --- The crashes found by trying, each answered as it should be -------------------------
@pytest.mark.parametrize("page", ["²", "٣", "9" * 30])
def test_a_report_list_s_page_number_is_ascii_digits_and_capped(
    world: dict[str, Any], page: str
) -> None:
    client = client_as(world, Role.MANAGER)
    path = f"/reports/migration-exclusions/{world['clinic'].hsa_id}/"
    response = client.get(path, {"sida": page})
    assert (response.status_code, response.context["page"]) == (200, 1)  # the first page


@pytest.mark.parametrize("page", ["²", "٣", str(10**17), "0", "-1", ""])
def test_the_access_log_api_refuses_a_page_that_is_no_page(api_key: str, page: str) -> None:
    response = Client().get(
        "/api/v1/access-log/", {"page": page}, HTTP_AUTHORIZATION=f"Bearer {api_key}"
    )
    assert (response.status_code, response["Content-Type"]) == (400, "application/problem+json")
    [error] = response.json()["errors"]
    assert (error["field"], error["message"]) == (
        "page",
        "Ange ett sidnummer från 1 till 1000000 (siffrorna 0–9).",
    )


@pytest.mark.parametrize("name", ["patient", "since", "actor", "page"])
@pytest.mark.parametrize("value", ["\x00", "x" * 1000, "²", "0001-01-01T00:00:00+01:00"])
def test_the_access_log_api_answers_hostile_filters_with_a_400_or_nothing_found(
    api_key: str, name: str, value: str
) -> None:
    response = Client().get(
        "/api/v1/access-log/", {name: value}, HTTP_AUTHORIZATION=f"Bearer {api_key}"
    )
    assert response.status_code in (200, 400), response.status_code
    if response.status_code == 400:
        assert response.json()["errors"][0]["field"] == name


def test_the_desk_ignores_a_clinic_to_block_again_that_is_no_id(world: dict[str, Any]) -> None:
    client = client_as(world, Role.RECEPTION)
    appointment = world["appointment"]
    response = client.post(
        f"/desk/{appointment.pk}/arrive/", {"outcome": "received", "reblock": ["²", "9" * 30]}
    )
    assert response.status_code == 302
    appointment.refresh_from_db()
    assert appointment.status == "arrived"


@pytest.mark.parametrize("chosen", ["abc", "²", "9" * 30, ""])
def test_choosing_a_clinic_that_is_no_id_changes_nothing(
    world: dict[str, Any], chosen: str
) -> None:
    client = client_as(world, Role.RECEPTION)
    response = client.post("/clinic/", {"clinic": chosen, "next": "/desk/"})
    assert (response.status_code, response["Location"]) == (302, "/desk/")
    assert "clinic_id" not in client.session


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "1999-12-31"])
def test_the_audit_page_refuses_dates_outside_this_century_in_swedish(
    world: dict[str, Any], day: str
) -> None:
    """On SQLite a day's start at year 1 has no UTC time at all (it was a 500 there)."""
    client = client_as(world, Role.AUDITOR)
    response = client.get("/audit/", {"date_from": day})
    assert response.status_code == 200
    assert "Ange ett datum mellan 2000-01-01 och 2099-12-31." in response.content.decode()


def test_a_login_with_a_name_longer_than_any_user_s_is_refused_not_a_500() -> None:
    response = Client().post("/accounts/login/", {"username": "x" * 1000, "password": "y"})
    assert response.status_code == 200
    assert "Fel användarnamn, lösenord" in response.content.decode()
