"""`check --deploy` proves the Swish settings (operations 8): with CHECKIN_PAYMENT=swish a
missing file, a key that is not the certificate's, an HTTP address or a wrong Swish number
is an error before the first patient pays."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import checks

from tests.fakeswish import Certificates

# The outbox gateway with DEBUG off is a deploy error of its own (reminders.E006, another
# rule): these tests are about Swish's.
OUTBOX = "reminders.E006"


def deploy_errors() -> list[tuple[str, str]]:
    return [
        (e.id or "", e.msg)
        for e in checks.run_checks(include_deployment_checks=True)
        if e.id and e.id.startswith("reminders.") and e.id != OUTBOX
    ]


@pytest.fixture
def swish(settings: Any, swish_certs: Certificates) -> Certificates:
    settings.CHECKIN_PAYMENT = "swish"
    settings.SWISH_API_URL = "https://cpc.getswish.net/swish-cpcapi"
    settings.SWISH_PAYEE_ALIAS = "1231181189"
    settings.SWISH_CERT = str(swish_certs.client_cert)
    settings.SWISH_KEY = str(swish_certs.client_key)
    settings.SWISH_CA = str(swish_certs.server_ca)
    settings.PUBLIC_BASE_URL = "https://sms.regionhalland.se"
    return swish_certs


def test_good_swish_settings_pass(swish: Certificates) -> None:
    assert deploy_errors() == []


def test_an_unknown_payment_method_stops_every_start(settings: Any) -> None:
    settings.CHECKIN_PAYMENT = "card"
    assert [(e.id, e.msg) for e in checks.run_checks() if e.id == "reminders.E010"] == [
        ("reminders.E010", "CHECKIN_PAYMENT='card': use desk or swish.")
    ]


@pytest.mark.parametrize(
    ("setting", "value", "check_id"),
    [
        ("SWISH_API_URL", "http://cpc.getswish.net/swish-cpcapi", "reminders.E011"),
        ("SWISH_PAYEE_ALIAS", "0701234567", "reminders.E012"),
        ("PUBLIC_BASE_URL", "http://sms.regionhalland.se", "reminders.E013"),
        ("SWISH_CERT", "/nowhere/client.pem", "reminders.E014"),
        ("SWISH_KEY", "", "reminders.E014"),
        ("SWISH_CA", "/nowhere/ca.pem", "reminders.E014"),
    ],
)
def test_a_wrong_swish_setting_is_a_deploy_error(
    swish: Certificates, settings: Any, setting: str, value: str, check_id: str
) -> None:
    setattr(settings, setting, value)
    assert [i for i, _ in deploy_errors()] == [check_id]


def test_a_key_that_is_not_the_certificate_s_is_a_deploy_error(
    swish: Certificates, settings: Any
) -> None:
    settings.SWISH_KEY = str(swish.stranger_key)
    [(check_id, message)] = deploy_errors()
    assert check_id == "reminders.E015" and "cannot make a TLS connection" in message


def test_swish_settings_are_not_checked_when_patients_pay_at_the_desk(settings: Any) -> None:
    settings.CHECKIN_PAYMENT = "desk"
    settings.SWISH_CERT = "/nowhere"
    assert deploy_errors() == []


def test_a_certificate_about_to_expire_is_a_deploy_warning(
    swish: Certificates, settings: Any, tmp_path: Any
) -> None:
    soon = Certificates.make(tmp_path, client_days=10)
    settings.SWISH_CERT, settings.SWISH_KEY = str(soon.client_cert), str(soon.client_key)
    [(check_id, message)] = deploy_errors()
    assert check_id == "reminders.W016" and "expires in 9 days" in message
