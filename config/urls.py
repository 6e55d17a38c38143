from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

import bookings.urls
import consent.urls
import reminders.urls
import reporting.urls

from . import views

api_v1 = [
    *bookings.urls.api_patterns,
    *consent.urls.api_patterns,
    *reminders.urls.api_patterns,
]

urlpatterns = [
    path("", views.home, name="home"),
    path("", include(bookings.urls.urlpatterns)),
    path("", include(consent.urls.urlpatterns)),
    path("", include(reminders.urls.urlpatterns)),
    path("", include(reporting.urls.urlpatterns)),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
]

handler404 = "config.views.not_found"
handler500 = "config.views.server_error"
