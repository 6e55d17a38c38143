"""Gateways: 46elks over HTTP against a local fake server (no test reaches the network),
its delivery-report webhook, the outbox and its API, the console."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from django.test import Client
from rest_framework.test import APIClient

from bookings.models import ApiClient, Appointment, Scope
from reminders.dispatch import dispatch_in_process
from reminders.gateways import OutgoingSms, TemporaryGatewayError
from reminders.gateways.base import webhook_token
from reminders.gateways.elks46 import Elks46Gateway
from reminders.models import DeliveryReport, Message

pytestmark = pytest.mark.django_db


class FakeElks(BaseHTTPRequestHandler):
    """Answers POST /a1/sms like 46elks; the test sets `reply` and reads `requests`."""

    requests: list[dict[str, Any]] = []
    reply: tuple[int, str] = (200, "")

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        FakeElks.requests.append(
            {"path": self.path, "auth": self.headers["Authorization"], "form": form}
        )
        status, body = FakeElks.reply
        if status == 200 and not body:
            body = json.dumps(
                {
                    "id": f"s{len(FakeElks.requests)}abc",
                    "status": "created",
                    "to": form["to"],
                    "parts": 1,
                }
            )
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def elks(settings: Any) -> Iterator[type[FakeElks]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeElks)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeElks.requests, FakeElks.reply = [], (200, "")
    settings.SMS_GATEWAY = "46elks"
    settings.ELKS46_API_URL = f"http://127.0.0.1:{server.server_port}/a1"
    settings.ELKS46_USERNAME, settings.ELKS46_PASSWORD = "u1234", "secret-pw"
    settings.PUBLIC_BASE_URL = "https://sms.example.se"
    yield FakeElks
    server.shutdown()


SMS = OutgoingSms(message_id=41, to="+46701234567", sender="RegHalland", body="Hej", segments=1)


def test_46elks_sends_form_with_basic_auth_and_a_signed_delivery_url(elks: type[FakeElks]) -> None:
    result = Elks46Gateway().send(SMS)
    assert (result.accepted, result.gateway_ref) == (True, "s1abc")
    request = elks.requests[0]
    assert request["path"] == "/a1/sms"
    assert request["auth"] == "Basic " + base64.b64encode(b"u1234:secret-pw").decode()
    form = request["form"]
    assert (form["from"], form["to"], form["message"]) == ("RegHalland", "+46701234567", "Hej")
    url = urlparse(form["whendelivered"])
    assert (url.scheme, url.netloc, url.path) == (
        "https",
        "sms.example.se",
        "/api/v1/gateways/46elks/delivery/",
    )
    assert parse_qs(url.query) == {"message": ["41"], "token": [webhook_token(41)]}


@pytest.mark.parametrize("status", [500, 503, 429, 401])
def test_46elks_server_trouble_is_transient(elks: type[FakeElks], status: int) -> None:
    elks.reply = (status, "try later")
    with pytest.raises(TemporaryGatewayError):
        Elks46Gateway().send(SMS)


def test_46elks_refusing_the_number_is_a_permanent_failure(elks: type[FakeElks]) -> None:
    elks.reply = (400, "Invalid to number")
    result = Elks46Gateway().send(SMS)
    assert (result.accepted, result.transient) == (False, False)
    assert result.detail == "46elks HTTP 400: Invalid to number"


def test_46elks_unreachable_is_transient(settings: Any) -> None:
    settings.ELKS46_API_URL = "http://127.0.0.1:9/a1"  # discard port: connection refused
    with pytest.raises(TemporaryGatewayError):
        Elks46Gateway().send(SMS)


def test_46elks_end_to_end_send_and_delivery_report(
    elks: type[FakeElks], booked: Callable[..., Appointment]
) -> None:
    booked()
    assert dict(dispatch_in_process())["sent"] == 1
    message = Message.objects.get()
    assert (message.gateway, message.gateway_ref) == ("46elks", "s1abc")
    url = urlparse(elks.requests[0]["form"]["whendelivered"])
    client = Client()
    report = {"id": "s1abc", "status": "delivered", "delivered": "2026-11-26T10:00:00.123456"}
    response = client.post(f"{url.path}?{url.query}", report)
    assert response.status_code == 204
    message.refresh_from_db()
    assert message.status == "delivered"
    # replayed report: idempotent
    assert client.post(f"{url.path}?{url.query}", report).status_code == 204
    assert DeliveryReport.objects.filter(message=message).count() == 1
    # a later "sent" never takes a delivered message back
    client.post(f"{url.path}?{url.query}", {"id": "s1abc", "status": "sent"})
    message.refresh_from_db()
    assert message.status == "delivered"
    assert list(DeliveryReport.objects.values_list("status", flat=True)) == ["delivered", "sent"]


def test_delivery_report_with_a_wrong_token_changes_nothing(
    elks: type[FakeElks], booked: Callable[..., Appointment]
) -> None:
    booked()
    dispatch_in_process()
    message = Message.objects.get()
    response = Client().post(
        f"/api/v1/gateways/46elks/delivery/?message={message.pk}&token=forged",
        {"id": "s1abc", "status": "failed"},
    )
    assert response.status_code == 404
    message.refresh_from_db()
    assert message.status == "sent"
    assert not DeliveryReport.objects.exists()


def test_failed_delivery_report_fails_the_message_and_keeps_history(
    elks: type[FakeElks], booked: Callable[..., Appointment]
) -> None:
    booked()
    dispatch_in_process()
    message = Message.objects.get()
    query = f"?message={message.pk}&token={webhook_token(message.pk)}"
    client = Client()
    client.post(f"/api/v1/gateways/46elks/delivery/{query}", {"id": "s1abc", "status": "sent"})
    client.post(f"/api/v1/gateways/46elks/delivery/{query}", {"id": "s1abc", "status": "failed"})
    message.refresh_from_db()
    assert (message.status, message.reason) == ("failed", "delivery_failed")
    assert list(message.reports.values_list("status", flat=True)) == ["sent", "failed"]


# --- the outbox ----------------------------------------------------------------------------
@pytest.fixture
def outbox_api(settings: Any, make_api: Callable[..., tuple[APIClient, ApiClient]]) -> APIClient:
    settings.SMS_GATEWAY = "outbox"
    return make_api(Scope.OUTBOX_READ)[0]


def test_outbox_api_lists_sent_sms_newest_first_and_filters_by_number(
    outbox_api: APIClient, booked: Callable[..., Appointment]
) -> None:
    from tests.factories import PatientFactory

    first = booked(patient=PatientFactory(mobile_number="+46701111111"))
    dispatch_in_process()
    second = booked(
        patient=PatientFactory(mobile_number="+46702222222"), starts_in=timedelta(hours=20)
    )
    dispatch_in_process()
    results = outbox_api.get("/api/v1/outbox/").json()["results"]
    assert [r["appointment"] for r in results] == [second.external_id, first.external_id]
    only = outbox_api.get("/api/v1/outbox/", {"to": "070-111 11 11"}).json()["results"]
    assert len(only) == 1
    row = only[0]
    assert {k: row[k] for k in ("to", "segments", "kind", "appointment", "status")} == {
        "to": "+46701111111",
        "segments": 1,
        "kind": "reminder",
        "appointment": first.external_id,
        "status": "sent",
    }
    assert row["body"] == Message.objects.get(to="+46701111111").body
    assert row["body"].startswith("Påminnelse om bokad kontakt med ")


def test_outbox_api_is_404_when_another_gateway_is_configured(
    outbox_api: APIClient, settings: Any
) -> None:
    settings.SMS_GATEWAY = "console"
    response = outbox_api.get("/api/v1/outbox/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


def test_outbox_api_needs_its_scope(
    make_api: Callable[..., tuple[APIClient, ApiClient]], settings: Any
) -> None:
    settings.SMS_GATEWAY = "outbox"
    response = make_api(Scope.STATUS_READ)[0].get("/api/v1/outbox/")
    assert (response.status_code, response["Content-Type"]) == (403, "application/problem+json")
    assert "results" not in response.json()


def test_console_gateway_logs_the_sms(
    booked: Callable[..., Appointment], settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.SMS_GATEWAY = "console"
    booked()
    with caplog.at_level("INFO", logger="reminders.sms"):
        dispatch_in_process()
    message = Message.objects.get()
    assert f"SMS #{message.pk} from RegHalland to {message.to}" in caplog.text
    assert message.gateway == "console"
