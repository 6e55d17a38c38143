"""The region's identity provider in tests: a real OpenID Connect provider on a local port
(oidc-provider-mock), and the settings that point this system at it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from oidc_provider_mock import User as ProviderUser
from oidc_provider_mock import run_server_in_thread

__all__ = ["ProviderUser", "identity_provider"]


@contextmanager
def identity_provider(settings: Any, people: Sequence[ProviderUser]) -> Iterator[str]:
    """Run a provider that knows `people`, configure the login for it, yield its URL."""
    with run_server_in_thread(user_claims=people) as server:
        base = f"http://localhost:{server.server_port}"
        settings.OIDC_RP_CLIENT_ID = "sms-paminnelser"
        settings.OIDC_RP_CLIENT_SECRET = "client-secret-for-tests"
        settings.OIDC_OP_AUTHORIZATION_ENDPOINT = f"{base}/oauth2/authorize"
        settings.OIDC_OP_TOKEN_ENDPOINT = f"{base}/oauth2/token"
        settings.OIDC_OP_USER_ENDPOINT = f"{base}/userinfo"
        settings.OIDC_OP_JWKS_ENDPOINT = f"{base}/jwks"
        settings.OIDC_OP_ISSUER = base
        yield base
