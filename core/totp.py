"""The second factor of break-glass password logins (issue 29.9; SPEC 5.4
PASSWORD_LOGIN_TOTP): time-based one-time codes (RFC 6238: HMAC-SHA1, 30-second steps,
six digits), as every authenticator app makes them. A code is accepted one step either
side of ours (clocks drift) and only once (a step used is remembered)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
import time
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.db import transaction

from .staff import Role, has_role

STEP = 30
DIGITS = 6


def code_at(secret: str, step: int) -> str:
    """The code of `secret` (base32) for time step `step` (RFC 4226's truncation)."""
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**DIGITS).zfill(DIGITS)


def new_secret() -> str:
    return base64.b32encode(secrets.token_bytes(20)).decode().rstrip("=")


def provisioning_uri(secret: str, username: str) -> str:
    """What an authenticator app reads (as a QR code or typed in)."""
    label = quote(f"Sms-påminnelser:{username}")
    return f"otpauth://totp/{label}?secret={secret}&issuer=Sms-p%C3%A5minnelser&digits=6&period=30"


def totp_required(user: Any) -> bool:
    """Whether this user's password login needs a code: regional admins and superusers,
    while PASSWORD_LOGIN_TOTP is on."""
    return bool(settings.PASSWORD_LOGIN_TOTP) and (
        user.is_superuser or has_role(user, Role.REGIONAL_ADMIN)
    )


def totp_verify(user: Any, code: Any, *, now: float | None = None) -> bool:
    """Whether `code` is the user's current code, not used before; a code that passes is
    spent. False without an enrolled device."""
    from .models import TotpDevice

    if not isinstance(code, str):
        return False
    code = code.replace(" ", "")
    if len(code) != DIGITS or not code.isdigit():
        return False
    step_now = int((time.time() if now is None else now) // STEP)
    with transaction.atomic():
        device = TotpDevice.objects.select_for_update().filter(user=user).first()
        if device is None:
            return False
        for step in (step_now - 1, step_now, step_now + 1):
            if step > device.last_step and hmac.compare_digest(code_at(device.secret, step), code):
                device.last_step = step
                device.save(update_fields=["last_step"])
                return True
    return False


def totp_enrol(user: Any) -> str:
    """Gives the user a new secret (replacing any before) and returns it."""
    from .models import TotpDevice

    secret = new_secret()
    TotpDevice.objects.update_or_create(user=user, defaults={"secret": secret, "last_step": 0})
    return secret
