"""The Swish stand-in's fixtures (tests/fakeswish.py): certificates made once per test
session, a stand-in started per test, and the settings that point the app at it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.fakeswish import Certificates, FakeSwish

PAYEE = "1231181189"


@pytest.fixture(scope="session")
def swish_certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return Certificates.make(tmp_path_factory.mktemp("swish-certs"))


@pytest.fixture
def fake_swish(swish_certs: Certificates, settings: Any) -> Iterator[FakeSwish]:
    fake = FakeSwish(swish_certs)
    settings.CHECKIN_PAYMENT = "swish"
    settings.SWISH_API_URL = fake.start()
    settings.SWISH_CERT = str(swish_certs.client_cert)
    settings.SWISH_KEY = str(swish_certs.client_key)
    settings.SWISH_CA = str(swish_certs.server_ca)
    settings.SWISH_PAYEE_ALIAS = PAYEE
    settings.SWISH_TIMEOUT = 1.0
    settings.PUBLIC_BASE_URL = "https://sms.example.se"
    settings.CHECKIN_BASE_URL = "https://sms.example.se/c/"
    yield fake
    fake.stop()
