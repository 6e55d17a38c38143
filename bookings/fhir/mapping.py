"""FHIR R4 resources ⇄ the registry's services: a booking system's Appointment becomes the
inputs of `appointment_put`, the register's Patient those of `patient_sync`, and the
stored rows become resources again. The rules themselves stay in the services; here only
what element means what (contract 2), and a clear refusal naming the element when a
resource does not say what we need.

Patient
    `id` and `identifier` — the personnummer (system `…/personnummer`) or
    samordningsnummer (`…/samordningsnummer`); `name` — the official name (else the
    first); `telecom` — the mobile number from 1177 (system `phone` or `sms`, use
    `mobile`; the lowest `rank` if several); protected identity — a `meta.security`
    label `R` or `V` of `v3-Confidentiality`; `deceasedDateTime` (a date is the start of
    that day in Sweden) or `deceasedBoolean` (true without a date: the time of the
    report; false: not deceased; neither: unchanged); guardians — each a `link` of type
    `seealso` whose `other` is a RelatedPerson identified by personnummer; 1177's SMS
    consent — the extension `EXTENSION_SMS_CONSENT_1177` (`valueBoolean`, false when
    absent; it never activates anything).

Appointment
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

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, TypeVar

import pydantic
from django.utils import timezone
from fhir.resources.R4B.appointment import Appointment as FhirAppointment
from fhir.resources.R4B.identifier import Identifier
from fhir.resources.R4B.patient import Patient as FhirPatient
from fhir.resources.R4B.resource import Resource
from rest_framework import serializers

from core.errors import DomainError
from core.serializers import AwareDateTimeField

from .. import identity
from ..models import Appointment, AppointmentStatus, ContactType, Patient
from ..services import UNCHANGED, DeathReport
from .outcome import FhirError, unprocessable, unreadable

PERSONNUMMER = "http://electronichealth.se/identifier/personnummer"
SAMORDNINGSNUMMER = "http://electronichealth.se/identifier/samordningsnummer"
PERSONAL_ID_SYSTEMS = (PERSONNUMMER, SAMORDNINGSNUMMER)
HSA_ID = "urn:oid:1.2.752.29.4.19"
PARTICIPATION_MODE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationMode"
CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
PROTECTED_LABELS = frozenset({"R", "V"})  # restricted, very restricted
# Our own extensions, by logical name (FHIR's Extension.url may be one).
EXTENSION_CONTACT_TYPE = "urn:sms-paminnelser:fhir:extension:contact-type"
EXTENSION_SMS_CONSENT_1177 = "urn:sms-paminnelser:fhir:extension:sms-consent-1177"

# FHIR's id: what the URL of a resource may hold.
FHIR_ID_PATTERN = r"^[A-Za-z0-9\-.]{1,64}$"
_FHIR_ID = re.compile(FHIR_ID_PATTERN, re.ASCII)

STATUS_IN = {
    "booked": AppointmentStatus.BOOKED,
    "cancelled": AppointmentStatus.CANCELLED,
    "arrived": AppointmentStatus.ARRIVED,
    "fulfilled": AppointmentStatus.COMPLETED,
    "noshow": AppointmentStatus.NO_SHOW,
}
STATUS_OUT = {ours: theirs for theirs, ours in STATUS_IN.items()}
MODE_IN = {"FACE": ContactType.VISIT, "PHONE": ContactType.PHONE, "VIDEOCONF": ContactType.VIDEO}
MODE_OUT = {
    ContactType.VISIT: ("FACE", "face-to-face"),
    ContactType.PHONE: ("PHONE", "telephone"),
    ContactType.VIDEO: ("VIDEOCONF", "videoconferencing"),
}
CLINIC_ACTORS = frozenset({"Location", "HealthcareService", "Organization"})

R = TypeVar("R", bound=Resource)


def is_fhir_id(value: str) -> bool:
    return bool(_FHIR_ID.match(value))


def _null_at(value: Any, path: str) -> str | None:
    """Where the body holds a JSON null as an element's value, if anywhere: FHIR's JSON has
    none (an element is absent or has a value; null only pads arrays of primitives'
    extensions), though the library would read it as absent."""
    if isinstance(value, dict):
        for key, item in value.items():
            if item is None:
                return f"{path}.{key}"
            found = _null_at(item, f"{path}.{key}")
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _null_at(item, f"{path}[{index}]")
            if found:
                return found
    return None


def parse(model: type[R], raw: Any) -> R:
    """The body as the FHIR resource `model`, read by the FHIR library; a body that is
    not one is a FhirError (400) naming the element."""
    name = model.__name__
    if not isinstance(raw, dict):
        raise FhirError(
            400,
            "structure",
            f"Innehållet ska vara en FHIR-resurs av typen {name} (ett JSON-objekt).",
            code="invalid_resource",
        )
    if raw.get("resourceType") != name:
        raise FhirError(
            400,
            "invalid",
            f"resourceType ska vara {name}.",
            code="wrong_resource_type",
            expression=name,
        )
    null = _null_at(raw, name)
    if null:
        raise FhirError(
            400,
            "structure",
            f"{null}: null är inte tillåtet i FHIR JSON; utelämna elementet i stället.",
            code="null_value",
            expression=null,
        )
    try:
        return model.model_validate(raw)
    except pydantic.ValidationError as error:
        raise unreadable(name, error) from None
    except (ValueError, TypeError, LookupError, AttributeError) as error:
        # The library refuses some input outside pydantic (an unknown contained type).
        raise FhirError(
            400,
            "structure",
            f"Resursen kan inte läsas som FHIR R4 {name} ({type(error).__name__}).",
            code="invalid_resource",
            expression=name,
        ) from None


def id_matches(resource: Resource, url_id: str) -> None:
    """FHIR's update: the body's id is the URL's (HTTP 400 otherwise)."""
    name = resource.get_resource_type()
    if resource.id != url_id:
        raise FhirError(
            400,
            "invalid",
            f"{name}.id ska vara samma som i adressen ({url_id}).",
            code="id_mismatch",
            expression=f"{name}.id",
        )


