"""Secrets, staff sessions and logins, and the edges of the API (rules 3.10): what a region
needs before it may run this on shared clinic computers."""

from __future__ import annotations

import secrets
import subprocess
import sys
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from bookings.models import Clinic
from core.models import Scope
from core.staff import Role
from tests.factories import ClinicFactory, PatientFactory, UserFactory
from tests.pages import seen

from .reminders.processes import ROOT, env

PASSWORD = "pw-for-tests-1"


def start(*args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    """`manage.py ARGS` in a fresh process with exactly these product settings."""
    environment = env(**settings)
    for name in ("SECRET_KEY", "SMS_WEBHOOK_SECRET", "DEBUG", "SMS_GATEWAY", "CACHE_URL"):
        if name not in settings:
            environment.pop(name, None)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


KEY = secrets.token_urlsafe(50)


DEVELOPMENT_KEY = "insecure-local-only-key-change-me-in-production-0123456789"


@pytest.mark.parametrize(
    ("configured", "named"),
    [
        ({}, "SECRET_KEY"),
        (
            {"SECRET_KEY": "insecure-local-only-key-change-me-in-production-0123456789"},
            "SECRET_KEY",
        ),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"SECRET_KEY": KEY, "SMS_GATEWAY": "46elks"}, "SMS_WEBHOOK_SECRET"),
        (
            {"SECRET_KEY": KEY, "SMS_WEBHOOK_SECRET": KEY[:40], "SMS_GATEWAY": "outbox,sinch"},
            "E003",
        ),
    ],
)
def test_outside_debug_nothing_starts_without_keys_of_its_own(
    configured: dict[str, str], named: str
) -> None:
    result = start("check", **configured)
    assert result.returncode != 0
    assert named in result.stderr


PRODUCTION = {
    "SECRET_KEY": KEY,
    "SMS_WEBHOOK_SECRET": secrets.token_urlsafe(32),
    "SMS_GATEWAY": "46elks,sinch",
    "ALLOWED_HOSTS": "sms.regionhalland.se",
    "SECURE_SSL_REDIRECT": "true",
    "CACHE_URL": "redis://cache.regionhalland.se:6379/1",
}


