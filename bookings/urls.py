from django.urls import path

from . import api, views

api_patterns = [
    path("clinics/<str:hsa_id>/", api.ClinicUpsertApi.as_view(), name="api-clinic"),
    path("patients/<str:personal_id>/", api.PatientSyncApi.as_view(), name="api-patient"),
    path("appointments/<str:external_id>/", api.AppointmentApi.as_view(), name="api-appointment"),
]

urlpatterns = [
    path("clinic/", views.choose_clinic, name="choose-clinic"),
]
