"""A local stand-in for the SMS gateways' HTTP APIs, with the faults a real one has.

It answers 46elks' `POST /a1/sms` and `GET /a1/sms` (history) and Sinch's
`POST /xms/v1/{plan}/batches` and `GET /xms/v1/{plan}/batches` (list), takes its time
(`latency`), caps the rate (429 with Retry-After), and injects faults:

- `accept_502`: stores the SMS (the phone gets it), then answers 502;
- `accept_timeout`: stores the SMS, then answers only after the client has given up (its
  side of the connection closed; at most `timeout_hold` seconds);
- `throttle`: 429 with `Retry-After` (nothing stored);
- `unavailable`: 503 (nothing stored);
- `broken_200`: stores the SMS and answers 200 with a body nobody can read;
- `refuse`: 400, the number is refused (nothing stored).

Faults come from a script (`script[number] = [fault, fault, …]`, one per request to that
number, then none) or at random (`fault_rate`, drawn from `faults` with `seed`). `down()`
closes the listening socket (connection refused) until `up()`. Every SMS it stored is in
`stored`, with our message id (from the delivery URL or the client reference), so a test or
benchmark counts how many times each reached a phone.

Run it alone: `python -m tests.fakegateway --port 8099 --latency 0.1 --rate 200`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import select
import socket
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

FAULTS = ("accept_502", "accept_timeout", "throttle", "unavailable", "broken_200", "refuse")


@dataclass
class Stored:
    api: str  # "46elks" or "sinch"
    ref: str  # the gateway's id
    to: str
    body: str
    message_id: int | None  # ours, from the delivery URL or the client reference
    created: datetime


@dataclass
class FakeGateway:
    latency: float = 0.0  # seconds before answering
    rate: int = 0  # SMS a second before 429 (0: no cap)
    timeout_hold: float = 2.0  # `accept_timeout` holds the answer at most this long
    fault_rate: float = 0.0
    faults: tuple[str, ...] = FAULTS
    seed: int = 2026
    script: dict[str, list[str]] = field(default_factory=dict)
    stored: list[Stored] = field(default_factory=list)
    requests: Counter[str] = field(default_factory=Counter)
    arrivals: list[float] = field(default_factory=list)  # time.time() of each send request
    in_flight: int = 0
    max_in_flight: int = 0
    port: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._random = random.Random(self.seed)
        self._second: dict[int, int] = defaultdict(int)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()

    # --- life -------------------------------------------------------------------------
    def start(self) -> FakeGateway:
        self.up()
        return self

    def up(self) -> None:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = _Server(("127.0.0.1", self.port), handler)
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def down(self) -> None:
        """Stops listening: connections are refused until `up()`."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._lock:  # kept-alive connections too: a down gateway answers nothing
            for connection in self._connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
            self._connections.clear()

    stop = down

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- what it saw ------------------------------------------------------------------
    def sends_per_message(self) -> Counter[int | None]:
        return Counter(s.message_id for s in self.stored)

    def duplicates(self) -> int:
        """SMS of ours that reached the gateway more than once."""
        per_message = self.sends_per_message()
        return sum(n - 1 for m, n in per_message.items() if m is not None and n > 1)

    def busiest_second(self) -> int:
        """The most send requests that arrived within one wall-clock second."""
        return max(Counter(int(t) for t in self.arrivals).values(), default=0)

    # --- answering --------------------------------------------------------------------
    def _fault_for(self, to: str) -> str | None:
        with self._lock:
            planned = self.script.get(to)
            if planned:
                return planned.pop(0)
            if self.fault_rate and self._random.random() < self.fault_rate:
                return self._random.choice(self.faults)
            return None

    def _over_rate(self) -> bool:
        if not self.rate:
            return False
        with self._lock:
            second = int(time.monotonic())
            self._second[second] += 1
            return self._second[second] > self.rate

    def _store(self, api: str, to: str, body: str, message_id: int | None) -> Stored:
        with self._lock:
            prefix = "s" if api == "46elks" else "01FAKE"
            sms = Stored(
                api, f"{prefix}{len(self.stored) + 1:08d}", to, body, message_id, datetime.now(UTC)
            )
            self.stored.append(sms)
            return sms


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256  # many connections at once, as a real gateway takes them

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (a timeout) or a connection cut by down()


def _message_id(url: str) -> int | None:
    values = parse_qs(urlparse(url).query).get("message")
    return int(values[0]) if values and values[0].isdigit() else None