def test_with_production_settings_the_deploy_check_prints_nothing() -> None:
    result = start("check", "--deploy", **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "System check identified no issues (0 silenced)."


@pytest.mark.parametrize(
    "secret",
    ["abc", "x" * 31, KEY],  # too short, one short, and SECRET_KEY itself
    ids=["3 characters", "31 characters", "SECRET_KEY"],
)
def test_a_webhook_secret_shorter_than_32_or_equal_to_the_secret_key_fails_the_check(
    secret: str,
) -> None:
    result = start("check", "--deploy", **{**PRODUCTION, "SMS_WEBHOOK_SECRET": secret})
    assert result.returncode != 0
    assert "reminders.E005" in result.stderr
    assert "SMS_WEBHOOK_SECRET" in result.stderr


def test_no_other_process_starts_with_a_weak_webhook_secret() -> None:
    """`check` lists it with the others (E005); anything else refuses to start."""
    result = start("showmigrations", "reminders", **{**PRODUCTION, "SMS_WEBHOOK_SECRET": "abc"})
    assert result.returncode != 0
    assert "ImproperlyConfigured: SMS_WEBHOOK_SECRET" in result.stderr


def test_the_deploy_check_refuses_the_outbox_unless_a_test_installation() -> None:
    """Issue 29.10: the outbox sends nothing and its API gives out what it stored."""
    outbox = {**PRODUCTION, "SMS_GATEWAY": "outbox"}
    result = start("check", "--deploy", **outbox)
    assert result.returncode != 0
    assert "reminders.E006" in result.stderr and "SMS_GATEWAY=outbox" in result.stderr
    tests_here = start("check", "--deploy", **outbox, TEST_INSTALLATION="true")
    assert tests_here.returncode == 0, tests_here.stderr
    assert "E006" not in tests_here.stderr
    # the server itself still starts with it: a plain check (no --deploy) passes
    assert start("check", **outbox).returncode == 0


def test_the_deploy_check_warns_when_limits_are_counted_per_process() -> None:
    """Without CACHE_URL each process keeps its own count of the rate limits: with four
    web processes a limit is four times as high."""
    without_cache = {k: v for k, v in PRODUCTION.items() if k != "CACHE_URL"}
    result = start("check", "--deploy", **without_cache)
    assert result.returncode == 0, result.stderr  # a warning, not an error
    assert "core.W001" in result.stderr and "CACHE_URL" in result.stderr


pytestmark = pytest.mark.django_db


def login(client: Client, username: str, password: str) -> Any:
    return client.post("/accounts/login/", {"username": username, "password": password})


def test_repeated_failed_logins_lock_the_account_even_with_the_right_password() -> None:
    user = UserFactory(role=Role.RECEPTION)
    client = Client()
    for _ in range(4):
        assert login(client, user.username, "wrong").status_code == 200
    assert login(client, user.username, "wrong").status_code == 429  # the fifth locks
    locked = login(client, user.username, PASSWORD)
    assert locked.status_code == 429
    assert "För många misslyckade inloggningar" in locked.content.decode()
    assert seen(client.get("/")) == "login"  # not logged in


def test_five_wrong_passwords_for_one_user_do_not_lock_another_behind_the_same_address() -> None:
    """A clinic's staff share one address (its NAT): one person's typos lock that person
    at that address, not their colleagues."""
    first, second = UserFactory(role=Role.RECEPTION), UserFactory(role=Role.RECEPTION)
    clinic_nat = Client(REMOTE_ADDR="10.20.30.40")
    for _ in range(5):
        login(clinic_nat, first.username, "wrong")
    assert login(clinic_nat, first.username, PASSWORD).status_code == 429
    assert seen(login(clinic_nat, second.username, PASSWORD)) == "redirect /"


def test_nobody_elsewhere_can_keep_the_break_glass_admin_locked() -> None:
    admin = UserFactory(role=Role.REGIONAL_ADMIN, is_staff=True)
    attacker = Client(REMOTE_ADDR="203.0.113.9")
    for _ in range(10):
        login(attacker, admin.username, "guess")
    assert login(attacker, admin.username, PASSWORD).status_code == 429
    regional_office = Client(REMOTE_ADDR="10.20.30.41")
    assert seen(login(regional_office, admin.username, PASSWORD)) == "redirect /"


def test_an_address_that_tries_many_users_is_locked_for_everyone(settings: Any) -> None:
    """A separate, higher limit per address: guessing one password for many users."""
    assert settings.LOGIN_ADDRESS_FAILURE_LIMIT == 50
    victim = UserFactory(role=Role.RECEPTION)
    sprayer = Client(REMOTE_ADDR="203.0.113.10")
    for n in range(49):  # 4 tries each for 12 names and 1 more: under the pair limit
        assert login(sprayer, f"name{n // 4}", "Sommar2026!").status_code == 200
    assert login(sprayer, "name12", "Sommar2026!").status_code == 429  # the 50th locks
    assert login(sprayer, victim.username, PASSWORD).status_code == 429
    assert seen(login(Client(REMOTE_ADDR="10.20.30.42"), victim.username, PASSWORD)) == (
        "redirect /"
    )


def test_passwords_shorter_than_12_characters_are_refused_for_everyone() -> None:
    user = UserFactory(role=Role.REGIONAL_ADMIN, is_staff=True)
    client = Client()
    client.force_login(user)
    for new, ok in (("Kort-lösen1", False), ("Längre-lösen", True)):  # 11 and 12 characters
        response = client.post(
            "/accounts/password_change/",
            {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
        )
        assert (response.status_code == 302) is ok, new
        if not ok:
            assert "minst 12 tecken" in response.content.decode()
    added = client.post(
        "/admin/auth/user/add/",
        {"username": "ny.person", "password1": "Tolv-tecken", "password2": "Tolv-tecken"},
    )
    assert "minst 12 tecken" in added.content.decode()
    assert not User.objects.filter(username="ny.person").exists()


def test_api_answers_are_never_cached(make_api: Any) -> None:
    """They hold patients' data (an SMS status, a booking); an error is no exception."""
    api: APIClient = make_api(Scope.STATUS_READ)[0]
    patient = PatientFactory()
    found = api.get(f"/api/v1/patients/{patient.personal_id}/sms-status/")
    missing = api.get("/api/v1/patients/191212121212/sms-status/")
    assert (found.status_code, missing.status_code) == (200, 404)
    for response in (found, missing):
        assert "no-store" in response["Cache-Control"], response.status_code


def test_the_admin_login_is_locked_too() -> None:
    admin = UserFactory(role=Role.REGIONAL_ADMIN, is_staff=True)
    client = Client()
    for _ in range(5):
        client.post("/admin/login/", {"username": admin.username, "password": "wrong"})
    response = client.post("/admin/login/", {"username": admin.username, "password": PASSWORD})
    assert response.status_code == 429


def test_a_session_ends_at_browser_close_and_after_30_minutes_idle() -> None:
    user = UserFactory(role=Role.RECEPTION)
    client = Client()
    response = login(client, user.username, PASSWORD)
    cookie = response.cookies["sessionid"]
    assert (cookie["expires"], cookie["max-age"]) == ("", "")  # a browser-session cookie
    assert cookie["httponly"] is True
    now = timezone.now()
    with time_machine.travel(now + timedelta(minutes=29)):
        assert seen(client.get("/")) == f"Välkommen, {user.username}"
    with time_machine.travel(now + timedelta(minutes=29 + 31)):
        assert seen(client.get("/")) == "login"


def test_the_idle_clock_restarts_at_most_once_a_minute_and_never_ends_a_session_late() -> None:
    user = UserFactory(role=Role.RECEPTION)
    client = Client()
    now = timezone.now()
    with time_machine.travel(now):
        login(client, user.username, PASSWORD)
    session = Session.objects.get(session_key=client.cookies["sessionid"].value)

    def expires() -> Any:
        return Session.objects.get(pk=session.pk).expire_date

    with time_machine.travel(now + timedelta(seconds=10)):
        assert seen(client.get("/")) == f"Välkommen, {user.username}"
    restarted = expires()
    assert abs(restarted - (now + timedelta(seconds=10, minutes=30))) < timedelta(seconds=1)
    with time_machine.travel(now + timedelta(seconds=60)):  # within the minute: not written
        assert seen(client.get("/")) == f"Välkommen, {user.username}"
    assert expires() == restarted
    with time_machine.travel(now + timedelta(seconds=71)):  # a minute on: written again
        assert seen(client.get("/")) == f"Välkommen, {user.username}"
    assert abs(expires() - (now + timedelta(seconds=71, minutes=30))) < timedelta(seconds=1)
    # 30 minutes after the last restart the session has ended, though the last request
    # came later (at most a minute early, never late).
    with time_machine.travel(now + timedelta(seconds=71 + 20)):
        assert seen(client.get("/")) == f"Välkommen, {user.username}"
    with time_machine.travel(now + timedelta(seconds=71, minutes=30, milliseconds=500)):
        assert seen(client.get("/")) == "login"


def test_a_busy_session_still_ends_8_hours_after_login() -> None:
    user = UserFactory(role=Role.RECEPTION)
    client = Client()
    now = timezone.now()
    with time_machine.travel(now):
        login(client, user.username, PASSWORD)
    for minutes in range(20, 8 * 60, 20):  # a request every 20 minutes: never idle
        with time_machine.travel(now + timedelta(minutes=minutes)):
            assert seen(client.get("/")) == f"Välkommen, {user.username}"
    with time_machine.travel(now + timedelta(hours=8, minutes=1)):
        assert seen(client.get("/")) == "login"


def test_patient_pages_are_never_cached() -> None:
    patient = PatientFactory()
    client = Client()
    client.force_login(UserFactory(role=Role.RECEPTION, clinics=[ClinicFactory()]))
    response = client.get(f"/patients/{patient.page_key}/")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


def test_there_are_no_password_reset_pages() -> None:
    assert Client().get("/accounts/password_reset/").status_code == 404


def test_choosing_a_clinic_goes_back_only_to_our_own_pages() -> None:
    clinic = ClinicFactory()
    client = Client()
    client.force_login(UserFactory(role=Role.RECEPTION, clinics=[clinic]))
    away = client.post("/clinic/", {"clinic": clinic.pk, "next": "https://evil.example/x"})
    assert away["Location"] == "/"
    home = client.post("/clinic/", {"clinic": clinic.pk, "next": "/desk/"})
    assert home["Location"] == "/desk/"


def test_a_regional_admin_cannot_make_themselves_superuser() -> None:
    admin = UserFactory(role=Role.REGIONAL_ADMIN, is_staff=True)
    client = Client()
    client.force_login(admin)
    page = client.get(f"/admin/auth/user/{admin.pk}/change/").content.decode()
    assert 'name="is_superuser"' not in page
    client.post(
        f"/admin/auth/user/{admin.pk}/change/",
        {"username": admin.username, "is_superuser": "on", "is_staff": "on", "is_active": "on"},
    )
    assert User.objects.get(pk=admin.pk).is_superuser is False


def test_an_api_body_over_the_limit_is_413_and_writes_nothing(make_api: Any, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    api: APIClient = make_api(Scope.REGISTRY_WRITE)[0]
    body = {
        "name": "x" * 2000,
        "sms_name": "Hudkliniken",
        "self_checkin": False,
        "arrival_question": True,
    }
    response = api.put("/api/v1/clinics/SE2321000115-E000000077/", body, format="json")
    assert (response.status_code, response["Content-Type"]) == (413, "application/problem+json")
    assert response.json()["title"] == "För stor begäran"
    assert not Clinic.objects.exists()


def test_pages_carry_a_content_security_policy_with_a_nonce_for_their_own_scripts() -> None:
    import re

    clinic = ClinicFactory()
    client = Client()
    client.force_login(UserFactory(role=Role.MANAGER, clinics=[clinic]))
    response = client.get("/reports/")
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    nonce = re.search(r"'nonce-([^']+)'", policy).group(1)  # type: ignore[union-attr]
    page = response.content.decode()
    assert not re.search(r"\son[a-z]+=", page)  # no inline handlers: the policy blocks them
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", page)
    inline = [attrs for attrs in inline if "application/json" not in attrs]
    assert inline and all(f'nonce="{nonce}"' in attrs for attrs in inline)
