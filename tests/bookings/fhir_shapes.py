"""Resources as real senders shape them, as raw JSON (never built with the library we read
them with): HL7's three R4 example Appointments adapted to Swedish identifiers, an
Appointment as Cosmic and an integration engine send it, Patients after HL7 Sweden's base
profiles. Each function gives a fresh dict; the tests change what they need."""

from __future__ import annotations

from typing import Any

PNR = "http://electronichealth.se/identifier/personnummer"
PNR_OID = "urn:oid:1.2.752.129.2.1.3.1"
SAMORDNING_OID = "urn:oid:1.2.752.129.2.1.3.3"
HSA = "urn:oid:1.2.752.29.4.19"
HSA_OID = "urn:oid:1.2.752.129.2.1.4.1"
V2_0276 = "http://terminology.hl7.org/CodeSystem/v2-0276"
PARTICIPATION_TYPE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
SE_LABEL = "http://hl7.se/fhir/ig/base/CodeSystem/SecurityLabel"
# Region Halland as care provider (vårdgivare): an Organization beside the unit.
REGION_HSA = "SE2321000115-E000000000"


def _gp(extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "serviceCategory": [
            {
                "coding": [
                    {
                        "system": "http://example.org/service-category",
                        "code": "gp",
                        "display": "General Practice",
                    }
                ]
            }
        ],
        "specialty": [
            {
                "coding": [
                    {
                        "system": "http://snomed.info/sct",
                        "code": "394814009",
                        "display": "General practice",
                    }
                ]
            }
        ],
        **extra,
    }


def hl7_example(pid: str, hsa: str, start: str, end: str) -> dict[str, Any]:
    """HL7's `appointment-example.json` (R4): Patient/example is the personnummer, Location/1
    carries the clinic's HSA-id; the practitioner (ATND) is left as HL7 wrote it."""
    return {
        "resourceType": "Appointment",
        "id": "example",
        "text": {
            "status": "generated",
            "div": '<div xmlns="http://www.w3.org/1999/xhtml">Brian MRI results discussion</div>',
        },
        "status": "booked",
        **_gp({}),
        "serviceType": [{"coding": [{"code": "52", "display": "General Discussion"}]}],
        "appointmentType": {
            "coding": [
                {
                    "system": V2_0276,
                    "code": "FOLLOWUP",
                    "display": "A follow up visit from a previous appointment",
                }
            ]
        },
        "reasonReference": [
            {"reference": "Condition/example", "display": "Severe burn of left ear"}
        ],
        "priority": 5,
        "description": "Discussion on the results of your recent MRI",
        "start": start,
        "end": end,
        "created": "2013-10-10",
        "comment": "Further expand on the results of the MRI and determine the next actions "
        "that may be appropriate.",
        "basedOn": [{"reference": "ServiceRequest/myringotomy"}],
        "participant": [
            {
                "actor": {"reference": f"Patient/{pid}", "display": "Peter James Chalmers"},
                "required": "required",
                "status": "accepted",
            },
            {
                "type": [{"coding": [{"system": PARTICIPATION_TYPE, "code": "ATND"}]}],
                "actor": {"reference": "Practitioner/example", "display": "Dr Adam Careful"},
                "required": "required",
                "status": "accepted",
            },
            {
                "actor": {
                    "reference": "Location/1",
                    "identifier": {"system": HSA, "value": hsa},
                    "display": "South Wing, second floor",
                },
                "required": "required",
                "status": "accepted",
            },
        ],
    }


def hl7_two_doctors(pid: str, hsa: str, start: str, end: str) -> dict[str, Any]:
    """HL7's `appointment-example2doctors.json` (R4): two practitioners, both ignored."""
    body = hl7_example(pid, hsa, start, end)
    body.update(
        {
            "id": "2docs",
            "description": "Discussion about Peter Chalmers MRI results",
            "supportingInformation": [{"reference": "DiagnosticReport/ultrasound"}],
            "comment": "Clarify the results of the MRI to ensure context of test was correct",
        }
    )
    del body["reasonReference"], body["basedOn"], body["created"]
    body["participant"].insert(
        2,
        {
            "type": [{"coding": [{"system": PARTICIPATION_TYPE, "code": "ATND"}]}],
            "actor": {"reference": "Practitioner/f202", "display": "Luigi Maas"},
            "required": "required",
            "status": "accepted",
        },
    )
    return body


