"""A FHIR validator that is not the library the server is built with (contract 2): the
official R4 JSON schema and R4's FHIRPath invariants, run by Node (validate.js beside this
file; its packages are pinned in package-lock.json and installed by the test command).

`answers_validated` is a module fixture for the FHIR test modules: it keeps every resource
the server answers under `/fhir/` (an OperationOutcome, a Bundle and each resource in it
too) and validates them all when the module ends; one invalid answer fails the module."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

HERE = Path(__file__).resolve().parent


def validate(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each resource's errors (an empty list when valid), by validate.js."""
    node = shutil.which("node")
    assert node, "Node is needed to validate FHIR answers (the test command installs it)"
    assert (HERE / "node_modules").is_dir(), "run `npm ci` in tests/fhirvalidator (make test does)"
    done = subprocess.run(
        [node, str(HERE / "validate.js")],
        input=json.dumps(resources).encode(),
        capture_output=True,
        check=True,
        timeout=300,
    )
    results: list[dict[str, Any]] = json.loads(done.stdout)
    return results


def _resources(body: Any) -> Iterator[dict[str, Any]]:
    if isinstance(body, dict) and "resourceType" in body:
        yield body
        for entry in body.get("entry", []) if body["resourceType"] == "Bundle" else []:
            for key in ("resource",):
                if isinstance(entry.get(key), dict):
                    yield from _resources(entry[key])
            outcome = entry.get("response", {}).get("outcome")
            if isinstance(outcome, dict):
                yield outcome


@pytest.fixture(scope="module")
def answers_validated() -> Iterator[list[dict[str, Any]]]:
    kept: list[dict[str, Any]] = []
    original = APIClient.request

    def request(self: APIClient, **kwargs: Any) -> Any:
        response = original(self, **kwargs)
        path = str(kwargs.get("PATH_INFO", ""))
        if path.startswith("/fhir") and "json" in response.get("Content-Type", ""):
            try:
                body = json.loads(response.content)
            except ValueError:
                body = None
            kept.extend(_resources(body))
        return response

    APIClient.request = request  # type: ignore[method-assign]
    try:
        yield kept
    finally:
        APIClient.request = original  # type: ignore[method-assign]
    failures = [
        (kept[r["index"]]["resourceType"], kept[r["index"]].get("id"), r["errors"])
        for r in validate(kept)
        if r["errors"]
    ]
    assert kept, "no FHIR answer was kept: the validation would prove nothing"
    assert not failures, (
        f"{len(failures)} of {len(kept)} FHIR answers are not valid R4: {failures[:5]}"
    )
