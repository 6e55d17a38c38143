"""A FHIR resource in, the registry's services called: the one way an Appointment, a Patient
or a guardian enters, whether it was pushed to `/fhir/` or fetched from the booking
system's FHIR server (contract 2). Same rules, same services, same idempotency."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from fhir.resources.R4B.appointment import Appointment as FhirAppointment
from fhir.resources.R4B.patient import Patient as FhirPatient

from .. import identity, services
from ..models import Appointment, Patient
from . import appointments, mapping, patients
from .outcome import unprocessable


def appointment_wanted(
    *, raw: Any, external_id: str, parsed: FhirAppointment | None = None
) -> dict[str, Any]:
    """What the booking system's Appointment `raw` (parsed JSON) asks of the contact with
    `external_id`: `services.appointment_put`'s keyword arguments, or a FhirError that
    names the element. `parsed`: the library's reading of `raw`, if already made."""
    resource = mapping.parse(FhirAppointment, raw, parsed=parsed)
    mapping.id_matches(resource, external_id)
    wanted = appointments.appointment_input(resource, raw)
    starts_at = wanted.starts_at
    if starts_at is None:  # proposed with no time: the stored one, if the contact exists
        stored = Appointment.objects.filter(external_id=external_id).values_list("starts_at")
        starts_at = next((row[0] for row in stored), None)
    if starts_at is None:
        raise unprocessable(
            "Starttid saknas: ett förslag utan tid (start eller requestedPeriod) kan inte "
            "bli en ny kontakt.",
            code="required",
            expression="Appointment.start",
        )
    return {
        "external_id": external_id,
        "personal_id": wanted.personal_id,
        "hsa_id": wanted.hsa_id,
        "starts_at": starts_at,
        "booked_at": wanted.booked_at,
        "status": wanted.status,
        "contact_type": wanted.contact_type,
        "ends_at": wanted.ends_at,
        "minutes_duration": wanted.minutes_duration,
        "identifier": wanted.identifier,
        "patient_fee": wanted.patient_fee,
    }


def appointment_ingest(
    *,
    raw: Any,
    external_id: str,
    if_match: int | None = None,
    identifier: str | None = None,
    source_updated_at: datetime | None = None,
    parsed: FhirAppointment | None = None,
) -> tuple[Appointment, bool]:
    """The booking system's Appointment `raw` (parsed JSON) applied as the booking with
    `external_id`: (the contact, created). A resource we cannot take is a FhirError that
    names the element, and nothing is written. `identifier`: the business identifier
    (`system|value`) to keep, else the body's first; `source_updated_at`: the sender's own
    time of the resource (an older one than applied changes nothing); `if_match`: the
    version the sender last read (services.appointment_put)."""
    wanted = appointment_wanted(raw=raw, external_id=external_id, parsed=parsed)
    if identifier:
        wanted["identifier"] = identifier
    return services.appointment_put(
        **wanted, source_updated_at=source_updated_at, if_match=if_match
    )


def patient_wanted(
    *,
    raw: Any,
    resource_id: str,
    personal_id: identity.PersonalId,
    parsed: FhirPatient | None = None,
) -> tuple[dict[str, Any], str | None]:
    """What the register's Patient `raw` asks of `services.patient_sync` (its keyword
    arguments but `via` and the like), and the personnummer that replaces this one, if
    the register says so; a FhirError naming the element otherwise."""
    resource = mapping.parse(FhirPatient, raw, parsed=parsed)
    mapping.id_matches(resource, resource_id)
    fields = patients.patient_input(resource, raw, personal_id)
    return {"personal_id": personal_id.value, **fields}, patients.replaced_by(resource)


@transaction.atomic
def patient_ingest(
    *,
    raw: Any,
    resource_id: str,
    personal_id: identity.PersonalId,
    via: str = "fhir",
    actor_name: str = "",
    if_match: int | None = None,
    source_updated_at: datetime | None = None,
) -> tuple[Patient, bool]:
    """The register's Patient `raw` applied as the resource `resource_id`, the patient
    `personal_id`: (the patient, created); a FhirError naming the element otherwise, and
    nothing written."""
    fields, successor = patient_wanted(raw=raw, resource_id=resource_id, personal_id=personal_id)
    patient, created = services.patient_sync(
        via=via,
        actor_name=actor_name,
        if_match=if_match,
        source_updated_at=source_updated_at,
        **fields,
    )
    if successor:  # the same person under a new number: bookings and consent move there
        services.patient_replace(
            old=patient, new_personal_id=successor, via=via, actor_name=actor_name
        )
    return patient, created
