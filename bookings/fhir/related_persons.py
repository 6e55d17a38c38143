"""The register's guardian as a FHIR R4 RelatedPerson ⇄ `guardianship_put` (contract 2).

`relationship` — a coding `GUARD` of v3-RoleCode (a guardian; another relationship is not
ours to keep); `identifier` — the guardian's personnummer or samordningsnummer; `patient`
— the child, by identifier, a literal `Patient/{personnummer}` or a contained Patient;
`active` false ends the guardianship. Both must already be in the registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fhir.resources.R4B.relatedperson import RelatedPerson

from core.errors import DomainError

from .. import identity
from ..models import Guardianship
from .mapping import PERSONAL_ID_SYSTEMS, personal_id_of, personal_id_system
from .outcome import unprocessable

ROLE_CODE_SYSTEMS = (
    "http://terminology.hl7.org/CodeSystem/v3-RoleCode",
    "http://hl7.org/fhir/v3/RoleCode",
    "urn:oid:2.16.840.1.113883.5.111",
)
GUARDIAN = "GUARD"


@dataclass(frozen=True)
class GuardianInput:
    child: str
    guardian: str
    active: bool


def _is_guardian(resource: RelatedPerson) -> bool:
    return any(
        coding.system in ROLE_CODE_SYSTEMS and coding.code == GUARDIAN
        for concept in resource.relationship or []
        for coding in concept.coding or []
    )


def _child(resource: RelatedPerson) -> identity.PersonalId:
    reference = resource.patient
    ref = str(reference.reference or "")
    if reference.identifier is not None:
        return personal_id_of(reference.identifier, "RelatedPerson.patient.identifier")
    if ref.startswith("#"):
        contained = next((c for c in resource.contained or [] if c.id == ref[1:]), None)
        for ident in getattr(contained, "identifier", None) or []:
            if ident.system in PERSONAL_ID_SYSTEMS:
                return personal_id_of(ident, "RelatedPerson.contained.identifier")
    elif ref.split("/_history/")[0].rstrip("/").split("/")[-2:-1] == ["Patient"]:
        try:
            return identity.parse_personal_id(ref.split("/_history/")[0].rstrip("/").split("/")[-1])
        except DomainError:
            pass
    raise unprocessable(
        "Barnet ska anges med personnummer (patient.identifier, Patient/{personnummer} "
        "eller en contained Patient).",
        code="missing_identifier",
        expression="RelatedPerson.patient",
    )


def guardian_input(resource: RelatedPerson) -> GuardianInput:
    """What the register's RelatedPerson asks of `guardianship_put`, or a FhirError (422)
    naming the element that does not say it."""
    if not _is_guardian(resource):
        raise unprocessable(
            "Bara vårdnadshavare tas emot: relationship ska ha koden GUARD (v3-RoleCode).",
            code="not_a_guardian",
            expression="RelatedPerson.relationship",
        )
    ours = [
        (index, ident)
        for index, ident in enumerate(resource.identifier or [])
        if ident.system in PERSONAL_ID_SYSTEMS
    ]
    if not ours:
        raise unprocessable(
            "Vårdnadshavarens personnummer saknas (identifier).",
            code="missing_identifier",
            expression="RelatedPerson.identifier",
        )
    index, ident = ours[0]
    guardian = personal_id_of(ident, f"RelatedPerson.identifier[{index}]")
    return GuardianInput(
        child=_child(resource).value,
        guardian=guardian.value,
        active=resource.active is not False,
    )


def related_person_resource(link: Guardianship) -> RelatedPerson:
    """The stored guardianship as the register's RelatedPerson. Its version is the row's
    id: a RelatedPerson that names another pair is a new row."""
    guardian, child = link.guardian, link.child
    resource: dict[str, Any] = {
        "resourceType": "RelatedPerson",
        "id": link.fhir_id,
        "meta": {"versionId": str(link.pk), "lastUpdated": link.created_at.isoformat()},
        "active": True,
        "identifier": [{"system": personal_id_system(guardian), "value": guardian.personal_id}],
        "patient": {
            "identifier": {"system": personal_id_system(child), "value": child.personal_id}
        },
        "relationship": [{"coding": [{"system": ROLE_CODE_SYSTEMS[0], "code": GUARDIAN}]}],
    }
    if guardian.given_name or guardian.family_name:
        resource["name"] = [
            {
                "use": "official",
                **({"family": guardian.family_name} if guardian.family_name else {}),
                **({"given": guardian.given_name.split()} if guardian.given_name else {}),
            }
        ]
    return RelatedPerson.model_validate(resource)
