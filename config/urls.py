from csp.decorators import csp_exempt
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

import bookings.fhir.api
import bookings.fhir.urls
import bookings.urls
import consent.urls
import reminders.urls
import reporting.urls
from core.oidc import LoginCallback, LoginPage, LoginStart

from . import operations, views

api_v1 = [
    *bookings.urls.api_patterns,
    *consent.urls.api_patterns,
    *reminders.urls.api_patterns,
]

# The admin in Swedish from its first line (Django's default header is "Django administration").
admin.site.site_header = "Sms-påminnelser – administration"
admin.site.site_title = "Sms-påminnelser"
admin.site.index_title = "Administration"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", operations.healthz, name="healthz"),
    path("readyz", operations.readyz, name="readyz"),
    path("metrics", operations.metrics, name="metrics"),
    path("", include(bookings.urls.urlpatterns)),
    path("", include(consent.urls.urlpatterns)),
    path("", include(reminders.urls.urlpatterns)),
    path("", include(reporting.urls.urlpatterns)),
    # Login, logout and changing one's password; no reset by e-mail (none is configured,
    # and the region's identity provider is where staff recover access).
    path("accounts/login/", LoginPage.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/password_change/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "accounts/password_change/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    # Login through the region's identity provider (OpenID Connect); 404 when none is set.
    path("oidc/authenticate/", LoginStart.as_view(), name="oidc_authentication_init"),
    path("oidc/callback/", LoginCallback.as_view(), name="oidc_authentication_callback"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    # HL7 FHIR R4 beside the JSON API, on the same services (contract 2).
    path("fhir", bookings.fhir.api.FhirBaseBundleApi.as_view()),  # the base, no slash
    path("fhir/", include(bookings.fhir.urls.urlpatterns)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its start-up script as a file: no inline script, CSP holds.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    # ReDoc starts from an inline script of drf-spectacular's template: this page only.
    path(
        "api/redoc/",
        csp_exempt()(SpectacularRedocView.as_view(url_name="api-schema")),
        name="api-redoc",
    ),
]

handler404 = "config.views.not_found"
handler500 = "config.views.server_error"
