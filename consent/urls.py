from django.urls import path

from . import api, views

api_patterns = [
    path(
        "patients/<str:personal_id>/sms-status/",
        api.SmsStatusApi.as_view(),
        name="api-patient-sms-status",
    ),
    path("eservice/cases/", api.CaseCreateApi.as_view(), name="api-eservice-cases"),
    path("eservice/cases/<int:id>/", api.CaseDetailApi.as_view(), name="api-eservice-case"),
]

urlpatterns = [
    path("patients/", views.patient_search, name="patient-search"),
    path("patients/<str:personal_id>/", views.patient_detail, name="patient"),
    path("patients/<str:personal_id>/<str:action>/", views.patient_action, name="patient-action"),
    path("cases/", views.case_queue, name="cases"),
    path("cases/<int:case_id>/", views.case_detail, name="case"),
    path("cases/<int:case_id>/<str:outcome>/", views.case_decide, name="case-decide"),
    path("audit/", views.audit, name="audit"),
    path("desk/", views.desk, name="desk"),
    path("desk/<int:appointment_id>/arrive/", views.desk_arrive, name="desk-arrive"),
    path("desk/<int:appointment_id>/no-show/", views.desk_no_show, name="desk-no-show"),
    path("clinic/", views.choose_clinic, name="choose-clinic"),
]
