from django.urls import path, re_path

from . import api, views

urlpatterns = [
    path("metadata", api.FhirMetadataApi.as_view(), name="fhir-metadata"),
    path("Appointment/<str:id>", api.FhirAppointmentApi.as_view(), name="fhir-appointment"),
    path("Patient/<str:personal_id>", api.FhirPatientApi.as_view(), name="fhir-patient"),
    # Any other resource or interaction: an OperationOutcome, not the site's 404 page.
    re_path(r"^.*$", views.not_supported, name="fhir-not-supported"),
]
