"""Logging in through the region's identity provider (OpenID Connect, as regions offer
SITHS eID), by mozilla-django-oidc.

The provider says who is at the keyboard; this system says what they may do. A person is
matched to their staff user by one claim (`OIDC_HSA_ID_CLAIM`, the person's HSA-id) and
nothing else: no user is ever created from a login, a claim that matches nobody (or a
deactivated user) is refused, and roles and clinics are never taken from the provider.

While the provider is configured, local passwords are the break-glass way in for
regional administrators only; without it (the demo, a laptop) everyone logs in with a
password."""

from __future__ import annotations

import logging
import time
from typing import Any, cast

import jwt
import requests
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.views import LoginView
from django.core.checks import CheckMessage, Error
from django.core.exceptions import SuspiciousOperation
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import resolve_url
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import (
    OIDCAuthenticationCallbackView,
    OIDCAuthenticationRequestView,
)

from . import sql
from .staff import Role, has_role
from .totp import totp_required, totp_verify

logger = logging.getLogger(__name__)

# What the region must configure for a login through its provider (operations 1).
REQUIRED_SETTINGS = (
    "OIDC_OP_ISSUER",
    "OIDC_RP_CLIENT_SECRET",
    "OIDC_OP_AUTHORIZATION_ENDPOINT",
    "OIDC_OP_TOKEN_ENDPOINT",
    "OIDC_OP_USER_ENDPOINT",
    "OIDC_OP_JWKS_ENDPOINT",
)


def oidc_enabled() -> bool:
    """The provider is configured: a client id names this system at the provider."""
    return bool(getattr(settings, "OIDC_RP_CLIENT_ID", ""))


def hsa_id_from_claims(claims: dict[str, Any]) -> str | None:
    """The person's HSA-id as stored on staff identities (upper case, no spaces). Its form
    is checked where a regional admin registers it; a claim of any other form matches
    nobody."""
    raw = claims.get(settings.OIDC_HSA_ID_CLAIM)
    if not isinstance(raw, str) or not raw.strip():
        return None
    return raw.strip().upper()


class StaffOIDCBackend(OIDCAuthenticationBackend):
    """Matches the provider's person to a staff user by HSA-id; never creates one."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.enabled = oidc_enabled()
        self.UserModel = get_user_model()  # sessions made by this backend stay readable
        if self.enabled:
            super().__init__(*args, **kwargs)

    def authenticate(self, request: HttpRequest | None, **kwargs: Any) -> Any:
        if not self.enabled:
            return None
        try:
            return super().authenticate(request, **kwargs)
        except (requests.RequestException, SuspiciousOperation, jwt.PyJWTError, ValueError):
            # The provider unreachable, or its answer not one we can trust: nobody logs in,
            # and the person is told it was the provider, not them.
            logger.warning("login through the identity provider failed", exc_info=True)
            if request is not None:
                request.oidc_provider_failed = True  # type: ignore[attr-defined]
            return None

    def verify_token(self, token: Any, **kwargs: Any) -> Any:
        """The signature and the nonce (the library's checks), then the ID token's own
        claims, which the library leaves unchecked (issue 29.9): issued by our provider
        (`iss`), for this system (`aud`, and `azp` when it names several), not expired
        (`exp`) and issued just now (`iat`), with a minute's leeway for clocks."""
        payload = super().verify_token(token, **kwargs)
        id_token_claims_check(payload, now=time.time())
        return payload

    def retrieve_matching_jwk(self, token: Any) -> Any:
        # A provider with one signing key may leave out the key id: match on the
        # algorithm alone then (the signature is still verified with the key).
        if "kid" in jwt.get_unverified_header(token):
            return super().retrieve_matching_jwk(token)
        keys = requests.get(
            self.OIDC_OP_JWKS_ENDPOINT, timeout=settings.OIDC_TIMEOUT, verify=True
        ).json()["keys"]
        matching = [
            key for key in keys if key.get("alg", self.OIDC_RP_SIGN_ALGO) == self.OIDC_RP_SIGN_ALGO
        ]
        if len(matching) != 1:
            raise SuspiciousOperation("no single signing key for a token without a key id")
        return jwt.PyJWK(matching[0])

    def get_user(self, user_id: Any) -> Any:
        # As for password sessions: a user deactivated here is logged out at once.
        return session_user(self, user_id)

    def verify_claims(self, claims: dict[str, Any]) -> bool:
        return hsa_id_from_claims(claims) is not None

    def filter_users_by_claims(self, claims: dict[str, Any]) -> models.QuerySet[Any]:
        hsa_id = hsa_id_from_claims(claims)
        users = self.UserModel.objects.filter(staff_identity__hsa_id=hsa_id, is_active=True)
        if not users.exists():
            logger.warning("login refused: no active staff user has the provider's HSA-id")
        return users

    def create_user(self, claims: dict[str, Any]) -> Any:
        # Unreachable while OIDC_CREATE_USER is False; a second lock on the same door.
        return None

    def update_user(self, user: Any, claims: dict[str, Any]) -> Any:
        # Roles, clinics and names are kept here: the provider changes nothing.
        return user


CLOCK_LEEWAY = 60  # seconds between our clock and the provider's


def id_token_claims_check(claims: dict[str, Any], *, now: float) -> None:
    """Raises SuspiciousOperation unless the ID token is our provider's, for us, and
    current (OpenID Connect Core 3.1.3.7)."""
    client_id = settings.OIDC_RP_CLIENT_ID
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    problems = []
    if claims.get("iss") != settings.OIDC_OP_ISSUER:
        problems.append("iss")
    if client_id not in audiences or (len(audiences) > 1 and claims.get("azp") != client_id):
        problems.append("aud")
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, (int, float)) or exp + CLOCK_LEEWAY < now:
        problems.append("exp")
    if (
        not isinstance(iat, (int, float))
        or iat > now + CLOCK_LEEWAY
        or now - iat > settings.OIDC_ID_TOKEN_MAX_AGE
    ):
        problems.append("iat")
    if problems:
        raise SuspiciousOperation(f"ID token refused: {', '.join(problems)}")


