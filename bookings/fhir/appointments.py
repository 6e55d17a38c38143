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
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils import timezone
from fhir.resources.R4B.appointment import Appointment as FhirAppointment
from fhir.resources.R4B.identifier import Identifier

from core.errors import DomainError

from .. import identity
from ..models import JSON_CONTACT_TYPES, Appointment, AppointmentStatus, ContactType
from .fee import fee_extensions, patient_fee_of
from .mapping import (
    EXTENSION_CONTACT_TYPE,
    HSA_ID,
    HSA_ID_SYSTEMS,
    MODE_IN,
    MODE_OUT,
    PARTICIPATION_MODE,
    PERSONAL_ID_SYSTEMS,
    STATUS_IN,
    STATUS_OUT,
    aware_datetime,
    moment_of,
    personal_id_of,
    personal_id_system,
)
from .outcome import unprocessable


@dataclass(frozen=True)
class AppointmentInput:
    """The inputs of `services.appointment_put` that an Appointment gives."""

    personal_id: str
    hsa_id: str
    starts_at: datetime | None  # None: a proposed contact with no time yet
    booked_at: datetime | None
    status: str
    contact_type: str
    ends_at: datetime | None = None
    minutes_duration: int | None = None
    identifier: str | None = None  # the first business identifier, `system|value`
    patient_fee: Decimal | None = None  # the extension EXTENSION_PATIENT_FEE (fee.py)


# How specific a unit each kind of actor names: the most specific one with an HSA-id is
# the clinic (an Organization beside it is the care provider, vårdgivare).
UNIT_RANK = {"HealthcareService": 3, "Location": 2, "Organization": 1}
# v3-ParticipationType codes of people taking part (an untyped actor with one of these
# participant types is a practitioner, never the clinic).
PERSON_PARTICIPATION = frozenset(
    {"ADM", "ATND", "CALLBCK", "CON", "DIS", "ESC", "REF", "SPRF", "PPRF", "PART", "TRANSL"}
)


@dataclass(frozen=True)
class _Actor:
    """A participant's actor as we read it: its resource type (from `type`, the reference
    or the contained resource) and its identifiers (the reference's own, the contained
    resource's, or the id of a literal reference)."""

    kind: str | None
    identifiers: tuple[Identifier, ...]
    literal_id: str | None
    path: str


def _actor(resource: FhirAppointment, actor: Any, path: str) -> _Actor:
    reference = str(actor.reference or "")
    identifiers: list[Identifier] = [actor.identifier] if actor.identifier else []
    kind = str(actor.type) if actor.type else None
    literal_id = None
    if reference.startswith("#"):
        contained = next(
            (c for c in resource.contained or [] if c.id == reference[1:]),
            None,
        )
        if contained is None:
            raise unprocessable(
                f"Referensen {reference} pekar inte på någon resurs i contained.",
                code="unresolved_reference",
                expression=f"{path}.reference",
            )
        kind = kind or contained.get_resource_type()
        identifiers += list(getattr(contained, "identifier", None) or [])
    elif reference:
        # Relative (Patient/123) or absolute (https://…/fhir/Patient/123[/_history/2]).
        parts = reference.split("/_history/")[0].rstrip("/").split("/")
        if len(parts) >= 2:
            kind = kind or parts[-2]
            literal_id = parts[-1]
    return _Actor(kind, tuple(identifiers), literal_id, path)


def _patient_of(actor: _Actor) -> identity.PersonalId | None:
    for index, ident in enumerate(actor.identifiers):
        if ident.system in PERSONAL_ID_SYSTEMS:
            return personal_id_of(ident, f"{actor.path}.identifier" if index == 0 else actor.path)
    if actor.literal_id and actor.kind == "Patient":
        try:
            return identity.parse_personal_id(actor.literal_id)
        except DomainError:
            pass  # a Patient id of the sender's own, not a personnummer
    if actor.identifiers:  # an identifier in a system of its own: say which is ours
        return personal_id_of(actor.identifiers[0], f"{actor.path}.identifier")
    return None


def _hsa_of(actor: _Actor) -> str | None:
    for ident in actor.identifiers:
        if ident.system in HSA_ID_SYSTEMS:
            try:
                return identity.parse_hsa_id(ident.value or "")
            except DomainError as error:
                raise unprocessable(
                    error.message, code=error.code, expression=f"{actor.path}.identifier.value"
                ) from None
    if actor.literal_id and actor.kind in UNIT_RANK:
        try:
            return identity.parse_hsa_id(actor.literal_id)
        except DomainError:
            return None  # the sender's own id for a room or a unit: not ours to read
    return None


