"""API authentication: `Authorization: Bearer <key>` against hashed keys, and scopes."""

from __future__ import annotations

import hmac
from typing import Any

from django.utils import timezone
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from . import sql
from .models import ApiClient


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[ApiClient, ApiClient] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        keyword, _, key = header.partition(" ")
        key = key.strip()
        if keyword != self.keyword or not key:
            raise exceptions.AuthenticationFailed("Use the header 'Authorization: Bearer <key>'.")
        client = sql.active_client(key.partition(".")[0])
        if client is None or not hmac.compare_digest(client.key_hash, ApiClient.hash_key(key)):
            raise exceptions.AuthenticationFailed("The API key is not valid.")
        now = timezone.now()
        # Touch at most once a minute: no write on every request.
        if client.last_used_at is None or (now - client.last_used_at).total_seconds() > 60:
            ApiClient.objects.filter(pk=client.pk).update(last_used_at=now)
        return client, client

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class HasScope(permissions.BasePermission):
    """The view's `required_scopes`: the client needs any one of them."""

    message = "The API client lacks the scope this endpoint needs."

    def has_permission(self, request: Request, view: Any) -> bool:
        client = request.auth
        if not isinstance(client, ApiClient):
            raise exceptions.NotAuthenticated("Send 'Authorization: Bearer <key>'.")
        required: tuple[str, ...] = getattr(view, "required_scopes", ())
        if not required:
            return False  # an endpoint that forgot its scopes is closed, not open
        if any(client.has_scope(scope) for scope in required):
            return True
        self.message = f"This endpoint needs the scope {' or '.join(required)}."
        return False
