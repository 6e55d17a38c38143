"""Tells drf-spectacular how the API authenticates: a bearer key."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "bookings.auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API client's key: `Authorization: Bearer <key>`. "
            "Keys carry scopes; `manage.py create_api_client` makes one.",
        }
