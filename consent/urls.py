from django.urls import path

from . import api

api_patterns = [
    path(
        "patients/<str:personal_id>/sms-status/",
        api.SmsStatusApi.as_view(),
        name="api-patient-sms-status",
    ),
]
