"""Every route of the system, and `GET /bench/ping/`: the same bearer authentication and
scope check as the API, and nothing else (the baseline of bench/api.py)."""

from typing import Any

from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response

from config.urls import urlpatterns as system_urls
from core.api_base import ApiView
from core.models import Scope


class Ping(ApiView):
    required_scopes = (Scope.STATUS_READ,)

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response({"ok": True})


urlpatterns = [path("bench/ping/", Ping.as_view()), *system_urls]
handler404 = "config.views.not_found"
handler500 = "config.views.server_error"
