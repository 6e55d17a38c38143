"""System checks of the payment settings (operations 1 and 8). `CHECKIN_PAYMENT` must name
a method at every start; with `swish`, `check --deploy` proves the rest before the first
patient pays: Swish's address over HTTPS, the payee alias, our callback address over
HTTPS (Swish calls only HTTPS), and the certificate, its key and Swish's CA readable and
belonging together (a TLS context is built from them, as every call to Swish builds it)."""

from __future__ import annotations

import re
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning

METHODS = ("desk", "swish")
ALIAS = re.compile(r"123\d{7}")  # a Swish merchant number (Swish-nummer)


def payment_method(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if settings.CHECKIN_PAYMENT not in METHODS:
        return [
            Error(
                f"CHECKIN_PAYMENT={settings.CHECKIN_PAYMENT!r}: use desk or swish.",
                id="reminders.E010",
            )
        ]
    return []


def swish_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """`check --deploy` with CHECKIN_PAYMENT=swish."""
    if settings.CHECKIN_PAYMENT != "swish":
        return []
    problems: list[CheckMessage] = []

    def error(text: str, number: int) -> None:
        problems.append(Error(text, id=f"reminders.E{number:03d}"))

    if not settings.SWISH_API_URL.startswith("https://"):
        error(f"SWISH_API_URL={settings.SWISH_API_URL!r}: Swish is called over HTTPS.", 11)
    if not ALIAS.fullmatch(settings.SWISH_PAYEE_ALIAS):
        error(
            f"SWISH_PAYEE_ALIAS={settings.SWISH_PAYEE_ALIAS!r}: the region's Swish number, "
            "10 digits starting with 123.",
            12,
        )
    if not settings.PUBLIC_BASE_URL.startswith("https://"):
        error(
            f"PUBLIC_BASE_URL={settings.PUBLIC_BASE_URL!r}: Swish's callbacks go to HTTPS "
            "addresses only.",
            13,
        )
    files = {name: getattr(settings, name) for name in ("SWISH_CERT", "SWISH_KEY", "SWISH_CA")}
    missing = [f"{n}={p!r}" for n, p in files.items() if not p or not Path(p).is_file()]
    if missing:
        error(", ".join(missing) + ": no such file (PEM files from the bank, operations 8).", 14)
        return problems
    try:
        context = ssl.create_default_context(cafile=files["SWISH_CA"])
        context.load_cert_chain(files["SWISH_CERT"], files["SWISH_KEY"])
    except (ssl.SSLError, OSError, ValueError) as failure:
        error(
            f"SWISH_CERT, SWISH_KEY and SWISH_CA cannot make a TLS connection: {failure}. "
            "The key must be the certificate's, unencrypted, in PEM.",
            15,
        )
        return problems
    problems += _expiry(files["SWISH_CERT"])
    return problems


def _expiry(path: str) -> list[CheckMessage]:
    from cryptography import x509

    try:
        certificate = x509.load_pem_x509_certificate(Path(path).read_bytes())
    except ValueError:
        return []
    left = certificate.not_valid_after_utc - datetime.now(UTC)
    if left <= timedelta(0):
        return [Error(f"SWISH_CERT {path!r} expired.", id="reminders.E016")]
    if left < timedelta(days=30):
        return [
            Warning(
                f"SWISH_CERT {path!r} expires in {left.days} days: order a new one from the "
                "bank (operations 8).",
                id="reminders.W016",
            )
        ]
    return []
