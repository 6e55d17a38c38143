"""A booking system's FHIR R4 Appointment ⇄ `appointment_put` and the stored contact
(contract 2).

`id` — the booking system's id; `status` — booked, cancelled, arrived,
fulfilled (completed), noshow (no_show); `start` (with an offset) and `created`
(booked at); the participant whose actor is a Patient (by personnummer) and the one
that is the clinic (a Location, HealthcareService or Organization by HSA-id; other
participants, e.g. practitioners, are ignored); visit, phone or video — a coding of
`v3-ParticipationMode` (FACE, PHONE, VIDEOCONF) in `appointmentType` or
`serviceType`, or the extension `EXTENSION_CONTACT_TYPE` (`valueCode` visit, phone,
video).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone
from fhir.resources.R4B.appointment import Appointment as FhirAppointment

from core.errors import DomainError

from .. import identity
from ..models import Appointment, AppointmentStatus, ContactType
from .fee import fee_extensions, patient_fee_of
from .mapping import (
    CLINIC_ACTORS,
    EXTENSION_CONTACT_TYPE,
    HSA_ID,
    MODE_IN,
    MODE_OUT,
    PARTICIPATION_MODE,
    PERSONAL_ID_SYSTEMS,
    STATUS_IN,
    STATUS_OUT,
    aware_datetime,
    personal_id_of,
    personal_id_system,
)
from .outcome import unprocessable


@dataclass(frozen=True)
class AppointmentInput:
    """The inputs of `services.appointment_put` that an Appointment gives."""

    personal_id: str
    hsa_id: str
    starts_at: datetime
    booked_at: datetime | None
    status: str
    contact_type: str
    patient_fee: Decimal | None = None  # the extension EXTENSION_PATIENT_FEE (fee.py)


def _actor_type(actor: Any) -> str | None:
    if actor.type:
        return str(actor.type)
    reference = actor.reference or ""
    return reference.split("/")[0] if "/" in reference and not reference.startswith("#") else None


def _parties(resource: FhirAppointment) -> tuple[str, str]:
    """The patient's personnummer and the clinic's HSA-id among the participants."""
    patients: dict[str, str] = {}
    clinics: dict[str, str] = {}
    for index, participant in enumerate(resource.participant or []):
        actor = participant.actor
        if actor is None:
            continue
        path = f"Appointment.participant[{index}].actor"
        kind = _actor_type(actor)
        system = actor.identifier.system if actor.identifier else None
        if kind == "Patient" or (kind is None and system in PERSONAL_ID_SYSTEMS):
            if actor.identifier is None:
                raise unprocessable(
                    "Patienten ska anges med identifier (personnummer eller samordningsnummer).",
                    code="missing_identifier",
                    expression=f"{path}.identifier",
                )
            pid = personal_id_of(actor.identifier, f"{path}.identifier")
            patients.setdefault(pid.value, path)
        elif kind in CLINIC_ACTORS or (kind is None and system == HSA_ID):
            if actor.identifier is None or system != HSA_ID:
                raise unprocessable(
                    f"Mottagningen ska anges med identifier i systemet {HSA_ID} (HSA-id).",
                    code="unknown_identifier_system",
                    expression=f"{path}.identifier.system",
                )
            try:
                hsa = identity.parse_hsa_id(actor.identifier.value or "")
            except DomainError as error:
                raise unprocessable(
                    error.message, code=error.code, expression=f"{path}.identifier.value"
                ) from None
            clinics.setdefault(hsa, path)
    for found, what, codes in (
        (patients, "en patient", ("missing_patient", "several_patients")),
        (clinics, "en mottagning", ("missing_clinic", "several_clinics")),
    ):
        if len(found) != 1:
            raise unprocessable(
                f"Besöket ska ha exakt {what} bland deltagarna (participant.actor), "
                f"inte {len(found)}.",
                code=codes[0] if not found else codes[1],
                expression="Appointment.participant",
            )
    return next(iter(patients)), next(iter(clinics))


def _contact_type(resource: FhirAppointment) -> str:
    """Visit, phone or video, from ParticipationMode codings or our extension."""
    found: dict[str, str] = {}  # contact type -> where it was said
    concepts = [("Appointment.appointmentType", resource.appointmentType)] + [
        (f"Appointment.serviceType[{i}]", concept)
        for i, concept in enumerate(resource.serviceType or [])
    ]
    for path, concept in concepts:
        for j, coding in enumerate((concept.coding or []) if concept else []):
            if coding.system != PARTICIPATION_MODE:
                continue
            if coding.code not in MODE_IN:
                raise unprocessable(
                    f"Kontaktsättet {coding.code!r} stöds inte: använd FACE, PHONE eller "
                    "VIDEOCONF.",
                    code="invalid_choice",
                    expression=f"{path}.coding[{j}].code",
                )
            found.setdefault(MODE_IN[coding.code], f"{path}.coding[{j}]")
    for i, extension in enumerate(resource.extension or []):
        if extension.url != EXTENSION_CONTACT_TYPE:
            continue
        if extension.valueCode not in ContactType.values:
            raise unprocessable(
                "Kontakttypen ska vara valueCode visit, phone eller video.",
                code="invalid_choice",
                expression=f"Appointment.extension[{i}]",
            )
        found.setdefault(str(extension.valueCode), f"Appointment.extension[{i}]")
    if not found:
        raise unprocessable(
            "Kontakttyp saknas: ange besök, telefon eller video i appointmentType "
            f"({PARTICIPATION_MODE}) eller med tillägget {EXTENSION_CONTACT_TYPE}.",
            code="missing_contact_type",
            expression="Appointment.appointmentType",
        )
    if len(found) > 1:
        raise unprocessable(
            "Resursen anger olika kontakttyper: " + ", ".join(sorted(found)) + ".",
            code="contact_type_conflict",
            expression=sorted(found.values())[0],
        )
    return next(iter(found))


def appointment_input(resource: FhirAppointment, raw: dict[str, Any]) -> AppointmentInput:
    """What the booking system's Appointment asks of `appointment_put`, or a FhirError
    (422) naming the element that does not say it."""
    status = STATUS_IN.get(str(resource.status))
    if status is None:
        raise unprocessable(
            f"Status {resource.status!r} stöds inte: använd booked, cancelled, arrived, "
            "fulfilled eller noshow.",
            code="invalid_choice",
            expression="Appointment.status",
        )
    personal_id, hsa_id = _parties(resource)
    if resource.start is None:
        raise unprocessable(
            "Starttid saknas (start, med tidszon).",
            code="required",
            expression="Appointment.start",
        )
    starts_at = aware_datetime(raw["start"], "Appointment.start")
    booked_at = aware_datetime(raw["created"], "Appointment.created") if resource.created else None
    return AppointmentInput(
        personal_id=personal_id,
        hsa_id=hsa_id,
        starts_at=starts_at,
        booked_at=booked_at,
        status=status,
        contact_type=_contact_type(resource),
        patient_fee=patient_fee_of(resource),
    )


def appointment_resource(appointment: Appointment) -> FhirAppointment:
    """The stored contact as an Appointment (patient and clinic by identifier)."""
    patient, clinic = appointment.patient, appointment.clinic
    code, display = MODE_OUT[ContactType(appointment.contact_type)]
    extensions = fee_extensions(appointment)  # the fee and the payment (fee.py)
    return FhirAppointment.model_validate(
        {
            "resourceType": "Appointment",
            "id": appointment.external_id,
            **({"extension": extensions} if extensions else {}),
            "meta": {"lastUpdated": appointment.updated_at.isoformat()},
            "status": STATUS_OUT[AppointmentStatus(appointment.status)],
            "appointmentType": {
                "coding": [{"system": PARTICIPATION_MODE, "code": code, "display": display}]
            },
            "start": timezone.localtime(appointment.starts_at).isoformat(),
            "created": timezone.localtime(appointment.booked_at).isoformat(),
            "participant": [
                {
                    "actor": {
                        "type": "Patient",
                        "identifier": {
                            "system": personal_id_system(patient),
                            "value": patient.personal_id,
                        },
                    },
                    "status": "accepted",
                },
                {
                    "actor": {
                        "type": "HealthcareService",
                        "identifier": {"system": HSA_ID, "value": clinic.hsa_id},
                        "display": clinic.name,
                    },
                    "status": "accepted",
                },
            ],
        }
    )
