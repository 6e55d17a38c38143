"""The second factor of break-glass password logins (issue 29.9; PASSWORD_LOGIN_TOTP):
regional admins and superusers add a one-time code from their authenticator app."""

from __future__ import annotations

import base64
import re
import time
from io import StringIO
from typing import Any

import pytest
from django.core import checks
from django.core.management import call_command
from django.test import Client

from core.models import TotpDevice
from core.staff import Role
from core.totp import STEP, code_at, totp_enrol
from tests.factories import UserFactory

PASSWORD = "pw-for-tests-1"


def test_codes_are_rfc_6238_s() -> None:
    """The RFC's own test vectors (SHA-1 key "12345678901234567890"), last six digits."""
    secret = base64.b32encode(b"12345678901234567890").decode()
    assert code_at(secret, 59 // 30) == "287082"
    assert code_at(secret, 1111111109 // 30) == "081804"
    assert code_at(secret, 2000000000 // 30) == "279037"


def login(client: Client, user: Any, otp: str | None = None) -> Any:
    data = {"username": user.username, "password": PASSWORD}
    if otp is not None:
        data["otp"] = otp
    return client.post("/accounts/login/", data)


@pytest.fixture
def totp_on(settings: Any) -> None:
    settings.PASSWORD_LOGIN_TOTP = True


def now_code(secret: str) -> str:
    return code_at(secret, int(time.time() // STEP))


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["regional_admin", "superuser"])
def test_an_admin_s_password_login_needs_the_current_code_once(totp_on: None, who: str) -> None:
    if who == "superuser":
        user = UserFactory(is_superuser=True, is_staff=True)
    else:
        user = UserFactory(role=Role.REGIONAL_ADMIN, is_staff=True)
    secret = totp_enrol(user)
    code = now_code(secret)
    wrong = str((int(code) + 1) % 10**6).zfill(6)
    for attempt in (None, "", wrong, "12345a"):
        client = Client()
        answer = login(client, user, attempt)
        assert answer.status_code == 200, attempt  # the form again, with its error
        assert "engångskod" in answer.content.decode()
        assert "_auth_user_id" not in client.session
    client = Client()
    assert login(client, user, code).status_code == 302
    assert int(client.session["_auth_user_id"]) == user.pk
    again = Client()  # the same code a second time: spent
    assert login(again, user, code).status_code == 200
    assert "_auth_user_id" not in again.session


@pytest.mark.django_db
def test_an_admin_without_an_authenticator_cannot_log_in_by_password(totp_on: None) -> None:
    user = UserFactory(role=Role.REGIONAL_ADMIN, is_staff=True)
    client = Client()
    assert login(client, user, "123456").status_code == 200
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_other_staff_need_no_code_and_off_means_off(totp_on: None, settings: Any) -> None:
    reception = UserFactory(role=Role.RECEPTION)
    assert login(Client(), reception).status_code == 302
    settings.PASSWORD_LOGIN_TOTP = False
    admin = UserFactory(role=Role.REGIONAL_ADMIN, is_staff=True)
    assert login(Client(), admin).status_code == 302


@pytest.mark.django_db
def test_the_demo_admin_enrols_with_the_command_and_logs_in(totp_on: None) -> None:
    """As README's demo section says: `manage.py totp_enrol admin`, the key into the app."""
    user = UserFactory(username="admin", role=Role.REGIONAL_ADMIN, is_staff=True)
    out = StringIO()
    call_command("totp_enrol", "admin", stdout=out)
    printed = out.getvalue()
    secret = re.search(r"Nyckel: ([A-Z2-7]+)", printed).group(1)  # type: ignore[union-attr]
    assert f"otpauth://totp/Sms-p%C3%A5minnelser%3Aadmin?secret={secret}" in printed
    assert TotpDevice.objects.get(user=user).secret == secret
    client = Client()
    assert login(client, user, now_code(secret)).status_code == 302


@pytest.mark.django_db
def test_the_deploy_check_reports_the_second_factor_off(settings: Any) -> None:
    def deploy_errors() -> list[str]:
        found = checks.run_checks(include_deployment_checks=True)
        return [m.id or "" for m in found if m.level >= checks.ERROR]

    settings.PASSWORD_LOGIN_TOTP = False
    assert "core.E002" in deploy_errors()
    settings.TEST_INSTALLATION = True
    assert "core.E002" not in deploy_errors()
    settings.TEST_INSTALLATION, settings.PASSWORD_LOGIN_TOTP = False, True
    assert "core.E002" not in deploy_errors()
