"""Swish's Commerce API (m-commerce) over mutual TLS: our client certificate and key from
the region's bank, and Swish's CA as the only one trusted (SWISH_CERT, SWISH_KEY, SWISH_CA,
operations 8). Speaks only HTTP; what the answers mean for a payment is payments.py's.

    PUT   /api/v2/paymentrequests/{instruction id}  201, header PaymentRequestToken
    GET   /api/v1/paymentrequests/{instruction id}  the request and its status
    PATCH /api/v1/paymentrequests/{instruction id}  cancel a request nobody paid
    PUT   /api/v2/refunds/{instruction id}           201
    GET   /api/v1/refunds/{instruction id}           the refund and its status
"""

from __future__ import annotations

import logging
import ssl
import uuid
from typing import Any

import httpx
from django.conf import settings

logger = logging.getLogger(__name__)


class SwishUnavailable(Exception):
    """No answer, a timeout or a 5xx: whether Swish did it is unknown."""


class SwishRefused(Exception):
    """A 4xx with Swish's error codes: Swish did nothing."""

    def __init__(self, status: int, codes: list[str]) -> None:
        super().__init__(f"{status} {','.join(codes)}")
        self.status, self.codes = status, codes

    @property
    def code(self) -> str:
        return self.codes[0] if self.codes else f"HTTP{self.status}"


def new_instruction_id() -> str:
    """Our id of a request at Swish: 32 hex digits, upper case."""
    return uuid.uuid4().hex.upper()


def tls_context() -> ssl.SSLContext:
    """Trusts only Swish's CA, and shows our certificate."""
    context = ssl.create_default_context(cafile=settings.SWISH_CA or None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(settings.SWISH_CERT, settings.SWISH_KEY)
    return context


class SwishClient:
    def __init__(self) -> None:
        try:
            context = tls_context()
        except (OSError, ValueError) as error:  # ssl.SSLError is an OSError
            logger.error("Swish's certificate, key or CA cannot be read: %r", error)
            raise SwishUnavailable(repr(error)) from error
        self.http = httpx.Client(
            base_url=settings.SWISH_API_URL.rstrip("/"),
            verify=context,
            timeout=settings.SWISH_TIMEOUT,
            headers={"Accept": "application/json"},
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> SwishClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            logger.warning("Swish %s %s: %r", method, path, error)
            raise SwishUnavailable(repr(error)) from error
        if response.status_code >= 500:
            logger.warning("Swish %s %s: %s", method, path, response.status_code)
            raise SwishUnavailable(f"HTTP {response.status_code}")
        return response

    @staticmethod
    def _refused(response: httpx.Response) -> SwishRefused:
        try:
            body = response.json()
            codes = [str(e.get("errorCode", "")) for e in body] if isinstance(body, list) else []
        except ValueError:
            codes = []
        return SwishRefused(response.status_code, [c for c in codes if c])

    def payment_request_create(self, instruction_id: str, body: dict[str, Any]) -> str:
        """The request's token (opens the app), or SwishRefused / SwishUnavailable."""
        response = self._call("PUT", f"/api/v2/paymentrequests/{instruction_id}", json=body)
        if response.status_code != 201:
            raise self._refused(response)
        token: str = response.headers.get("PaymentRequestToken", "")
        if not token:
            raise SwishUnavailable("201 without a PaymentRequestToken")
        return token

    def _read(self, path: str) -> dict[str, Any] | None:
        response = self._call("GET", path)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self._refused(response)
        try:
            data = response.json()
        except ValueError as error:
            raise SwishUnavailable("not JSON") from error
        if not isinstance(data, dict):
            raise SwishUnavailable("not an object")
        return data

    def payment_request_get(self, instruction_id: str) -> dict[str, Any] | None:
        """The request as Swish has it; None when Swish has none by that id."""
        return self._read(f"/api/v1/paymentrequests/{instruction_id}")

    def payment_request_cancel(self, instruction_id: str) -> dict[str, Any] | None:
        """Cancels a request nobody has paid; the request as it is afterwards (None: Swish
        has none). A request that cannot be cancelled any more is read back instead."""
        response = self._call(
            "PATCH",
            f"/api/v1/paymentrequests/{instruction_id}",
            json=[{"op": "replace", "path": "/status", "value": "cancelled"}],
            headers={"Content-Type": "application/json-patch+json"},
        )
        if response.status_code == 200:
            data = response.json()
            return data if isinstance(data, dict) else None
        return self.payment_request_get(instruction_id)

    def refund_create(self, instruction_id: str, body: dict[str, Any]) -> None:
        response = self._call("PUT", f"/api/v2/refunds/{instruction_id}", json=body)
        if response.status_code != 201:
            raise self._refused(response)

    def refund_get(self, instruction_id: str) -> dict[str, Any] | None:
        return self._read(f"/api/v1/refunds/{instruction_id}")


def swish_client() -> SwishClient:
    return SwishClient()
