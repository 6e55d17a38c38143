"""SMS gateways are plug-ins behind one small interface (architecture): adding one is one module
with a `Gateway` subclass, named in `GATEWAYS` or by its dotted path in `SMS_GATEWAY`.
`SMS_GATEWAY` may name fallbacks after the first (`46elks,sinch`): see chain.py."""

from __future__ import annotations

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from .base import (
    DeliveryUpdate,
    Found,
    Gateway,
    Lookup,
    Outcome,
    OutgoingSms,
    SendResult,
)

GATEWAYS = {
    "outbox": "reminders.gateways.outbox.OutboxGateway",
    "console": "reminders.gateways.console.ConsoleGateway",
    "46elks": "reminders.gateways.elks46.Elks46Gateway",
    "sinch": "reminders.gateways.sinch.SinchGateway",
}

_built: dict[str, Gateway] = {}


def gateway_names() -> list[str]:
    """The configured gateways, first choice first."""
    return [name.strip() for name in settings.SMS_GATEWAY.split(",") if name.strip()]


def gateway_class(name: str) -> type[Gateway]:
    cls: type[Gateway] = import_string(GATEWAYS.get(name, name))
    return cls


def get_gateway(name: str | None = None) -> Gateway:
    """A gateway by name (default the first configured), built once per process: it may
    hold an HTTP connection pool."""
    name = name or gateway_names()[0]
    if name not in _built:
        gateway = gateway_class(name)()
        _built[name] = gateway
    return _built[name]


def get_gateways() -> list[Gateway]:
    return [get_gateway(name) for name in gateway_names()]


@receiver(setting_changed)
def _forget_gateways(setting: str, **kwargs: object) -> None:
    if setting.startswith(("SMS_", "ELKS46_", "SINCH_", "PUBLIC_BASE_URL")):
        _built.clear()


__all__ = [
    "GATEWAYS",
    "DeliveryUpdate",
    "Found",
    "Gateway",
    "Lookup",
    "Outcome",
    "OutgoingSms",
    "SendResult",
    "get_gateway",
    "get_gateways",
]
