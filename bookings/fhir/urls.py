from django.urls import path, re_path

from . import api, views

urlpatterns = [
    path("", api.FhirBundleApi.as_view(), name="fhir-bundle"),
    path("metadata", api.FhirMetadataApi.as_view(), name="fhir-metadata"),
    path("Appointment", api.FhirAppointmentTypeApi.as_view(), name="fhir-appointments"),
    path("Appointment/<str:id>", api.FhirAppointmentApi.as_view(), name="fhir-appointment"),
    path("Patient/<str:personal_id>", api.FhirPatientApi.as_view(), name="fhir-patient"),
    path("RelatedPerson/<str:id>", api.FhirRelatedPersonApi.as_view(), name="fhir-related-person"),
    path(
        "StructureDefinition",
        api.FhirStructureDefinitionSearchApi.as_view(),
        name="fhir-structure-definitions",
    ),
    path(
        "StructureDefinition/<str:id>",
        api.FhirStructureDefinitionApi.as_view(),
        name="fhir-structure-definition",
    ),
    # Any other resource or interaction: an OperationOutcome, not the site's 404 page (and
    # never Django's CSRF page: nothing under /fhir/ answers HTML).
    re_path(r"^.*$", views.not_supported, name="fhir-not-supported"),
]
