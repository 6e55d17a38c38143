"""What the FHIR interface answers outside its endpoints."""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from .outcome import FHIR_JSON, FhirError, outcome


@csrf_exempt  # an OperationOutcome for every method: never Django's CSRF page
def not_supported(request: HttpRequest) -> HttpResponse:
    """Another resource type or interaction: 404 with an OperationOutcome."""
    issue = FhirError(
        404,
        "not-supported",
        "Finns inte: FHIR-gränssnittet har metadata, Appointment, Patient/{id}, "
        "RelatedPerson/{id}, StructureDefinition och Bundle (POST /fhir/).",
        code="not_found",
    )
    return HttpResponse(json.dumps(outcome([issue])), status=404, content_type=FHIR_JSON)
