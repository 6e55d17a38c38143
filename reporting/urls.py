from django.urls import path

from . import views

urlpatterns = [
    path("reports/migration-exclusions/", views.exclusions, name="report-exclusions"),
    path("reports/migration-exclusions.csv", views.exclusions_csv, name="report-exclusions-csv"),
    path("reports/migration-exclusions.xlsx", views.exclusions_xlsx, name="report-exclusions-xlsx"),
    path(
        "reports/migration-exclusions/<str:hsa_id>/",
        views.exclusions_clinic,
        name="report-exclusions-clinic",
    ),
    path(
        "reports/migration-exclusions/<str:hsa_id>.csv",
        views.exclusions_clinic_csv,
        name="report-exclusions-clinic-csv",
    ),
    path(
        "reports/migration-exclusions/<str:hsa_id>.xlsx",
        views.exclusions_clinic_xlsx,
        name="report-exclusions-clinic-xlsx",
    ),
    path("reports/caught-since/", views.caught, name="report-caught"),
    path("reports/", views.dashboard, name="report-dashboard"),
]