def _aware(raw: Any, expression: str) -> datetime:
    """A time as the JSON API reads it (an offset, this century), or a 422 on the element."""
    try:
        return AwareDateTimeField().run_validation(raw)  # type: ignore[no-any-return]
    except serializers.ValidationError as error:
        codes = error.get_codes()
        code = codes[0] if isinstance(codes, list) else "invalid"
        message = "; ".join(str(d) for d in error.detail) if isinstance(error.detail, list) else ""
        raise unprocessable(message, code=str(code), expression=expression) from None


def _personal_id(ident: Identifier, expression: str) -> identity.PersonalId:
    """A personnummer or samordningsnummer identifier, its system agreeing with the number."""
    if ident.system not in PERSONAL_ID_SYSTEMS:
        raise unprocessable(
            f"Okänt identifierarsystem {ident.system!r}: använd {PERSONNUMMER} eller "
            f"{SAMORDNINGSNUMMER}.",
            code="unknown_identifier_system",
            expression=f"{expression}.system",
        )
    try:
        pid = identity.parse_personal_id(ident.value or "")
    except DomainError as error:
        raise unprocessable(
            error.message, code=error.code, expression=f"{expression}.value"
        ) from None
    if (ident.system == SAMORDNINGSNUMMER) != pid.is_coordination_number:
        raise unprocessable(
            f"Numret är ett {'samordningsnummer' if pid.is_coordination_number else 'personnummer'}"
            ", men identifieraren anger ett annat system.",
            code="identifier_system_mismatch",
            expression=f"{expression}.system",
        )
    return pid


def _personal_id_system(patient: Patient) -> str:
    return SAMORDNINGSNUMMER if patient.is_coordination_number else PERSONNUMMER


# --- Appointment ------------------------------------------------------------------------------
@dataclass(frozen=True)
class AppointmentInput:
    """The inputs of `services.appointment_put` that an Appointment gives."""

    personal_id: str
    hsa_id: str
    starts_at: datetime
    booked_at: datetime | None
    status: str
    contact_type: str


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
            pid = _personal_id(actor.identifier, f"{path}.identifier")
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
    starts_at = _aware(raw["start"], "Appointment.start")
    booked_at = _aware(raw["created"], "Appointment.created") if resource.created else None
    return AppointmentInput(
        personal_id=personal_id,
        hsa_id=hsa_id,
        starts_at=starts_at,
        booked_at=booked_at,
        status=status,
        contact_type=_contact_type(resource),
    )


