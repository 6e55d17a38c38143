"""Writes of who may use the system: API clients and their keys, staff users. Each
service is one transaction and says what it guarantees."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.contrib.auth.models import Group
from django.db import transaction

from .. import identity
from ..errors import DomainError
from ..models import (
    ApiClient,
    Clinic,
    Scope,
    StaffIdentity,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractUser


@transaction.atomic
def api_client_create(*, name: str, scopes: Iterable[str]) -> tuple[ApiClient, str]:
    """Creates an API client and returns it with its key, which is never stored."""
    scopes = sorted(set(scopes))
    unknown = [s for s in scopes if s not in Scope.values]
    if unknown:
        raise DomainError(
            f"Unknown scope(s): {', '.join(unknown)}. Known: {', '.join(Scope.values)}.",
            field="scopes",
        )
    if not name.strip():
        raise DomainError("The name must not be empty.", field="name")
    if ApiClient.objects.filter(name=name).exists():
        raise DomainError(f"An API client named {name!r} already exists.", field="name")
    prefix, key = ApiClient.generate_key()
    client = ApiClient.objects.create(
        name=name, key_prefix=prefix, key_hash=ApiClient.hash_key(key), scopes=scopes
    )
    return client, key


@transaction.atomic
def staff_user_upsert(
    *,
    username: str,
    password: str,
    role: str,
    clinics: Iterable[Clinic],
    hsa_id: str = "",
    **names: str,
) -> AbstractUser:
    """A staff user with exactly one role (a group) working at the given clinics, and the
    person's HSA-id that the login through the region's identity provider matches."""
    from django.contrib.auth import get_user_model

    User = get_user_model()
    user, _ = User.objects.get_or_create(username=username)
    user.set_password(password)
    for key, value in names.items():
        setattr(user, key, value)
    user.is_staff = role == "regional_admin"  # the admin site is the regional admins' tool
    user.save()
    user.groups.set([Group.objects.get(name=role)])
    user.clinics.set(list(clinics))  # type: ignore[attr-defined]
    if hsa_id:
        StaffIdentity.objects.update_or_create(
            user=user, defaults={"hsa_id": identity.parse_hsa_id(hsa_id)}
        )
    return user  # type: ignore[return-value]


def api_client_deactivate(*, client: ApiClient) -> None:
    """The client's key stops working at once."""
    ApiClient.objects.filter(pk=client.pk).update(is_active=False)


@transaction.atomic
def api_client_rotate_key(*, client: ApiClient) -> str:
    """A new key for the client; the old one stops working at once."""
    prefix, key = ApiClient.generate_key()
    ApiClient.objects.filter(pk=client.pk).update(
        key_prefix=prefix, key_hash=ApiClient.hash_key(key)
    )
    return key
