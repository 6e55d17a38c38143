"""`POST /fhir/` with a transaction or batch Bundle of PUTs (contract 2): Appointment,
Patient and RelatedPerson, by id or (Appointment) by business identifier. A transaction is
all or nothing, in one database transaction; a batch applies each entry on its own and
answers each with its status or OperationOutcome."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from django.db import transaction
from django.utils import timezone

from core.errors import DomainError
from core.models import ApiClient

from . import operations
from .outcome import FhirError, as_fhir_error, outcome

MAX_ENTRIES = 1000
REASONS = {200: "OK", 201: "Created"}


def _refused(index: int, message: str, code: str = "invalid_entry") -> FhirError:
    return FhirError(400, "invalid", message, code=code, expression=f"Bundle.entry[{index}]")


def _operation(
    client: ApiClient, entry: Any, index: int
) -> tuple[str, Callable[[], operations.Answer]]:
    """What one entry asks: its resource type and the update to run."""
    if not isinstance(entry, dict):
        raise _refused(index, "Posten ska vara ett JSON-objekt.")
    request, resource = entry.get("request"), entry.get("resource")
    if not isinstance(request, dict) or request.get("method") != "PUT":
        raise _refused(
            index, "Bara PUT stöds i en Bundle (request.method).", code="unsupported_method"
        )
    url = str(request.get("url") or "")
    path, _, query = url.partition("?")
    path = path.split("/fhir/", 1)[-1].strip("/") if "://" in path else path.strip("/")
    parts = path.split("/")
    name = parts[0]
    if name not in operations.SCOPES:
        raise _refused(index, f"{name or url!r} stöds inte: Appointment, Patient, RelatedPerson.")
    operations.scope_required(client, name)
    if_match = _version(request.get("ifMatch"), index)
    if name == "Appointment" and len(parts) == 1 and query:
        identifier = parse_qs(query).get("identifier", [""])[0]
        return name, lambda: operations.appointment_conditional_update(
            raw=resource, identifier=identifier, if_match=if_match
        )
    if len(parts) != 2 or not parts[1]:
        raise _refused(index, f"request.url {url!r}: ange Typ/id.")
    rid = parts[1]
    if name == "Appointment":
        return name, lambda: operations.appointment_update(
            raw=resource, external_id=rid, if_match=if_match
        )
    if name == "Patient":
        return name, lambda: operations.patient_update(
            raw=resource, url_id=rid, if_match=if_match, actor_name=client.name
        )
    return name, lambda: operations.related_person_update(
        raw=resource, fhir_id=rid, if_match=if_match
    )


def _version(raw: Any, index: int) -> int | None:
    if raw in (None, ""):
        return None
    text = str(raw).removeprefix("W/").strip('"')
    if not (text.isascii() and text.isdigit()) or len(text) > 9:
        raise _refused(index, 'request.ifMatch ska vara en version som W/"3".')
    return int(text)


def _entry(answer: operations.Answer, base_url: str) -> dict[str, Any]:
    return {
        "fullUrl": f"{base_url}/{answer.type}/{answer.resource['id']}",
        "resource": answer.resource,
        "response": {
            "status": f"{answer.status} {REASONS.get(answer.status, '')}".strip(),
            "location": answer.location,
            "etag": f'W/"{answer.version}"',
            "lastModified": answer.last_modified.isoformat(),
        },
    }


def _failed(issue: FhirError) -> dict[str, Any]:
    return {"response": {"status": str(issue.status), "outcome": outcome([issue])}}


def _issue(exc: FhirError | DomainError, name: str, index: int) -> FhirError:
    """The refusal of one entry, its element named within the Bundle."""
    issue = as_fhir_error(exc, name, operations.FIELD_PATHS.get(name, {}))
    where = issue.expression or name
    if not where.startswith("Bundle."):
        inner = where.partition(".")[2]
        issue.expression = f"Bundle.entry[{index}].resource" + (f".{inner}" if inner else "")
    return issue


def bundle_process(*, client: ApiClient, raw: Any, base_url: str) -> tuple[int, dict[str, Any]]:
    """The response Bundle (200) of a transaction or batch, or a refused transaction's
    OperationOutcome with the failing entry's status (nothing written)."""
    if not isinstance(raw, dict) or raw.get("resourceType") != "Bundle":
        raise FhirError(400, "invalid", "Skicka en Bundle.", code="wrong_resource_type")
    kind = raw.get("type")
    if kind not in ("transaction", "batch"):
        raise FhirError(
            400,
            "invalid",
            "Bundle.type ska vara transaction eller batch.",
            code="unsupported_bundle",
            expression="Bundle.type",
        )
    entries = raw.get("entry") or []
    if not isinstance(entries, list) or len(entries) > MAX_ENTRIES:
        raise FhirError(
            400,
            "too-long" if isinstance(entries, list) else "invalid",
            f"Bundle.entry: högst {MAX_ENTRIES} poster.",
            code="too_many_entries",
            expression="Bundle.entry",
        )
    answers: list[dict[str, Any]] = []
    if kind == "transaction":
        with transaction.atomic():
            for index, entry in enumerate(entries):
                name = "Bundle"
                try:
                    name, run = _operation(client, entry, index)
                    answers.append(_entry(run(), base_url))
                except (FhirError, DomainError) as error:
                    transaction.set_rollback(True)
                    issue = _issue(error, name, index)
                    return issue.status, outcome([issue])
    else:
        for index, entry in enumerate(entries):
            name = "Bundle"
            try:
                with transaction.atomic():
                    name, run = _operation(client, entry, index)
                    answers.append(_entry(run(), base_url))
            except (FhirError, DomainError) as error:
                answers.append(_failed(_issue(error, name, index)))
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "meta": {"lastUpdated": timezone.now().isoformat()},
        "type": f"{kind}-response",
    }
    if answers:
        bundle["entry"] = answers
    return 200, bundle
