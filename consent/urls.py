from django.urls import path

from . import api

api_patterns = [
    path(
        "patients/<str:personal_id>/sms-status/",
        api.SmsStatusApi.as_view(),
        name="api-patient-sms-status",
    ),
    path("eservice/cases/", api.CaseCreateApi.as_view(), name="api-eservice-cases"),
    path("eservice/cases/<int:id>/", api.CaseDetailApi.as_view(), name="api-eservice-case"),
]