def session_user(backend: ModelBackend, user_id: Any) -> Any:
    """ModelBackend.get_user, the user read by a prepared statement on PostgreSQL (every
    staff request reads it; core/sql.py): None for a user gone or deactivated."""
    user = sql.user_get(user_id)
    return user if user is not None and backend.user_can_authenticate(user) else None


class BreakGlassModelBackend(ModelBackend):
    """Password login: everyone when there is no identity provider; with one, regional
    administrators only (the way in when the provider is down)."""

    def get_user(self, user_id: Any) -> Any:
        return session_user(self, user_id)

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            return None
        # Regional admins and superusers add the code of their authenticator app
        # (PASSWORD_LOGIN_TOTP): a wrong or missing code is a failed login like a wrong
        # password, counted by the lock-out.
        if totp_required(user):
            code = kwargs.get("otp") or (request.POST.get("otp") if request is not None else None)
            if not totp_verify(user, code):
                logger.warning("password login refused: no valid one-time code")
                return None
        if not oidc_enabled():
            return user
        if user.is_superuser or has_role(user, Role.REGIONAL_ADMIN):
            logger.warning("break-glass password login by a regional administrator")
            return user
        return None


class LoginPage(LoginView):
    """The login page: SITHS eID first when the provider is configured, the password form
    below it (break-glass), or the password form alone."""

    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "oidc_enabled": oidc_enabled()}


class LoginStart(OIDCAuthenticationRequestView):
    """Sends the browser to the provider; a 404 while none is configured."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if oidc_enabled():
            super().__init__(*args, **kwargs)

    def get(self, request: HttpRequest) -> HttpResponse:
        if not oidc_enabled():
            raise Http404
        return cast(HttpResponse, super().get(request))


class LoginCallback(OIDCAuthenticationCallbackView):
    """Back from the provider: logged in, or told in Swedish why not."""

    def get(self, request: HttpRequest) -> HttpResponse:
        if not oidc_enabled():
            raise Http404
        return cast(HttpResponse, super().get(request))

    @property
    def failure_url(self) -> str:
        return resolve_url(settings.LOGIN_URL)

    def login_failure(self) -> HttpResponse:
        if getattr(self.request, "oidc_provider_failed", False):
            text = (
                "Inloggningen med SITHS eID gick inte igenom: regionens inloggningstjänst "
                "svarade inte som väntat. Försök igen om en stund."
            )
        else:
            text = (
                "Inloggningen med SITHS eID gick inte igenom: ditt HSA-id är inte kopplat "
                "till någon aktiv användare i systemet. Kontakta regionens SMS-grupp."
            )
        messages.error(self.request, text)
        return HttpResponseRedirect(self.failure_url)


def check_oidc_settings(**kwargs: Any) -> list[CheckMessage]:
    """With a client id, every endpoint and the secret must be there too."""
    if not oidc_enabled():
        return []
    missing = [name for name in REQUIRED_SETTINGS if not getattr(settings, name, "")]
    return [
        Error(
            f"{name} saknas: inloggning via regionens identitetsleverantör kräver den "
            "när OIDC_RP_CLIENT_ID är satt.",
            id="core.E001",
        )
        for name in missing
    ]
