"""Every route of the system, and `GET /bench/ping/`: the same bearer authentication and
scope check as the API, and nothing else (the baseline of bench/api.py)."""

from typing import Any

from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response

from bookings.api_base import ApiView
from bookings.models import Scope
from config.urls import urlpatterns as system_urls


class Ping(ApiView):
    required_scopes = (Scope.STATUS_READ,)

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response({"ok": True})


urlpatterns = [path("bench/ping/", Ping.as_view()), *system_urls]
handler404 = "config.views.not_found"
handler500 = "config.views.server_error"
