"""The FHIR interactions as operations of their own, without HTTP: the endpoints under
`/fhir/` and each entry of a transaction or batch Bundle call the same ones (contract 2).
An update answers an `Answer` (the resource as stored, its version, 200 or 201); a refusal
is a FhirError or a service's DomainError, and writes nothing."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone
from fhir.resources.R4B.relatedperson import RelatedPerson

from core.access_log.services import access_log_record_many
from core.errors import DomainError, PreconditionFailed
from core.models import ApiClient, Scope

from .. import identity, selectors, services
from ..models import Appointment, Guardianship, Patient
from . import appointments, ingest, mapping, patients, related_persons
from .outcome import FhirError

# A service's input (a DomainError's `field`) → the element of the resource it came from.
FIELD_PATHS = {
    "Appointment": {
        "patient": "Appointment.participant",
        "clinic": "Appointment.participant",
        "starts_at": "Appointment.start",
        "booked_at": "Appointment.created",
        "status": "Appointment.status",
        "contact_type": "Appointment.appointmentType",
        "identifier": "Appointment.identifier",
        "version": "Appointment.meta.versionId",
    },
    "Patient": {
        "personal_id": "Patient.id",
        "mobile_number": "Patient.telecom",
        "guardians": "Patient.link",
        "deceased_at": "Patient.deceased",
        "given_name": "Patient.name",
        "family_name": "Patient.name",
        "version": "Patient.meta.versionId",
    },
    "RelatedPerson": {
        "child": "RelatedPerson.patient",
        "guardian": "RelatedPerson.identifier",
    },
}

# Which scope writes (and reads) which resource type.
SCOPES = {
    "Appointment": Scope.BOOKINGS_WRITE,
    "Patient": Scope.REGISTRY_WRITE,
    "RelatedPerson": Scope.REGISTRY_WRITE,
}


@dataclass(frozen=True)
class Answer:
    """A resource as we answer it, with what the headers say of it."""

    resource: dict[str, Any]
    status: int  # 200, or 201 when the interaction created it
    version: str
    last_modified: datetime

    @property
    def type(self) -> str:
        return str(self.resource["resourceType"])

    @property
    def location(self) -> str:
        """Relative to the base: `Appointment/BOK-1/_history/3` (FHIR's Location)."""
        return f"{self.type}/{self.resource['id']}/_history/{self.version}"


def scope_required(client: ApiClient, resource_type: str) -> None:
    scope = SCOPES.get(resource_type)
    if scope is None or not client.has_scope(scope):
        raise FhirError(
            403,
            "forbidden",
            f"{resource_type} kräver behörigheten {scope or '(ingen: stöds inte)'}.",
            code="forbidden",
        )


def _dumped(resource: Any, version: int | str) -> dict[str, Any]:
    body: dict[str, Any] = resource.model_dump(mode="json", exclude_none=True)
    body.setdefault("meta", {})["versionId"] = str(version)
    return body


def appointment_answer(appointment: Appointment, *, created: bool = False) -> Answer:
    resource = appointments.appointment_json(appointment)
    resource["meta"]["versionId"] = str(appointment.version)
    return Answer(
        resource=resource,
        status=201 if created else 200,
        version=str(appointment.version),
        last_modified=appointment.updated_at,
    )


def patient_answer(patient: Patient, *, created: bool = False) -> Answer:
    guardians = patient.guardians.order_by("personal_id")
    return Answer(
        resource=_dumped(patients.patient_resource(patient, guardians), patient.version),
        status=201 if created else 200,
        version=str(patient.version),
        last_modified=patient.updated_at,
    )


def related_person_answer(link: Guardianship, *, created: bool = False) -> Answer:
    resource = related_persons.related_person_resource(link)
    return Answer(
        resource=resource.model_dump(mode="json", exclude_none=True),
        status=201 if created else 200,
        version=str(link.pk),
        last_modified=link.created_at,
    )


def _sender_time(raw: Any, name: str) -> datetime | None:
    """The sender's own meta.lastUpdated: our clock for "which message is newer"."""
    meta = raw.get("meta") if isinstance(raw, dict) else None
    stamp = meta.get("lastUpdated") if isinstance(meta, dict) else None
    return mapping.aware_datetime(stamp, f"{name}.meta.lastUpdated") if stamp else None


# --- Updates -----------------------------------------------------------------------------------
def appointment_update(
    *, raw: Any, external_id: str, if_match: int | None = None, identifier: str | None = None
) -> Answer:
    """PUT Appointment/{id}: the booking with the booking system's id `external_id`."""
    _fhir_id(external_id)
    appointment, created = ingest.appointment_ingest(
        raw=raw,
        external_id=external_id,
        if_match=if_match,
        identifier=identifier,
        source_updated_at=_sender_time(raw, "Appointment"),
    )
    return appointment_answer(appointment, created=created)


def appointment_conditional_update(
    *, raw: Any, identifier: str, if_match: int | None = None
) -> Answer:
    """PUT Appointment?identifier=system|value (FHIR's conditional update): the booking
    with this business identifier is updated; with none, a new one is created under the
    body's id (or one we make)."""
    system, bar, value = identifier.partition("|")
    if not bar or not system or not value:
        raise FhirError(
            400,
            "invalid",
            "identifier ska vara system|värde, t.ex. urn:oid:1.2.752.…|12345.",
            code="invalid_identifier",
        )
    found = list(Appointment.objects.filter(identifier=identifier).values_list("external_id"))
    body_id = raw.get("id") if isinstance(raw, dict) else None
    if found:
        external_id = found[0][0]
        if body_id is not None and body_id != external_id:
            raise FhirError(
                400,
                "invalid",
                f"Appointment.id ska vara {external_id}, den bokning som identifieraren anger.",
                code="id_mismatch",
                expression="Appointment.id",
            )
    else:
        external_id = body_id if isinstance(body_id, str) else uuid.uuid4().hex
    if isinstance(raw, dict) and "id" not in raw:
        raw = {**raw, "id": external_id}
    return appointment_update(
        raw=raw, external_id=external_id, if_match=if_match, identifier=identifier
    )


def patient_update(
    *, raw: Any, url_id: str, if_match: int | None = None, actor_name: str = ""
) -> Answer:
    """PUT Patient/{personnummer}: the population register's patient."""
    pid = _personal_id(url_id)
    patient, created = ingest.patient_ingest(
        raw=raw,
        resource_id=url_id,
        personal_id=pid,
        actor_name=actor_name,
        if_match=if_match,
        source_updated_at=_sender_time(raw, "Patient"),
    )
    return patient_answer(patient, created=created)


def related_person_update(*, raw: Any, fhir_id: str, if_match: int | None = None) -> Answer:
    """PUT RelatedPerson/{id}: a guardian of a child, as the register says it. A
    RelatedPerson that is no longer active ends the guardianship and answers the
    resource as sent."""
    _fhir_id(fhir_id)
    resource = mapping.parse(RelatedPerson, raw)
    mapping.id_matches(resource, fhir_id)
    wanted = related_persons.guardian_input(resource)
    if if_match is not None:
        current = Guardianship.objects.filter(fhir_id=fhir_id).values_list("pk", flat=True)
        if list(current) != [if_match]:
            raise PreconditionFailed("Vårdnadshavaren har en annan version: läs den igen.")
    link, created = services.guardianship_put(
        fhir_id=fhir_id,
        child_personal_id=wanted.child,
        guardian_personal_id=wanted.guardian,
        active=wanted.active,
    )
    if link is None:
        ended = resource.model_dump(mode="json", exclude_none=True)
        return Answer(resource=ended, status=200, version="0", last_modified=timezone.now())
    return related_person_answer(link, created=created)


def _personal_id(url_id: str) -> identity.PersonalId:
    """The personnummer in the address: one that is not is a bad address (400)."""
    try:
        return identity.parse_personal_id(url_id)
    except DomainError as error:
        raise FhirError(400, "invalid", error.message, code=error.code) from None


def _fhir_id(value: str) -> str:
    if not mapping.is_fhir_id(value):
        raise FhirError(
            400, "invalid", "Id: 1–64 tecken A–Z, a–z, 0–9, - och . (FHIR:s id).", code="invalid_id"
        )
    return value


# --- Reads (each in the access log) ------------------------------------------------------------
def _logged(client: ApiClient, patient_ids: list[int], action: str) -> None:
    if patient_ids:
        access_log_record_many(actor=client, clinic=None, action=action, patient_ids=patient_ids)


def appointment_read(*, client: ApiClient, external_id: str) -> Answer:
    appointment = selectors.appointment_get(_fhir_id(external_id))
    _logged(client, [appointment.patient_id], "api_appointment")
    return appointment_answer(appointment)


def patient_read(*, client: ApiClient, url_id: str) -> Answer:
    patient = selectors.patient_get(_personal_id(url_id).value)
    _logged(client, [patient.pk], "api_patient")
    return patient_answer(patient)


def related_person_read(*, client: ApiClient, fhir_id: str) -> Answer:
    link = Guardianship.objects.select_related("child", "guardian").filter(fhir_id=fhir_id).first()
    if link is None:
        raise FhirError(404, "not-found", f"RelatedPerson/{fhir_id} finns inte.", code="not_found")
    _logged(client, [link.child_id, link.guardian_id], "api_patient")
    return related_person_answer(link)


def appointments_logged(client: ApiClient, found: list[Appointment]) -> None:
    """A search's hits in the access log, one entry per patient (contract 2)."""
    _logged(client, sorted({a.patient_id for a in found}), "api_appointment")


def appointment_resource_of(appointment: Appointment) -> dict[str, Any]:
    return appointment_answer(appointment).resource
