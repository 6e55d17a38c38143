"""The login lock-out (rules 3.10), on django-axes' database handler, with two limits:

- a person who types a wrong password AXES_FAILURE_LIMIT times is locked out *at that
  address* (the lock-out parameters are the pair username + address): their colleagues
  behind the same address (a clinic's NAT) log in as usual, and nobody elsewhere can
  keep a regional admin's break-glass account locked;
- an address from which LOGIN_ADDRESS_FAILURE_LIMIT logins failed, whatever the names,
  is locked for everyone (one password tried against many names).

Both count the failures within AXES_COOLOFF_TIME, in the database (every process sees the
same counts); a successful login clears its own pair's failures only. They lock password
logins only: SITHS eID (the identity provider's callback) is another way in, which a
password-guesser at a clinic's address must not close for everyone there."""

from __future__ import annotations

from typing import Any, cast

from axes.attempts import get_cool_off_threshold
from axes.backends import AxesStandaloneBackend
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_failure_limit
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest


def login_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str | None:
    """The name a login tried, as axes records it: at most 150 characters, a username's
    longest (Django's login forms do not refuse longer ones, and axes' column is 255)."""
    source: Any = credentials or getattr(request, "data", request.POST)
    name = source.get("username") if source else None
    return name[:150] if isinstance(name, str) else name


def address_failures(request: HttpRequest) -> int:
    """Failed logins from the request's address within the cool-off time, any name."""
    attempts = AccessAttempt.objects.filter(
        ip_address=request.axes_ip_address,  # type: ignore[attr-defined]
        attempt_time__gte=get_cool_off_threshold(request),
    )
    return int(attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0)


class PairAndAddressLockout(AxesDatabaseHandler):
    """axes asks `get_failures` before each login (is the client locked?) and after each
    failure (does this one lock it?), and compares it with AXES_FAILURE_LIMIT."""

    def get_failures(self, request: Any, credentials: dict[str, Any] | None = None) -> int:
        pair: int = super().get_failures(request, credentials)
        if address_failures(request) >= settings.LOGIN_ADDRESS_FAILURE_LIMIT:
            return max(pair, cast(int, get_failure_limit(request, credentials)))
        return pair


class PasswordLoginLockout(AxesStandaloneBackend):
    """axes' guard in front of the other backends, for password logins only: a login
    through the identity provider (no password) is not refused by a password lock-out."""

    def authenticate(
        self,
        request: HttpRequest,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        if password is None:
            return None  # not a password login: the next backends decide
        return super().authenticate(request, username, password, **kwargs)
