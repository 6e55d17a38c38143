"""Staff roles and sessions: the plumbing every app with pages imports from here.

Roles are Django groups. A page declares the roles it serves with `role_required`; each
app grants its roles the admin permissions it owns. Staff sessions end after
`SESSION_MAX_SECONDS`, and pages shown to a logged-in person are never cached. (The
clinics a user works at are the registry's: `bookings.units`.)"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from . import sql

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser, User

    class AuthedRequest(HttpRequest):
        user: User
else:
    AuthedRequest = HttpRequest


class Role(models.TextChoices):
    RECEPTION = "reception", _("Reception")
    MANAGER = "manager", _("Verksamhetschef")
    REGIONAL_ADMIN = "regional_admin", _("Regional administratör")
    AUDITOR = "auditor", _("Logggranskare")


# Who works with patients' reminders, and who reads the logs.
CARE_ROLES = (Role.RECEPTION, Role.MANAGER, Role.REGIONAL_ADMIN)
AUDIT_ROLES = (Role.AUDITOR, Role.REGIONAL_ADMIN)
REPORT_ROLES = (Role.MANAGER, Role.REGIONAL_ADMIN)


def user_roles(user: AbstractBaseUser | AnonymousUser) -> set[str]:
    if not user.is_authenticated:
        return set()
    cached = getattr(user, "_role_cache", None)
    if cached is None:
        # Read with the user on PostgreSQL (core.sql.user_get), else asked now.
        names = getattr(user, "group_names", None)
        cached = set(names) if names is not None else sql.group_names(user.pk)
        if user.is_superuser:  # type: ignore[attr-defined]
            cached.add(Role.REGIONAL_ADMIN)
        user._role_cache = cached  # type: ignore[attr-defined]
    return cached


def has_role(user: AbstractBaseUser | AnonymousUser, *roles: str) -> bool:
    return bool(user_roles(user) & set(roles))


def role_required(*roles: str) -> Callable[[Callable[..., HttpResponseBase]], Any]:
    """A page for these roles: anonymous users go to the login page, others get 403."""

    def decorate(view: Callable[..., HttpResponseBase]) -> Any:
        @login_required
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not has_role(request.user, *roles):
                raise PermissionDenied(gettext("Din roll har inte tillgång till den här sidan."))
            return view(request, *args, **kwargs)

        return wrapped

    return decorate


# Admin-site permissions per role, declared by the app that owns them: each app grants
# its own in its AppConfig.ready() (only regional admins use the admin site; the other
# roles work in the back office, whose views check roles themselves).
_PERMISSIONS: dict[str, set[str]] = {role: set() for role in Role.values}


def role_permissions_grant(role: str, permissions: list[str]) -> None:
    """Declares that `role` holds these permissions ("app_label.codename"). Called from
    the owning app's AppConfig.ready(); ensure_role_groups() writes them after migrate."""
    _PERMISSIONS[role].update(permissions)


def role_permissions() -> dict[str, list[str]]:
    return {role: sorted(perms) for role, perms in _PERMISSIONS.items()}


def ensure_role_groups(*, using: str = "default") -> None:
    """Creates the role groups and gives them their permissions (idempotent)."""
    from django.apps import apps
    from django.contrib.auth.management import create_permissions
    from django.contrib.auth.models import Group, Permission

    # Apps later in INSTALLED_APPS get their permissions after this app's post_migrate.
    for config in apps.get_app_configs():
        create_permissions(config, verbosity=0, using=using)
    for role, perms in role_permissions().items():
        group, _ = Group.objects.using(using).get_or_create(name=role)
        wanted = []
        for perm in perms:
            app_label, codename = perm.split(".")
            wanted += list(
                Permission.objects.using(using).filter(
                    content_type__app_label=app_label, codename=codename
                )
            )
        group.permissions.set(wanted)


class SessionLimitMiddleware:
    """Ends a staff session 8 hours (SESSION_MAX_SECONDS) after login, however busy it
    was: shared clinic computers must not stay logged in from one shift to the next. The
    end at browser close is the session cookie's own setting; the 30 minutes idle
    (SESSION_COOKIE_AGE) are counted from the session's last save, which this restarts
    when SESSION_REFRESH_SECONDS (a minute) have passed since the one before, instead of
    on every request: a session idle for 30 minutes then ends up to a minute early, never
    late, and the desk's requests do not write their session each time.
    Pages shown to a logged-in person hold patient data: no browser or proxy keeps them."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = time.time()
            started = request.session.setdefault("login_at", now)
            if now - float(started) > settings.SESSION_MAX_SECONDS:
                logout(request)
                return redirect_to_login(request.get_full_path())
        response = self.get_response(request)
        if user is not None and user.is_authenticated:
            add_never_cache_headers(response)
            session = request.session
            if not session.is_empty() and (
                time.time() - float(session.get("seen_at", 0)) >= settings.SESSION_REFRESH_SECONDS
            ):
                session["seen_at"] = time.time()  # saved: the idle clock starts again
        return response


def session_started(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    """At login: the start of the 8 hours (user_logged_in, connected by the app)."""
    request.session["login_at"] = time.time()


def safe_next(request: HttpRequest, default: str = "/") -> str:
    """Where `next` may send the user: only to a page of this site, by its path."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    allowed = target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if allowed else default


def client_address(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or with TRUSTED_PROXY_COUNT proxies in front the
    address the outermost of them saw (X-Forwarded-For, counted from the right, so a client
    cannot pretend to be someone else by sending the header itself)."""
    proxies: int = settings.TRUSTED_PROXY_COUNT
    if proxies:
        header: str = request.META.get("HTTP_X_FORWARDED_FOR", "")
        forwarded = [a.strip() for a in header.split(",")]
        forwarded = [a for a in forwarded if a]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return str(request.META.get("REMOTE_ADDR") or "0.0.0.0")  # noqa: S104 (no address known)