def _is_person(participant: Any) -> bool:
    return any(
        coding.code in PERSON_PARTICIPATION
        for concept in participant.type or []
        for coding in concept.coding or []
    )


def _parties(resource: FhirAppointment) -> tuple[str, str]:
    """The patient's personnummer and the clinic's HSA-id among the participants (contract
    2): the patient by identifier, a contained Patient or a literal Patient/{personnummer};
    the clinic the most specific unit (HealthcareService, Location, Organization) with an
    HSA-id. Rooms without an HSA-id, practitioners and devices are ignored."""
    patients: dict[str, str] = {}
    units: dict[int, dict[str, str]] = {}
    untyped_units: dict[str, str] = {}
    for index, participant in enumerate(resource.participant or []):
        if participant.actor is None:
            continue
        actor = _actor(resource, participant.actor, f"Appointment.participant[{index}].actor")
        if actor.kind == "Patient" or (
            actor.kind is None and any(i.system in PERSONAL_ID_SYSTEMS for i in actor.identifiers)
        ):
            pid = _patient_of(actor)
            if pid is None:
                raise unprocessable(
                    "Patienten ska anges med personnummer eller samordningsnummer "
                    "(identifier, en contained Patient eller Patient/{personnummer}).",
                    code="missing_identifier",
                    expression=f"{actor.path}.identifier",
                )
            patients.setdefault(pid.value, actor.path)
        elif actor.kind in UNIT_RANK:
            hsa = _hsa_of(actor)
            if hsa:
                units.setdefault(UNIT_RANK[actor.kind], {}).setdefault(hsa, actor.path)
        elif actor.kind is None and not _is_person(participant):
            hsa = _hsa_of(actor)
            if hsa:
                untyped_units.setdefault(hsa, actor.path)
    clinics = units[max(units)] if units else untyped_units
    for found, what, codes in (
        (patients, "en patient", ("missing_patient", "several_patients")),
        (clinics, "en mottagning med HSA-id", ("missing_clinic", "several_clinics")),
    ):
        if len(found) != 1:
            raise unprocessable(
                f"Besöket ska ha exakt {what} bland deltagarna (participant.actor), "
                f"inte {len(found)}.",
                code=codes[0] if not found else codes[1],
                expression="Appointment.participant",
            )
    return next(iter(patients)), next(iter(clinics))


def _configured_code(coding: Any) -> str | None:
    """A region's own code for visit, phone or video (settings.FHIR_CONTACT_TYPE_CODES,
    `system|code` → contact type), e.g. Cosmic's visit types."""
    codes: dict[str, str] = settings.FHIR_CONTACT_TYPE_CODES
    return codes.get(f"{coding.system or ''}|{coding.code or ''}")


def _contact_type(resource: FhirAppointment) -> str:
    """Visit, phone or video, from a v3-ParticipationMode coding, our extension or the
    region's own codes (settings.FHIR_CONTACT_TYPE_CODES); none of these → unspecified: the
    reminder as usual, no check-in SMS (contract 2)."""
    found: dict[str, str] = {}  # contact type -> where it was said
    concepts = [("Appointment.appointmentType", resource.appointmentType)] + [
        (f"Appointment.serviceType[{i}]", concept)
        for i, concept in enumerate(resource.serviceType or [])
    ]
    for path, concept in concepts:
        for j, coding in enumerate((concept.coding or []) if concept else []):
            said = (
                MODE_IN.get(str(coding.code))
                if coding.system == PARTICIPATION_MODE
                else _configured_code(coding)
            )
            if said:
                found.setdefault(said, f"{path}.coding[{j}]")
    for i, extension in enumerate(resource.extension or []):
        if extension.url != EXTENSION_CONTACT_TYPE:
            continue
        if extension.valueCode not in JSON_CONTACT_TYPES:
            raise unprocessable(
                "Kontakttypen ska vara valueCode visit, phone eller video.",
                code="invalid_choice",
                expression=f"Appointment.extension[{i}]",
            )
        found.setdefault(str(extension.valueCode), f"Appointment.extension[{i}]")
    if len(found) > 1:
        raise unprocessable(
            "Resursen anger olika kontakttyper: " + ", ".join(sorted(found)) + ".",
            code="contact_type_conflict",
            expression=sorted(found.values())[0],
        )
    return next(iter(found), ContactType.UNSPECIFIED)


