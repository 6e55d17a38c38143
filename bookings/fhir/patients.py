"""The population register's FHIR R4 Patient ⇄ `patient_sync` and the stored patient
(contract 2).

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
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.utils import timezone
from fhir.resources.R4B.patient import Patient as FhirPatient

from core.errors import DomainError

from .. import identity
from ..models import Patient
from ..services import UNCHANGED, DeathReport
from .mapping import (
    CONFIDENTIALITY,
    EXTENSION_PROTECTED_IDENTITY,
    EXTENSION_SMS_CONSENT_1177,
    PERSONAL_ID_SYSTEMS,
    is_protection_label,
    moment_of,
    personal_id_of,
    personal_id_system,
)
from .outcome import FhirError, unprocessable


def _json_boolean(raw: Any, key: str, expression: str) -> bool:
    """A boolean the resource gives, as JSON gives it: the library would also take "yes"
    or 1, and for what decides who gets an SMS a typo must be an error (as in /api/v1/)."""
    value = raw.get(key) if isinstance(raw, dict) else None
    if value is True or value is False:
        return value
    raise FhirError(
        400, "structure", "Ange true eller false.", code="invalid", expression=expression
    )


def _deceased(resource: FhirPatient, raw: dict[str, Any]) -> datetime | DeathReport | None:
    if resource.deceasedBoolean is not None:
        if _json_boolean(raw, "deceasedBoolean", "Patient.deceasedBoolean"):
            return DeathReport.UNDATED
        return None
    value = resource.deceasedDateTime
    if value is None:
        return UNCHANGED
    if isinstance(value, datetime):
        return value  # a time without an offset is refused by the service
    return moment_of(value)  # a date, a month or a year: its first day in Sweden


def _name(resource: FhirPatient) -> tuple[str | None, str | None]:
    """The official name (else the first in use): given and family, or, when the name is
    only a `text`, its last word as the family name and the rest as given names."""
    names = [n for n in resource.name or [] if n.use != "old"]
    if not names:
        return None, None
    chosen = next((n for n in names if n.use == "official"), names[0])
    given = " ".join(str(g) for g in (chosen.given or []) if g)
    family = str(chosen.family or "")
    if not (given or family) and chosen.text:
        *first, last = str(chosen.text).split() or [""]
        return " ".join(first), last
    return given, family


def _in_use(point: Any, now: datetime) -> bool:
    """A contact point that is in use now: not `old`, its period (if any) not ended or not
    yet begun."""
    period = point.period
    if point.use == "old":
        return False
    if period is not None and period.end is not None and moment_of(period.end) <= now:
        return False
    return not (period is not None and period.start is not None and moment_of(period.start) > now)


def _mobile_number(resource: FhirPatient) -> str | None:
    """The 1177 number: a phone or sms contact point with use `mobile` in use now (the
    lowest `rank`); without one, a point in use with no `use` whose number is a Swedish
    mobile number (senders leave `use` out). A `mobile` one that is no mobile number is an
    error; a landline without `use` is not ours."""
    now = timezone.now()
    points = [
        (index, point)
        for index, point in enumerate(resource.telecom or [])
        if point.system in ("phone", "sms") and point.value and _in_use(point, now)
    ]
    mobiles = [(i, p) for i, p in points if p.use == "mobile"]
    if mobiles:
        index, point = min(mobiles, key=lambda m: (m[1].rank is None, m[1].rank or 0, m[0]))
        try:
            return identity.parse_mobile_number(str(point.value))
        except DomainError as error:
            raise unprocessable(
                error.message, code=error.code, expression=f"Patient.telecom[{index}].value"
            ) from None
    unsaid = sorted(
        ((i, p) for i, p in points if p.use is None),
        key=lambda m: (m[1].rank is None, m[1].rank or 0, m[0]),
    )
    for _index, point in unsaid:
        try:
            return identity.parse_mobile_number(str(point.value))
        except DomainError:
            continue
    return None


def _guardians(resource: FhirPatient) -> list[str] | None:
    """Guardians the deprecated way, each a `link` of type `seealso` to a RelatedPerson by
    personnummer (contract 2: RelatedPerson is the FHIR way, and `link` otherwise means
    "the same person"). None when the Patient names none this way: the stored guardians
    stay (a Patient.contact never removes them)."""
    guardians = []
    said = False
    for index, link in enumerate(resource.link or []):
        path = f"Patient.link[{index}]"
        other = link.other
        if link.type != "seealso" or other.type != "RelatedPerson":
            continue  # the same person elsewhere (refer, replaces, seealso to a Patient)
        said = True
        if other.identifier is None:
            raise unprocessable(
                "En vårdnadshavare som länk ska ha personnummer som identifier.",
                code="missing_identifier",
                expression=f"{path}.other",
            )
        guardians.append(personal_id_of(other.identifier, f"{path}.other.identifier").value)
    return guardians if said else None


def replaced_by(resource: FhirPatient) -> str | None:
    """The personnummer that replaced this patient's identity (`link` of type
    `replaced-by` to a Patient by identifier or `Patient/{personnummer}`), if any."""
    for index, link in enumerate(resource.link or []):
        if link.type != "replaced-by":
            continue
        path = f"Patient.link[{index}].other"
        other = link.other
        if other.identifier is not None:
            return personal_id_of(other.identifier, f"{path}.identifier").value
        reference = str(other.reference or "")
        kind, _, rid = reference.split("/_history/")[0].rstrip("/").rpartition("/")
        if kind.endswith("Patient"):
            try:
                return identity.parse_personal_id(rid).value
            except DomainError:
                pass
        raise unprocessable(
            "replaced-by ska peka på en Patient med personnummer (identifier eller "
            "Patient/{personnummer}).",
            code="missing_identifier",
            expression=path,
        )
    return None


def _extension_boolean(resource: FhirPatient, raw: dict[str, Any], url: str) -> bool | None:
    """The `valueBoolean` of our extension `url` on the Patient, or None when absent."""
    for index, extension in enumerate(resource.extension or []):
        if extension.url == url:
            return _json_boolean(
                raw["extension"][index],
                "valueBoolean",
                f"Patient.extension[{index}].valueBoolean",
            )
    return None


def _protected_identity(resource: FhirPatient, raw: dict[str, Any]) -> bool | None:
    """Protected identity as the Patient says it (rules 3.1; contract 2): True when any
    `meta.security` label says so (mapping.PROTECTION_LABELS) or our extension says true;
    False only on the explicit statement, our extension with `valueBoolean` false; None
    when the Patient says nothing, and a stored protection stays."""
    labels = (resource.meta.security or []) if resource.meta else []
    labelled = any(is_protection_label(label.system, label.code) for label in labels)
    stated = _extension_boolean(resource, raw, EXTENSION_PROTECTED_IDENTITY)
    if labelled and stated is False:
        raise unprocessable(
            "Patienten har en märkning om skyddad identitet i meta.security men tillägget "
            f"{EXTENSION_PROTECTED_IDENTITY} säger false: ange det ena.",
            code="protection_conflict",
            expression="Patient.meta.security",
        )
    if labelled or stated:
        return True
    return stated  # False (lifted explicitly) or None (not stated)


def patient_input(
    resource: FhirPatient, raw: dict[str, Any], pid: identity.PersonalId
) -> dict[str, Any]:
    """What the register's Patient asks of `patient_sync` (all but the personnummer, which
    is `pid`, from the URL), or a FhirError naming the element that does not say it."""
    for index, ident in enumerate(resource.identifier or []):
        if ident.system not in PERSONAL_ID_SYSTEMS:
            continue  # another system's id of the patient: not ours to keep
        said = personal_id_of(ident, f"Patient.identifier[{index}]")
        if said.value != pid.value:
            raise unprocessable(
                "Personnumret i identifier är inte patientens i adressen.",
                code="identifier_mismatch",
                expression=f"Patient.identifier[{index}].value",
            )
    given_name, family_name = _name(resource)
    return {
        "protected_identity": _protected_identity(resource, raw),
        "mobile_number": _mobile_number(resource),
        "sms_consent_1177": bool(_extension_boolean(resource, raw, EXTENSION_SMS_CONSENT_1177)),
        "guardians": _guardians(resource),
        "given_name": given_name,
        "family_name": family_name,
        "deceased_at": _deceased(resource, raw),
    }


def _identifier(patient: Patient) -> dict[str, str]:
    return {"system": personal_id_system(patient), "value": patient.personal_id}


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
        # Which of the Swedish kinds it is we do not keep: v3-Confidentiality R says
        # "restricted" without claiming one.
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
