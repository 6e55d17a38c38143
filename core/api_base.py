"""What every app's API endpoints are built from: the base view and the problem+json
schema of errors."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.cache import add_never_cache_headers
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .ratelimit import limit_wait


class BodyTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = "Begäran är för stor."
    default_code = "too_large"


class TooManyRequests(exceptions.Throttled):
    default_detail = "För många anrop. Försök igen om en stund."
    default_code = "too_many_requests"


class ApiView(APIView):
    """Base of every API view: after authentication, refuses query parameters the
    operation does not define (a typo in `?clinic=` is an error, not silently ignored).
    No answer is kept by a cache on the way (rules 3.10): they hold patients' data, and an
    error names what was asked for."""

    query_parameters: tuple[str, ...] = ()
    # The setting that caps a request body's size for this view (413 beyond it).
    max_body_setting = "API_MAX_BODY_BYTES"

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        add_never_cache_headers(response)
        return response

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = min(getattr(settings, self.max_body_setting), settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        if length > limit:
            raise BodyTooLarge
        super().initial(request, *args, **kwargs)
        client = request.auth
        if client is not None and hasattr(client, "key_prefix"):  # an API client's key
            wait = limit_wait("api", str(client.pk), settings.API_RATE_LIMIT)
            if wait is not None:
                raise TooManyRequests(wait=wait)
        unknown = sorted(set(request.query_params) - set(self.query_parameters))
        if unknown:
            raise serializers.ValidationError(
                {
                    name: [serializers.ErrorDetail("Okänd parameter.", code="unknown_parameter")]
                    for name in unknown
                }
            )


class ProblemErrorSerializer(serializers.Serializer[dict[str, Any]]):
    field = serializers.CharField()
    code = serializers.CharField()
    message = serializers.CharField()


class ProblemSerializer(serializers.Serializer[dict[str, Any]]):
    """RFC 9457 problem details."""

    type = serializers.CharField()
    status = serializers.IntegerField()
    title = serializers.CharField()
    detail = serializers.CharField()
    errors = ProblemErrorSerializer(many=True)  # type: ignore[assignment]


def problems(*codes: int) -> dict[Any, Any]:
    """The problem+json responses an operation can give, for the schema."""
    return {(code, "application/problem+json"): ProblemSerializer for code in codes}