def _requested_start(resource: FhirAppointment) -> datetime | None:
    """The earliest start of the periods a proposed contact asks for (`requestedPeriod`)."""
    starts = [moment_of(p.start) for p in resource.requestedPeriod or [] if p.start]
    return min(starts) if starts else None


def _created(raw: Any) -> datetime | None:
    """`created` as FHIR allows it: a dateTime with an offset, or a date (the start of that
    day in Sweden)."""
    value = raw.get("created") if isinstance(raw, dict) else None
    if value is None:
        return None
    if isinstance(value, str) and len(value) == 10:
        try:
            day = date.fromisoformat(value)
        except ValueError:
            pass
        else:
            return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())
    return aware_datetime(value, "Appointment.created")


def appointment_input(resource: FhirAppointment, raw: dict[str, Any]) -> AppointmentInput:
    """What the booking system's Appointment asks of `appointment_put`, or a FhirError
    (422) naming the element that does not say it."""
    status = STATUS_IN.get(str(resource.status))
    if status is None:
        raise unprocessable(
            f"Status {resource.status!r} är ingen status för Appointment i FHIR R4.",
            code="invalid_choice",
            expression="Appointment.status",
        )
    personal_id, hsa_id = _parties(resource)
    if resource.start is not None:
        starts_at: datetime | None = aware_datetime(raw["start"], "Appointment.start")
    elif status != AppointmentStatus.TENTATIVE:
        raise unprocessable(
            "Starttid saknas (start, med tidszon).",
            code="required",
            expression="Appointment.start",
        )
    else:  # a request for a time: the start of the period asked for, if any (see ingest)
        starts_at = _requested_start(resource)
    ends_at = aware_datetime(raw["end"], "Appointment.end") if resource.end else None
    if ends_at is not None and starts_at is not None and ends_at < starts_at:
        raise unprocessable(
            "Sluttiden ligger före starttiden.",
            code="end_before_start",
            expression="Appointment.end",
        )
    return AppointmentInput(
        personal_id=personal_id,
        hsa_id=hsa_id,
        starts_at=starts_at,
        booked_at=_created(raw),
        status=status,
        contact_type=_contact_type(resource),
        ends_at=ends_at,
        minutes_duration=resource.minutesDuration,
        identifier=next(
            (f"{i.system}|{i.value}" for i in resource.identifier or [] if i.system and i.value),
            None,
        ),
        patient_fee=patient_fee_of(resource),
    )


def appointment_end(appointment: Appointment) -> datetime:
    """The end we answer: as the booking system gave it (end, or start + minutesDuration);
    when it gave neither, the start itself (the length is unknown), since R4 asks for both
    or neither of start and end (app-2) and both for a booked contact (app-3)."""
    if appointment.ends_at is not None:
        return appointment.ends_at
    return appointment.starts_at + timedelta(minutes=appointment.minutes_duration or 0)


def appointment_resource(appointment: Appointment) -> FhirAppointment:
    """The stored contact as an Appointment, built by the FHIR library."""
    return FhirAppointment.model_validate(appointment_json(appointment))


def appointment_json(appointment: Appointment) -> dict[str, Any]:
    """The stored contact as an Appointment's JSON (patient and clinic by identifier). The
    answer of the booking system's every PUT, so built as plain JSON: the tests check every
    one against the R4 schema and invariants (tests/fhirvalidator)."""
    patient, clinic = appointment.patient, appointment.clinic
    resource: dict[str, Any] = {
        "resourceType": "Appointment",
        "id": appointment.external_id,
        "meta": {"lastUpdated": appointment.updated_at.isoformat()},
        "status": STATUS_OUT[AppointmentStatus(appointment.status)],
        "start": timezone.localtime(appointment.starts_at).isoformat(),
        "end": timezone.localtime(appointment_end(appointment)).isoformat(),
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
    if appointment.contact_type in MODE_OUT:
        code, display = MODE_OUT[ContactType(appointment.contact_type)]
        resource["appointmentType"] = {
            "coding": [{"system": PARTICIPATION_MODE, "code": code, "display": display}]
        }
    if appointment.minutes_duration is not None:
        resource["minutesDuration"] = appointment.minutes_duration
    if appointment.identifier:
        system, _, value = appointment.identifier.partition("|")
        resource["identifier"] = [{"system": system, "value": value}]
    extensions = fee_extensions(appointment)  # the fee and the payment (fee.py)
    if extensions:
        resource["extension"] = extensions
    return resource