def hl7_request(pid: str, hsa: str) -> dict[str, Any]:
    """HL7's `appointment-example-request.json` (R4): a proposed appointment with no start,
    only the period asked for, a WALKIN type, a slot and a business identifier."""
    return {
        "resourceType": "Appointment",
        "id": "examplereq",
        "identifier": [
            {"system": "http://example.org/sampleappointment-identifier", "value": "123"}
        ],
        "status": "proposed",
        **_gp({}),
        "appointmentType": {
            "coding": [
                {
                    "system": V2_0276,
                    "code": "WALKIN",
                    "display": "A previously unscheduled walk-in visit",
                }
            ]
        },
        "reasonCode": [
            {
                "coding": [{"system": "http://snomed.info/sct", "code": "413095006"}],
                "text": "Clinical Review",
            }
        ],
        "priority": 5,
        "description": "Discussion on the results of your recent MRI",
        "minutesDuration": 15,
        "slot": [{"reference": "Slot/example"}],
        "created": "2015-12-02",
        "comment": "Further expand on the results of the MRI and determine the next actions "
        "that may be appropriate.",
        "participant": [
            {
                "actor": {"reference": f"Patient/{pid}", "display": "Peter James Chalmers"},
                "required": "required",
                "status": "needs-action",
            },
            {
                "type": [{"coding": [{"system": PARTICIPATION_TYPE, "code": "ATND"}]}],
                "required": "required",
                "status": "needs-action",
            },
            {
                "actor": {
                    "reference": "Location/1",
                    "identifier": {"system": HSA, "value": hsa},
                    "display": "South Wing, second floor",
                },
                "required": "required",
                "status": "accepted",
            },
        ],
        "requestedPeriod": [{"start": "2030-06-02", "end": "2030-06-09"}],
    }


def cosmic(pid: str, hsa: str, start: str, end: str, code: str = "NYBESOK") -> dict[str, Any]:
    """An Appointment as Cosmic's open services shape it: Cosmic's own visit-type code, the
    patient and the unit contained, a room without an HSA-id, the care provider as an
    Organization, a practitioner by HSA-id without a type."""
    return {
        "resourceType": "Appointment",
        "id": "cosmic-4711",
        "meta": {"lastUpdated": "2026-11-02T07:59:00+01:00"},
        "contained": [
            {
                "resourceType": "Patient",
                "id": "pat",
                "identifier": [{"system": PNR_OID, "value": pid}],
            },
            {
                "resourceType": "HealthcareService",
                "id": "unit",
                "identifier": [{"system": HSA_OID, "value": hsa}],
                "name": "Mottagningen",
            },
        ],
        "identifier": [{"system": "urn:oid:1.2.752.74.1.2.3", "value": "4711"}],
        "status": "booked",
        "appointmentType": {
            "coding": [{"system": "urn:oid:1.2.752.74.9.1", "code": code, "display": "Nybesök"}]
        },
        "start": start,
        "end": end,
        "created": "2026-10-20T10:12:00+02:00",
        "participant": [
            {"actor": {"reference": "#pat"}, "status": "accepted"},
            {"actor": {"reference": "#unit"}, "status": "accepted"},
            {
                "actor": {"reference": "Location/rum-12", "display": "Rum 12"},
                "status": "accepted",
            },
            {
                "actor": {
                    "type": "Organization",
                    "identifier": {"system": HSA, "value": REGION_HSA},
                    "display": "Region Halland",
                },
                "status": "accepted",
            },
            {
                "type": [{"coding": [{"system": PARTICIPATION_TYPE, "code": "PPRF"}]}],
                "actor": {
                    "identifier": {"system": HSA, "value": "SE2321000115-P000000042"},
                    "display": "Dr Doktorsson",
                },
                "status": "accepted",
            },
        ],
    }


def se_patient(pid: str, **extra: Any) -> dict[str, Any]:
    """A Patient after HL7 Sweden's base profile (SEBasePatient): personnummer, the official
    name, the mobile number."""
    return {
        "resourceType": "Patient",
        "id": pid,
        "meta": {"profile": ["http://hl7.se/fhir/ig/base/StructureDefinition/SEBasePatient"]},
        "identifier": [{"system": PNR, "value": pid}],
        "name": [{"use": "official", "family": "Svensson", "given": ["Anna", "Maria"]}],
        "telecom": [{"system": "phone", "use": "mobile", "value": "+46701234567"}],
        "gender": "female",
        **extra,
    }
