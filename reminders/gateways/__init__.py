"""SMS gateways are plug-ins behind one small interface (SPEC 4). Adding one is one module
with a `Gateway` subclass, named in `GATEWAYS` or by its dotted path in `SMS_GATEWAY`."""

from __future__ import annotations

from .base import (
    DeliveryUpdate,
    Gateway,
    OutgoingSms,
    SendResult,
    TemporaryGatewayError,
    get_gateway,
)

__all__ = [
    "DeliveryUpdate",
    "Gateway",
    "OutgoingSms",
    "SendResult",
    "TemporaryGatewayError",
    "get_gateway",
]
