"""Starts the test FHIR server (server.js: Medplum's FHIR router on its in-memory repository)
and speaks to its /_control/ endpoints; builds Swedish Patients and Appointments shaped as
docs/contract.md section 2 says a booking system sends them."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).parent
PERSONNUMMER = "http://electronichealth.se/identifier/personnummer"
HSA_ID = "urn:oid:1.2.752.29.4.19"
MODE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationMode"
CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
CLIENT_ID = "sms-paminnelser"
CLIENT_SECRET = "test-secret-of-the-connector"


@dataclass
class FhirTestServer:
    origin: str
    http: httpx.Client

    @property
    def base_url(self) -> str:
        return f"{self.origin}/fhir/R4"

    @property
    def token_url(self) -> str:
        return f"{self.origin}/auth/token"

    def control(self, what: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.http.post(f"{self.origin}/_control/{what}", json=body or {})
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    def reset(self) -> None:
        self.control("reset")
        self.control("config", {"clients": {CLIENT_ID: {"secret": CLIENT_SECRET}}})

    def put(self, *resources: dict[str, Any]) -> None:
        self.control("upsert", {"resources": list(resources)})

    def delete(self, *references: str) -> None:
        self.control("delete", {"references": list(references)})

    def faults(self, *faults: dict[str, Any]) -> None:
        self.control("faults", {"faults": list(faults)})

    def stats(self) -> dict[str, Any]:
        response = self.http.get(f"{self.origin}/_control/stats")
        return response.json()  # type: ignore[no-any-return]

    def requests(self) -> list[str]:
        return list(self.stats()["requests"])


@contextmanager
def fhir_test_server() -> Iterator[FhirTestServer]:
    node = shutil.which("node")
    if node is None or not (HERE / "node_modules" / "@medplum" / "fhir-router").exists():
        raise RuntimeError(
            "The test FHIR server needs Node and its packages: "
            "`npm ci --prefix tests/fhirserver` (scripts/test.sh does it)."
        )
    process = subprocess.Popen(
        [node, "--experimental-websocket", "--no-warnings", str(HERE / "server.js")],
        cwd=HERE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise RuntimeError("The test FHIR server did not start.")
        port = json.loads(line)["port"]
        with httpx.Client(timeout=30) as http:
            server = FhirTestServer(origin=f"http://127.0.0.1:{port}", http=http)
            server.reset()
            yield server
    finally:
        process.terminate()
        process.wait(timeout=10)


# --- Swedish resources, as docs/contract.md shapes them ------------------------------------
def patient(
    resource_id: str,
    pid: str,
    *,
    given: str = "Tolvan",
    family: str = "Tolvansson",
    mobile: str | None = "+46701234567",
    protected: bool = False,
    deceased: str | None = None,
    guardians: tuple[str, ...] = (),
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": resource_id,
        "identifier": [{"system": PERSONNUMMER, "value": pid}],
        "name": [{"use": "official", "family": family, "given": [given]}],
    }
    if mobile:
        resource["telecom"] = [{"system": "phone", "use": "mobile", "value": mobile}]
    if protected:
        resource["meta"] = {"security": [{"system": CONFIDENTIALITY, "code": "R"}]}
    if deceased:
        resource["deceasedDateTime"] = deceased
    if guardians:
        resource["link"] = [
            {
                "type": "seealso",
                "other": {
                    "type": "RelatedPerson",
                    "identifier": {"system": PERSONNUMMER, "value": g},
                },
            }
            for g in guardians
        ]
    return resource


def appointment(
    resource_id: str,
    *,
    pid: str | None,
    hsa_id: str,
    start: datetime,
    status: str = "booked",
    mode: str = "FACE",
    patient_ref: str | None = None,
) -> dict[str, Any]:
    actor: dict[str, Any] = {"type": "Patient"}
    if pid:
        actor["identifier"] = {"system": PERSONNUMMER, "value": pid}
    if patient_ref:
        actor["reference"] = f"Patient/{patient_ref}"
    return {
        "resourceType": "Appointment",
        "id": resource_id,
        "status": status,
        "appointmentType": {"coding": [{"system": MODE, "code": mode}]},
        "start": start.isoformat(),
        "end": (start + timedelta(minutes=30)).isoformat(),
        "participant": [
            {"actor": actor, "status": "accepted"},
            {
                "actor": {
                    "type": "HealthcareService",
                    "identifier": {"system": HSA_ID, "value": hsa_id},
                },
                "status": "accepted",
            },
        ],
    }
