"""A local stand-in for Swish's Commerce API (m-commerce), over mutual TLS like the real
one: it refuses a client that shows no certificate signed by its client CA.

It answers `PUT /api/v2/paymentrequests/{id}` (201, `Location` and `PaymentRequestToken`),
`GET` and `PATCH` (cancel) `/api/v1/paymentrequests/{id}`, `PUT /api/v2/refunds/{id}` and
`GET /api/v1/refunds/{id}`, with Swish's 422 error lists. The patient's side is the test's:
`pay(id)`, `decline(id)`, `expire(id)` (Swish's TM01 after minutes without an answer).
Callbacks Swish would send are kept in `callbacks` for the test to deliver (once, twice or
never). Faults:

- `timeout_after_create`: makes the request, then answers only after the client gave up;
- `refund_fail_first`: the first refund PUT answers 500 and makes nothing;
- `down`: every call answers 503.

`Certificates.make(dir)` writes a CA for the server, a CA for clients, the server's
certificate (127.0.0.1, localhost), our client certificate and one from a stranger CA.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import secrets
import ssl
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

AMOUNT = re.compile(r"\d{1,13}\.\d{2}")
ALIAS = re.compile(r"123\d{7}")
MESSAGE = re.compile(r"[A-Za-z0-9 åäöÅÄÖ:;.,?!()\"'+\-/]{0,50}")


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[str, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool = False,
    server: bool = False,
    days: int = 400,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    issuer_name, issuer_key = issuer if issuer else (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(IPv4Address("127.0.0.1"))]
            ),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


@dataclass
class Certificates:
    server_ca: Path  # SWISH_CA: what our client trusts
    server_cert: Path
    server_key: Path
    client_ca: Path  # what the stand-in trusts
    client_cert: Path  # SWISH_CERT
    client_key: Path  # SWISH_KEY
    stranger_cert: Path  # a client certificate from another CA
    stranger_key: Path

    @classmethod
    def make(cls, directory: Path, *, client_days: int = 400) -> Certificates:
        def write(name: str, data: bytes) -> Path:
            path = directory / name
            path.write_bytes(data)
            return path

        def pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
            return key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )

        def pem(cert: x509.Certificate) -> bytes:
            return cert.public_bytes(serialization.Encoding.PEM)

        server_ca_key, client_ca_key, other_ca_key = _key(), _key(), _key()
        server_ca = _cert("Fake Swish Root CA", server_ca_key, None, ca=True)
        client_ca = _cert("Fake Swish Merchant CA", client_ca_key, None, ca=True)
        server_key, client_key, stranger_key = _key(), _key(), _key()
        server = _cert("localhost", server_key, ("Fake Swish Root CA", server_ca_key), server=True)
        client = _cert(
            "1231181189", client_key, ("Fake Swish Merchant CA", client_ca_key), days=client_days
        )
        stranger = _cert("1239999999", stranger_key, ("Stranger CA", other_ca_key))
        return cls(
            server_ca=write("server-ca.pem", pem(server_ca)),
            server_cert=write("server.pem", pem(server)),
            server_key=write("server.key", pem_key(server_key)),
            client_ca=write("client-ca.pem", pem(client_ca)),
            client_cert=write("client.pem", pem(client)),
            client_key=write("client.key", pem_key(client_key)),
            stranger_cert=write("stranger.pem", pem(stranger)),
            stranger_key=write("stranger.key", pem_key(stranger_key)),
        )


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class FakeSwish:
    certs: Certificates
    timeout_hold: float = 2.0  # how long `timeout_after_create` holds the answer back
    faults: set[str] = field(default_factory=set)
    requests: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)  # "PUT paymentrequests", ...
    callbacks: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    payer: str = "46701234567"

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    # --- the server ---------------------------------------------------------------------
    def start(self) -> str:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_PUT(self) -> None:
                fake._handle(self, "PUT")

            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_PATCH(self) -> None:
                fake._handle(self, "PATCH")

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.certs.server_cert, self.certs.server_key)
        context.load_verify_locations(self.certs.client_ca)
        context.verify_mode = ssl.CERT_REQUIRED  # mutual TLS: no certificate, no answer
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"https://127.0.0.1:{self.server.server_address[1]}/swish-cpcapi"

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    # --- the patient's side, and Swish's own clock --------------------------------------
    def _finish(self, instruction_id: str, status: str, code: str = "") -> None:
        with self._lock:
            request = self.requests[instruction_id]
            if request["status"] != "CREATED":
                return
            request["status"] = status
            if status == "PAID":
                request.update(
                    paymentReference=secrets.token_hex(16).upper(),
                    payerAlias=self.payer,
                    datePaid=_now(),
                )
            if code:
                request.update(errorCode=code, errorMessage=code)
            self.callbacks.append((request["callbackUrl"], dict(request)))

    def pay(self, instruction_id: str) -> None:
        self._finish(instruction_id, "PAID")

    def decline(self, instruction_id: str) -> None:
        self._finish(instruction_id, "DECLINED")

    def expire(self, instruction_id: str) -> None:
        self._finish(instruction_id, "ERROR", "TM01")

    def paid_total(self) -> Decimal:
        paid = [Decimal(str(r["amount"])) for r in self.requests.values() if r["status"] == "PAID"]
        refunded = [Decimal(str(r["amount"])) for r in self.refunds.values()]
        return sum(paid, Decimal(0)) - sum(refunded, Decimal(0))

    # --- the API ------------------------------------------------------------------------
    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        path = handler.path.split("?")[0].removeprefix("/swish-cpcapi")
        length = int(handler.headers.get("Content-Length") or 0)
        body = json.loads(handler.rfile.read(length) or b"null") if length else None
        match = re.fullmatch(r"/api/v(\d)/(paymentrequests|refunds)/([0-9A-F]{32})", path)
        if match is None:
            return self._send(handler, 404, None)
        version, kind, instruction_id = match.groups()
        self.calls[f"{method} {kind}"] += 1
        if "down" in self.faults:
            return self._send(handler, 503, None)
        key = (method, version, kind)
        if key == ("PUT", "2", "paymentrequests"):
            return self._create(handler, instruction_id, body)
        if key == ("GET", "1", "paymentrequests"):
            found = self.requests.get(instruction_id)
            return self._send(handler, 200 if found else 404, self._public(found))
        if key == ("PATCH", "1", "paymentrequests"):
            return self._cancel(handler, instruction_id, body)
        if key == ("PUT", "2", "refunds"):
            return self._refund(handler, instruction_id, body)
        if key == ("GET", "1", "refunds"):
            found = self.refunds.get(instruction_id)
            return self._send(handler, 200 if found else 404, found)
        return self._send(handler, 405, None)

    @staticmethod
    def _public(request: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if request is None else {k: v for k, v in request.items() if k != "token"}

    def _errors(self, body: Any, *, refund: bool = False) -> list[dict[str, str]]:
        errors = []
        if not isinstance(body, dict):
            return [{"errorCode": "FF08", "errorMessage": "Body missing"}]
        alias = body.get("payerAlias" if refund else "payeeAlias", "")
        if not ALIAS.fullmatch(str(alias)):
            errors.append({"errorCode": "RP01", "errorMessage": "Missing Merchant Swish Number"})
        if not AMOUNT.fullmatch(str(body.get("amount", ""))) or Decimal(body["amount"]) < 1:
            errors.append({"errorCode": "PA02", "errorMessage": "Amount value is missing"})
        if body.get("currency") != "SEK":
            errors.append({"errorCode": "AM03", "errorMessage": "Invalid or missing Currency"})
        if not MESSAGE.fullmatch(str(body.get("message", ""))):
            errors.append({"errorCode": "RP02", "errorMessage": "Wrong formatted message"})
        if not str(body.get("callbackUrl", "")).startswith("https://"):
            errors.append(
                {
                    "errorCode": "RP03",
                    "errorMessage": "Callback URL is missing or does not use HTTPS",
                }
            )
        if not refund and "payerAlias" in body:
            errors.append({"errorCode": "BE18", "errorMessage": "m-commerce takes no payer"})
        return errors

    def _create(self, handler: BaseHTTPRequestHandler, instruction_id: str, body: Any) -> None:
        errors = self._errors(body)
        if errors:
            return self._send(handler, 422, errors)
        with self._lock:
            if instruction_id in self.requests:
                return self._send(
                    handler,
                    409,
                    [{"errorCode": "RP09", "errorMessage": "Duplicate instruction id"}],
                )
            token = secrets.token_hex(16)
            self.requests[instruction_id] = {
                "id": instruction_id,
                "payeePaymentReference": body.get("payeePaymentReference", ""),
                "paymentReference": None,
                "callbackUrl": body["callbackUrl"],
                "payerAlias": None,
                "payeeAlias": body["payeeAlias"],
                "amount": float(body["amount"]),
                "currency": "SEK",
                "message": body.get("message", ""),
                "status": "CREATED",
                "dateCreated": _now(),
                "datePaid": None,
                "errorCode": None,
                "errorMessage": None,
                "token": token,
            }
        if "timeout_after_create" in self.faults:
            self.faults.discard("timeout_after_create")
            time.sleep(self.timeout_hold)
        location = f"https://127.0.0.1/swish-cpcapi/api/v1/paymentrequests/{instruction_id}"
        self._send(handler, 201, None, {"Location": location, "PaymentRequestToken": token})

    def _cancel(self, handler: BaseHTTPRequestHandler, instruction_id: str, body: Any) -> None:
        with self._lock:
            request = self.requests.get(instruction_id)
            if request is None:
                return self._send(handler, 404, None)
            wanted = [{"op": "replace", "path": "/status", "value": "cancelled"}]
            if body != wanted or request["status"] != "CREATED":
                return self._send(
                    handler, 422, [{"errorCode": "RP07", "errorMessage": "Not cancellable"}]
                )
            request["status"] = "CANCELLED"
        self._send(handler, 200, self._public(request))

    def _refund(self, handler: BaseHTTPRequestHandler, instruction_id: str, body: Any) -> None:
        if "refund_fail_first" in self.faults:
            self.faults.discard("refund_fail_first")
            return self._send(handler, 500, None)
        errors = self._errors(body, refund=True)
        original = next(
            (
                r
                for r in self.requests.values()
                if r["paymentReference"]
                and r["paymentReference"] == (body or {}).get("originalPaymentReference")
            ),
            None,
        )
        if original is None:
            errors.append({"errorCode": "RF02", "errorMessage": "Original payment not found"})
        elif Decimal((body or {}).get("amount", "0")) > Decimal(str(original["amount"])):
            errors.append({"errorCode": "RF07", "errorMessage": "Refund amount too high"})
        if errors:
            return self._send(handler, 422, errors)
        with self._lock:
            if instruction_id in self.refunds:
                return self._send(
                    handler,
                    409,
                    [{"errorCode": "RF09", "errorMessage": "Duplicate instruction id"}],
                )
            self.refunds[instruction_id] = {
                "id": instruction_id,
                "originalPaymentReference": body["originalPaymentReference"],
                "payerPaymentReference": body.get("payerPaymentReference", ""),
                "callbackUrl": body["callbackUrl"],
                "payerAlias": body["payerAlias"],
                "payeeAlias": original["payerAlias"] if original else None,
                "amount": float(body["amount"]),
                "currency": "SEK",
                "message": body.get("message", ""),
                "status": "PAID",
                "dateCreated": _now(),
                "datePaid": _now(),
            }
            self.callbacks.append((body["callbackUrl"], dict(self.refunds[instruction_id])))
        location = f"https://127.0.0.1/swish-cpcapi/api/v1/refunds/{instruction_id}"
        self._send(handler, 201, None, {"Location": location})

    @staticmethod
    def _send(
        handler: BaseHTTPRequestHandler,
        status: int,
        body: Any,
        headers: dict[str, str] | None = None,
    ) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        with contextlib.suppress(OSError):
            handler.send_response(status)
            for name, value in (headers or {}).items():
                handler.send_header(name, value)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