class _Handler(BaseHTTPRequestHandler):
    fake: FakeGateway
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without this, Nagle's algorithm and the
    # client's delayed ACK add 40 ms to every answer on a kept-alive connection.
    disable_nagle_algorithm = True

    def log_message(self, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        with self.fake._lock:
            self.fake._connections.add(self.connection)

    def finish(self) -> None:
        with self.fake._lock:
            self.fake._connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def _answer(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(data)

    def _body(self) -> bytes | None:
        """The request's body; None when the client went away before all of it arrived (a
        sender killed between the headers and the body): a real gateway never sees such a
        request, and neither does this one."""
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        return raw if len(raw) == length else None

    def do_POST(self) -> None:
        fake = self.fake
        path = urlparse(self.path).path
        raw = self._body()
        if raw is None:
            self.close_connection = True
            return
        if path.endswith("/sms"):
            api = "46elks"
            form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            to, body = form.get("to", ""), form.get("message", "")
            message_id = _message_id(form.get("whendelivered", ""))
        elif path.endswith("/batches"):
            api = "sinch"
            data = json.loads(raw or b"{}")
            to, body = (data.get("to") or [""])[0], data.get("body", "")
            reference = str(data.get("client_reference", ""))
            message_id = int(reference) if reference.isdigit() else None
        else:
            self._answer(404, {"error": "no such path"})
            return
        with fake._lock:
            fake.requests[api] += 1
            fake.arrivals.append(time.time())
            fake.in_flight += 1
            fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
        try:
            self._send(fake, api, to, body, message_id)
        finally:
            with fake._lock:
                fake.in_flight -= 1

    def _send(
        self, fake: FakeGateway, api: str, to: str, body: str, message_id: int | None
    ) -> None:
        if fake.latency:
            time.sleep(fake.latency)
        fault = fake._fault_for(to)
        if fault == "throttle" or (fault is None and fake._over_rate()):
            self._answer(429, {"error": "Too many requests"}, {"Retry-After": "1"})
            return
        if fault == "unavailable":
            self._answer(503, {"error": "Service unavailable"})
            return
        if fault == "refuse":
            self._answer(400, {"error": "Invalid to number"})
            return
        sms = fake._store(api, to, body, message_id)
        if fault == "accept_502":
            self._answer(502, b"<html>Bad Gateway</html>")
            return
        if fault == "accept_timeout":
            _wait_until_gone(self.connection, at_most=fake.timeout_hold)
        if fault == "broken_200":
            self._answer(200, b'{"id": "s')
            return
        if api == "46elks":
            self._answer(
                200,
                {"id": sms.ref, "status": "created", "to": to, "message": body, "parts": 1},
            )
        else:
            self._answer(
                201,
                {"id": sms.ref, "to": [to], "body": body, "client_reference": str(message_id)},
            )

    def do_GET(self) -> None:
        fake = self.fake
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path.endswith("/sms"):
            rows = [s for s in fake.stored if s.api == "46elks"]
            if "to" in query:
                rows = [s for s in rows if s.to == query["to"]]
            data = [
                {
                    "id": s.ref,
                    "direction": "outgoing",
                    "to": s.to,
                    "message": s.body,
                    "created": s.created.replace(tzinfo=None).isoformat(),
                    "status": "sent",
                }
                for s in reversed(rows)
            ]
            self._answer(200, {"data": data[:100]})
        elif url.path == "/_fake/stored":  # for a benchmark running the fake in its own process
            with fake._lock:
                ids = [s.message_id for s in fake.stored]
                numbers = [s.to for s in fake.stored]
                self._answer(
                    200,
                    {"message_ids": ids, "numbers": numbers, "max_in_flight": fake.max_in_flight},
                )
        elif url.path.endswith("/batches"):
            rows = [s for s in fake.stored if s.api == "sinch"]
            if "client_reference" in query:
                rows = [s for s in rows if str(s.message_id) == query["client_reference"]]
            batches = [
                {"id": s.ref, "to": [s.to], "body": s.body, "client_reference": str(s.message_id)}
                for s in rows
            ]
            self._answer(200, {"batches": batches, "count": len(batches), "page": 0})
        else:
            self._answer(404, {"error": "no such path"})


def _wait_until_gone(connection: socket.socket, *, at_most: float) -> None:
    """Until the client closes its side (the socket turns readable: it sends nothing more
    while it waits for an answer), so a client's timeout is what ends the wait whatever
    its length and however slow the machine; at most `at_most` seconds."""
    select.select([connection], [], [], at_most)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:  # pragma: no cover (a tool for trying it by hand)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--timeout-hold", type=float, default=2.0)
    args = parser.parse_args()
    fake = FakeGateway(
        port=args.port,
        latency=args.latency,
        rate=args.rate,
        fault_rate=args.fault_rate,
        timeout_hold=args.timeout_hold,
    ).start()
    print(f"fake gateway on {fake.url} (46elks: {fake.url}/a1, sinch: {fake.url}/xms)", flush=True)
    try:
        while True:
            time.sleep(10)
            print(f"stored {len(fake.stored)} SMS, duplicates {fake.duplicates()}", flush=True)
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
