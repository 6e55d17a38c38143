from django.urls import path

from . import api, views
from .access import alert_views, check_views, extract_views
from .access import api as access_api
from .access import views as access_views
from .cases import api as cases_api
from .cases import views as cases_views
from .desk import views as desk_views

api_patterns = [
    path("access-log/", access_api.AccessLogApi.as_view(), name="api-access-log"),
    path(
        "patients/<str:personal_id>/sms-status/",
        api.SmsStatusApi.as_view(),
        name="api-patient-sms-status",
    ),
    path("eservice/cases/", cases_api.CaseCreateApi.as_view(), name="api-eservice-cases"),
    path("eservice/cases/<int:id>/", cases_api.CaseDetailApi.as_view(), name="api-eservice-case"),
]

urlpatterns = [
    path("patients/", views.patient_search, name="patient-search"),
    # Addressed by the patient's random page key: no personnummer in a back-office URL
    # (operations 3), and no sequential id that could be guessed or walked (the old
    # /patients/<id>/ answers 404).
    path("patients/<uuid:page_key>/", views.patient_detail, name="patient"),
    path("patients/<uuid:page_key>/<str:action>/", views.patient_action, name="patient-action"),
    path("cases/", cases_views.case_queue, name="cases"),
    path("cases/<int:case_id>/", cases_views.case_detail, name="case"),
    path("cases/<int:case_id>/<str:outcome>/", cases_views.case_decide, name="case-decide"),
    path("audit/", access_views.audit, name="audit"),
    path("audit/alerts/", alert_views.alerts, name="audit-alerts"),
    path("audit/extract/", extract_views.extract_start, name="audit-extract-start"),
    # The patient by an opaque id: the personnummer is given by POST (operations 3).
    path("audit/extract/<int:patient_id>/", extract_views.extract, name="audit-extract"),
    path("audit/checks/", check_views.checks, name="audit-checks"),
    path("audit/checks/<int:check_id>/", check_views.check_detail, name="audit-check"),
    path(
        "audit/checks/<int:check_id>/<int:item_id>/review/",
        check_views.check_review,
        name="audit-check-review",
    ),
    path("desk/", desk_views.desk, name="desk"),
    path("desk/<int:appointment_id>/arrive/", desk_views.desk_arrive, name="desk-arrive"),
    path("desk/<int:appointment_id>/no-show/", desk_views.desk_no_show, name="desk-no-show"),
    path("desk/<int:appointment_id>/undo/", desk_views.desk_undo_view, name="desk-undo"),
    path(
        "desk/<int:appointment_id>/guardian-number/",
        desk_views.desk_guardian_number,
        name="desk-guardian-number",
    ),
]
