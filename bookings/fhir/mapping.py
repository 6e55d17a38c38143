"""FHIR R4 resources ⇄ the registry's services: a booking system's Appointment becomes the
inputs of `appointment_put`, the register's Patient those of `patient_sync`, and the
stored rows become resources again. The rules themselves stay in the services; here only
what element means what (contract 2), and a clear refusal naming the element when a
resource does not say what we need.

This module: the code systems, a resource's id, parsing with fhir.resources, times and
identifiers; appointments.py and patients.py map each resource.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, time
from typing import Any, TypeVar

import pydantic
from django.utils import timezone
from fhir.resources.R4B.identifier import Identifier
from fhir.resources.R4B.resource import Resource
from rest_framework import serializers

from core.errors import DomainError
from core.serializers import AwareDateTimeField

from .. import identity
from ..models import AppointmentStatus, ContactType, Patient
from .outcome import FhirError, unprocessable, unreadable

PERSONNUMMER = "http://electronichealth.se/identifier/personnummer"
SAMORDNINGSNUMMER = "http://electronichealth.se/identifier/samordningsnummer"
# The national OIDs of the same identifiers (Inera's and HL7 Sweden's older form).
PERSONNUMMER_OID = "urn:oid:1.2.752.129.2.1.3.1"
SAMORDNINGSNUMMER_OID = "urn:oid:1.2.752.129.2.1.3.3"
PERSONAL_ID_SYSTEMS = (PERSONNUMMER, SAMORDNINGSNUMMER, PERSONNUMMER_OID, SAMORDNINGSNUMMER_OID)
COORDINATION_SYSTEMS = (SAMORDNINGSNUMMER, SAMORDNINGSNUMMER_OID)
HSA_ID = "urn:oid:1.2.752.29.4.19"
HSA_ID_SYSTEMS = (HSA_ID, "urn:oid:1.2.752.129.2.1.4.1")
PARTICIPATION_MODE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationMode"
CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
SE_SECURITY_LABEL = "http://hl7.se/fhir/ig/base/CodeSystem/SecurityLabel"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"

# Protected identity (rules 3.1) as Swedish senders label a Patient in `meta.security`:
# HL7 Sweden's base profiles' own codes, v3-ActCode DEMO (all demographic information
# sensitive), v3-Confidentiality R or V, each also under the older addresses and OIDs of
# the same code systems. A label with one of these codes and no system counts too: a
# protected patient wrongly read as protected loses a reminder; the other way round, a
# protected address could be revealed.
PROTECTION_LABELS: dict[str | None, frozenset[str]] = {
    SE_SECURITY_LABEL: frozenset({"sekretessmarkering", "skyddadFolkbokforing"}),
    ACT_CODE: frozenset({"DEMO"}),
    "http://hl7.org/fhir/v3/ActCode": frozenset({"DEMO"}),
    "urn:oid:2.16.840.1.113883.5.4": frozenset({"DEMO"}),
    CONFIDENTIALITY: frozenset({"R", "V"}),  # restricted, very restricted
    "http://hl7.org/fhir/v3/Confidentiality": frozenset({"R", "V"}),
    "urn:oid:2.16.840.1.113883.5.25": frozenset({"R", "V"}),
}
PROTECTION_LABELS[None] = frozenset().union(*PROTECTION_LABELS.values())

# Our own extensions, by logical name (FHIR's Extension.url may be one); each is published
# as a StructureDefinition (capability.py).
EXTENSION_CONTACT_TYPE = "urn:sms-paminnelser:fhir:extension:contact-type"
EXTENSION_SMS_CONSENT_1177 = "urn:sms-paminnelser:fhir:extension:sms-consent-1177"
# The register's explicit statement about protection: `valueBoolean` false lifts a stored
# protection (a Patient without any label never does); true is the same as a label.
EXTENSION_PROTECTED_IDENTITY = "urn:sms-paminnelser:fhir:extension:protected-identity"

# FHIR's id: what the URL of a resource may hold.
FHIR_ID_PATTERN = r"^[A-Za-z0-9\-.]{1,64}$"
_FHIR_ID = re.compile(FHIR_ID_PATTERN, re.ASCII)

# Every R4 Appointment status has an outcome (contract 2).
STATUS_IN = {
    "booked": AppointmentStatus.BOOKED,
    "cancelled": AppointmentStatus.CANCELLED,
    "arrived": AppointmentStatus.ARRIVED,
    "checked-in": AppointmentStatus.ARRIVED,
    "fulfilled": AppointmentStatus.COMPLETED,
    "noshow": AppointmentStatus.NO_SHOW,
    "entered-in-error": AppointmentStatus.WITHDRAWN,
    "proposed": AppointmentStatus.TENTATIVE,
    "pending": AppointmentStatus.TENTATIVE,
    "waitlist": AppointmentStatus.TENTATIVE,
}
STATUS_OUT = {
    AppointmentStatus.BOOKED: "booked",
    AppointmentStatus.CANCELLED: "cancelled",
    AppointmentStatus.ARRIVED: "arrived",
    AppointmentStatus.COMPLETED: "fulfilled",
    AppointmentStatus.NO_SHOW: "noshow",
    AppointmentStatus.WITHDRAWN: "entered-in-error",
    AppointmentStatus.TENTATIVE: "pending",
}
MODE_IN = {"FACE": ContactType.VISIT, "PHONE": ContactType.PHONE, "VIDEOCONF": ContactType.VIDEO}
MODE_OUT = {
    ContactType.VISIT: ("FACE", "face-to-face"),
    ContactType.PHONE: ("PHONE", "telephone"),
    ContactType.VIDEO: ("VIDEOCONF", "videoconferencing"),
}

R = TypeVar("R", bound=Resource)


def is_fhir_id(value: str) -> bool:
    return bool(_FHIR_ID.match(value))


# No resource this interface takes nests deeper (a contained Patient's extension's value is
# about 8): a deeper body is refused before anything walks it (no recursion limit reached).
MAX_DEPTH = 32
# Modifier extensions this interface understands: none yet.
KNOWN_MODIFIER_EXTENSIONS: frozenset[str] = frozenset()


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether `value` nests more than `limit` objects or arrays deep (without recursion)."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth >= limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def _elements(value: Any, path: str) -> Iterator[tuple[str, str, Any]]:
    """Every (path, key, value) of the body's objects, depth first, in document order."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield f"{path}.{key}", key, item
            yield from _elements(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _elements(item, f"{path}[{index}]")


def _null_at(value: Any, path: str) -> str | None:
    """Where the body holds a JSON null as an element's value, if anywhere: FHIR's JSON has
    none (an element is absent or has a value; null only pads arrays of primitives'
    extensions), though the library would read it as absent."""
    return next((where for where, _key, item in _elements(value, path) if item is None), None)


def _modifier_extension_at(value: Any, path: str) -> str | None:
    """Where the body holds a modifierExtension we do not know, if anywhere."""
    for where, key, item in _elements(value, path):
        if key == "modifierExtension" and isinstance(item, list):
            for index, extension in enumerate(item):
                url = extension.get("url") if isinstance(extension, dict) else None
                if url not in KNOWN_MODIFIER_EXTENSIONS:
                    return f"{where}[{index}]"
    return None


def parse(model: type[R], raw: Any, *, parsed: R | None = None) -> R:
    """The body as the FHIR resource `model`, read by the FHIR library; a body that is
    not one is a FhirError (400) naming the element. `parsed`: the library's reading of
    this very body already made (a search page's Bundle read with its entries): the
    body's own checks here, and that reading rather than a second one."""
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
    if _deeper_than(raw, MAX_DEPTH):
        raise FhirError(
            400,
            "structure",
            f"Resursen är nästlad djupare än {MAX_DEPTH} nivåer; ingen FHIR-resurs som vi "
            "tar emot är det.",
            code="too_deep",
            expression=name,
        )
    modifier = _modifier_extension_at(raw, name)
    if modifier:
        # FHIR: an application that does not know a modifier extension must refuse the
        # element it modifies, never ignore it (it may turn "booked" into "not booked").
        raise FhirError(
            422,
            "not-supported",
            f"{modifier}: okänd modifierExtension; resursen kan inte tas emot, eftersom "
            "tillägget kan ändra innebörden av elementet.",
            code="unknown_modifier_extension",
            expression=modifier,
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
    if isinstance(parsed, model):
        return parsed
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


def aware_datetime(raw: Any, expression: str) -> datetime:
    """A time as the JSON API reads it (an offset, this century), or a 422 on the element."""
    try:
        return AwareDateTimeField().run_validation(raw)  # type: ignore[no-any-return]
    except serializers.ValidationError as error:
        codes = error.get_codes()
        code = codes[0] if isinstance(codes, list) else "invalid"
        message = "; ".join(str(d) for d in error.detail) if isinstance(error.detail, list) else ""
        raise unprocessable(message, code=str(code), expression=expression) from None


def moment_of(value: Any) -> datetime:
    """A FHIR date or dateTime as a moment: a date (or a year, a month) is the start of its
    first day in Sweden; a time without an offset is Swedish time."""
    zone = timezone.get_current_timezone()
    if isinstance(value, datetime):
        return value if timezone.is_aware(value) else timezone.make_aware(value, zone)
    if isinstance(value, date):
        return datetime.combine(value, time.min, tzinfo=zone)
    year, _, month = str(value).partition("-")
    return datetime.combine(date(int(year), int(month or 1), 1), time.min, tzinfo=zone)


def personal_id_of(ident: Identifier, expression: str) -> identity.PersonalId:
    """A personnummer or samordningsnummer identifier, its system agreeing with the number."""
    if ident.system not in PERSONAL_ID_SYSTEMS:
        raise unprocessable(
            f"Okänt identifierarsystem {ident.system!r}: använd {PERSONNUMMER} eller "
            f"{SAMORDNINGSNUMMER} (eller {PERSONNUMMER_OID}, {SAMORDNINGSNUMMER_OID}).",
            code="unknown_identifier_system",
            expression=f"{expression}.system",
        )
    try:
        pid = identity.parse_personal_id(ident.value or "")
    except DomainError as error:
        raise unprocessable(
            error.message, code=error.code, expression=f"{expression}.value"
        ) from None
    if (ident.system in COORDINATION_SYSTEMS) != pid.is_coordination_number:
        raise unprocessable(
            f"Numret är ett {'samordningsnummer' if pid.is_coordination_number else 'personnummer'}"
            ", men identifieraren anger ett annat system.",
            code="identifier_system_mismatch",
            expression=f"{expression}.system",
        )
    return pid


def is_protection_label(system: str | None, code: str | None) -> bool:
    """Whether a `meta.security` coding says protected identity (PROTECTION_LABELS)."""
    return code in PROTECTION_LABELS.get(system, frozenset())


def personal_id_system(patient: Patient) -> str:
    return SAMORDNINGSNUMMER if patient.is_coordination_number else PERSONNUMMER