def appointment_resource(appointment: Appointment) -> FhirAppointment:
    """The stored contact as an Appointment (patient and clinic by identifier)."""
    patient, clinic = appointment.patient, appointment.clinic
    code, display = MODE_OUT[ContactType(appointment.contact_type)]
    return FhirAppointment.model_validate(
        {
            "resourceType": "Appointment",
            "id": appointment.external_id,
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
                            "system": _personal_id_system(patient),
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


# --- Patient ----------------------------------------------------------------------------------
def _json_boolean(raw: Any, key: str, expression: str) -> bool:
    """A boolean the resource gives, as JSON gives it: the library would also take "yes"
    or 1, and for what decides who gets an SMS a typo must be an error (as in /api/v1/)."""
    value = raw.get(key) if isinstance(raw, dict) else None
    if value is True or value is False:
        return value
    raise FhirError(
        400, "structure", "Ange true eller false.", code="invalid", expression=expression
    )


def _stockholm_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def _deceased(resource: FhirPatient, raw: dict[str, Any]) -> datetime | DeathReport | None:
    if resource.deceasedBoolean is not None:
        if _json_boolean(raw, "deceasedBoolean", "Patient.deceasedBoolean"):
            return DeathReport.UNDATED
        return None
    value = resource.deceasedDateTime
    if value is None:
        return UNCHANGED
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return _stockholm_start(value)
    # A year ("2026") or a month ("2026-03"): its first day.
    year, _, month = str(value).partition("-")
    return _stockholm_start(date(int(year), int(month or 1), 1))


def _name(resource: FhirPatient) -> tuple[str | None, str | None]:
    names = resource.name or []
    if not names:
        return None, None
    chosen = next((n for n in names if n.use == "official"), names[0])
    given = " ".join(str(g) for g in (chosen.given or []) if g)
    return given, str(chosen.family or "")


def _mobile_number(resource: FhirPatient) -> str | None:
    mobiles = [
        (index, point)
        for index, point in enumerate(resource.telecom or [])
        if point.system in ("phone", "sms") and point.use == "mobile" and point.value
    ]
    if not mobiles:
        return None
    index, point = min(mobiles, key=lambda m: (m[1].rank is None, m[1].rank or 0, m[0]))
    try:
        return identity.parse_mobile_number(str(point.value))
    except DomainError as error:
        raise unprocessable(
            error.message, code=error.code, expression=f"Patient.telecom[{index}].value"
        ) from None


def _guardians(resource: FhirPatient) -> list[str]:
    guardians = []
    for index, link in enumerate(resource.link or []):
        path = f"Patient.link[{index}]"
        other = link.other
        if link.type != "seealso" or other.type != "RelatedPerson" or other.identifier is None:
            raise unprocessable(
                "Länkar stöds bara för vårdnadshavare: type seealso och other en "
                "RelatedPerson med personnummer som identifier.",
                code="unsupported_link",
                expression=path,
            )
        guardians.append(_personal_id(other.identifier, f"{path}.other.identifier").value)
    return guardians


def _sms_consent_1177(resource: FhirPatient, raw: dict[str, Any]) -> bool:
    for index, extension in enumerate(resource.extension or []):
        if extension.url == EXTENSION_SMS_CONSENT_1177:
            return _json_boolean(
                raw["extension"][index],
                "valueBoolean",
                f"Patient.extension[{index}].valueBoolean",
            )
    return False


def patient_input(
    resource: FhirPatient, raw: dict[str, Any], pid: identity.PersonalId
) -> dict[str, Any]:
    """What the register's Patient asks of `patient_sync` (all but the personnummer, which
    is `pid`, from the URL), or a FhirError naming the element that does not say it."""
    for index, ident in enumerate(resource.identifier or []):
        if ident.system not in PERSONAL_ID_SYSTEMS:
            continue  # another system's id of the patient: not ours to keep
        said = _personal_id(ident, f"Patient.identifier[{index}]")
        if said.value != pid.value:
            raise unprocessable(
                "Personnumret i identifier är inte patientens i adressen.",
                code="identifier_mismatch",
                expression=f"Patient.identifier[{index}].value",
            )
    labels = (resource.meta.security or []) if resource.meta else []
    given_name, family_name = _name(resource)
    return {
        "protected_identity": any(
            label.system == CONFIDENTIALITY and label.code in PROTECTED_LABELS for label in labels
        ),
        "mobile_number": _mobile_number(resource),
        "sms_consent_1177": _sms_consent_1177(resource, raw),
        "guardians": _guardians(resource),
        "given_name": given_name,
        "family_name": family_name,
        "deceased_at": _deceased(resource, raw),
    }


def _identifier(patient: Patient) -> dict[str, str]:
    return {"system": _personal_id_system(patient), "value": patient.personal_id}


def patient_resource(patient: Patient, guardians: Iterable[Patient]) -> FhirPatient:
    """The stored patient as a Patient, as the register gave it."""
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": patient.personal_id,
        "meta": {"lastUpdated": patient.updated_at.isoformat()},
        "identifier": [_identifier(patient)],
        "birthDate": patient.birth_date.isoformat(),
        "extension": [
            {"url": EXTENSION_SMS_CONSENT_1177, "valueBoolean": patient.sms_consent_1177}
        ],
    }
    if patient.protected_identity:
        resource["meta"]["security"] = [{"system": CONFIDENTIALITY, "code": "R"}]
    if patient.given_name or patient.family_name:
        name: dict[str, Any] = {"use": "official"}
        if patient.family_name:
            name["family"] = patient.family_name
        if patient.given_name:
            name["given"] = patient.given_name.split()
        resource["name"] = [name]
    if patient.mobile_number:
        resource["telecom"] = [{"system": "phone", "use": "mobile", "value": patient.mobile_number}]
    if patient.deceased_at is not None:
        resource["deceasedDateTime"] = timezone.localtime(patient.deceased_at).isoformat()
    links = [
        {"type": "seealso", "other": {"type": "RelatedPerson", "identifier": _identifier(g)}}
        for g in guardians
    ]
    if links:
        resource["link"] = links
    return FhirPatient.model_validate(resource)
