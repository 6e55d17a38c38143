"""Writes of the API clients: a client and its key, deactivation, a new key. Each service
is one transaction and says what it guarantees."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from .errors import DomainError
from .models import ApiClient, Scope


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


def api_client_deactivate(*, client: ApiClient) -> None:
    """The client's key stops working at once."""
    ApiClient.objects.filter(pk=client.pk).update(is_active=False)


@transaction.atomic
def api_client_key_rotate(*, client: ApiClient) -> str:
    """A new key for the client; the old one stops working at once."""
    prefix, key = ApiClient.generate_key()
    ApiClient.objects.filter(pk=client.pk).update(
        key_prefix=prefix, key_hash=ApiClient.hash_key(key)
    )
    return key
