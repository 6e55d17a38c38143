"""The connector's tests run against a real FHIR server (tests/fhirserver), started once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from bookings.fhir.pull.client import PullClient, PullConfig, tokens_forget
from bookings.fhir.pull.poll import PollReport, fhir_pull_poll
from tests.factories import ClinicFactory
from tests.fhirserver.harness import CLIENT_ID, CLIENT_SECRET, FhirTestServer, fhir_test_server

HSA = "SE2321000115-E000000011"


@pytest.fixture(scope="session")
def _fhir_server_process() -> Iterator[FhirTestServer]:
    with fhir_test_server() as server:
        yield server


@pytest.fixture
def fhir_server(_fhir_server_process: FhirTestServer, settings: Any) -> FhirTestServer:
    server = _fhir_server_process
    server.reset()
    tokens_forget()
    settings.FHIR_PULL_BASE_URL = server.base_url
    settings.FHIR_PULL_TOKEN_URL = server.token_url
    settings.FHIR_PULL_CLIENT_ID = CLIENT_ID
    settings.FHIR_PULL_CLIENT_SECRET = CLIENT_SECRET
    settings.FHIR_PULL_PAGE_SIZE = 2
    return server


@pytest.fixture
def clinic(db: None) -> Any:
    return ClinicFactory(hsa_id=HSA, name="Vårdcentralen Fyllinge", sms_name="VC Fyllinge")


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def poll(fhir_server: FhirTestServer, waits: list[float]) -> Callable[..., PollReport]:
    """One poll now, through a client that records its waits instead of sleeping."""

    def run(**kwargs: Any) -> PollReport:
        given = {
            "base_url": fhir_server.base_url,
            "token_url": fhir_server.token_url,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            **kwargs.pop("config", {}),
        }
        config = PullConfig(**given)
        client = PullClient(config, http=httpx.Client(), sleep=waits.append)
        return fhir_pull_poll(force=True, client=client, **kwargs)

    return run
