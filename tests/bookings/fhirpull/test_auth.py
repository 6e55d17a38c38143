"""SMART Backend Services: client credentials with a secret or a private_key_jwt assertion,
the token kept until it expires and fetched again once on a 401."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from bookings.fhir.pull.models import FhirPullState
from bookings.fhir.pull.poll import PollReport
from bookings.models import Appointment
from tests.bookings.fhirpull.test_sync import load_family
from tests.fhirserver.harness import FhirTestServer

pytestmark = pytest.mark.django_db

Poll = Callable[..., PollReport]


def test_the_token_is_kept_between_polls(
    fhir_server: FhirTestServer, clinic: Any, poll: Poll
) -> None:
    load_family(fhir_server)
    poll()
    poll()
    assert fhir_server.stats()["tokensIssued"] == 1


def test_an_expired_token_is_not_sent(fhir_server: FhirTestServer, clinic: Any, poll: Poll) -> None:
    fhir_server.control("config", {"tokenTtl": 1})
    load_family(fhir_server)
    poll()
    time.sleep(0.6)  # kept for half its life when that is under 30 s
    poll()
    stats = fhir_server.stats()
    assert stats["tokensIssued"] == 2
    assert FhirPullState.objects.get().errors_total == 0


def test_a_401_fetches_a_new_token_once(
    fhir_server: FhirTestServer, clinic: Any, poll: Poll
) -> None:
    load_family(fhir_server)
    poll()
    fhir_server.control("revoke")  # the server forgot our token

    report = poll()

    assert report.error == ""
    assert fhir_server.stats()["tokensIssued"] == 2


def test_a_401_after_the_new_token_fails_the_poll(
    fhir_server: FhirTestServer, clinic: Any, poll: Poll
) -> None:
    load_family(fhir_server)
    fhir_server.faults({"path": "/Appointment", "status": 401, "times": -1})

    report = poll()

    assert report.error == "the server answered HTTP 401"
    assert fhir_server.stats()["tokensIssued"] == 2
    assert not Appointment.objects.exists()


def test_a_wrong_secret_fails_the_poll_and_changes_nothing(
    fhir_server: FhirTestServer, clinic: Any, poll: Poll
) -> None:
    load_family(fhir_server)

    report = poll(config={"client_secret": "not-the-secret"})

    assert report.error == "token endpoint answered 401"
    assert not Appointment.objects.exists()
    assert FhirPullState.objects.get().errors_total == 1


def _rsa() -> tuple[str, dict[str, Any]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    return pem, json.loads(RSAAlgorithm.to_jwk(key.public_key()))


def _ec() -> tuple[str, dict[str, Any]]:
    key = ec.generate_private_key(ec.SECP384R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,  # "BEGIN PRIVATE KEY", as for RSA
        serialization.NoEncryption(),
    ).decode()
    return pem, json.loads(ECAlgorithm.to_jwk(key.public_key()))


@pytest.mark.parametrize("make_key", [_rsa, _ec], ids=["RS384", "ES384"])
def test_private_key_jwt(
    fhir_server: FhirTestServer, clinic: Any, poll: Poll, make_key: Any
) -> None:
    pem, jwk = make_key()
    fhir_server.control("config", {"clients": {"jwt-client": {"jwk": jwk}}})
    load_family(fhir_server)

    report = poll(config={"client_id": "jwt-client", "client_secret": "", "private_key": pem})

    assert (report.error, Appointment.objects.count()) == ("", 3)


def test_private_key_jwt_signed_with_another_key_is_refused(
    fhir_server: FhirTestServer, clinic: Any, poll: Poll
) -> None:
    _, jwk = _rsa()
    other_pem, _ = _rsa()
    fhir_server.control("config", {"clients": {"jwt-client": {"jwk": jwk}}})
    load_family(fhir_server)

    report = poll(config={"client_id": "jwt-client", "client_secret": "", "private_key": other_pem})

    assert report.error == "token endpoint answered 401"
    assert not Appointment.objects.exists()


def test_a_next_link_to_another_address_gets_no_token(
    fhir_server: FhirTestServer, clinic: Any, poll: Poll
) -> None:
    load_family(fhir_server)
    page = {
        "resourceType": "Bundle",
        "type": "searchset",
        "link": [{"relation": "next", "url": "http://127.0.0.2:9/fhir/R4/Appointment?page=2"}],
    }
    fhir_server.faults({"path": "/Appointment", "body": page, "times": 1})

    report = poll()

    assert report.error == "the server linked to another address"
    assert not Appointment.objects.exists()
