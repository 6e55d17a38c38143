"""Gateways over HTTP against a local fake that behaves like the real ones (no test reaches
the network): 46elks and Sinch, what each answer means (rules 3.9), their delivery-report
webhooks, looking an SMS up in their records; the outbox and its API, the console."""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from bookings.models import Appointment
from core.models import ApiClient, Scope
from reminders.dispatch import dispatch_in_process
from reminders.gateways import Found, Outcome, OutgoingSms
from reminders.gateways.elks46 import Elks46Gateway
from reminders.gateways.signing import webhook_token
from reminders.gateways.sinch import SinchGateway
from reminders.models import DeliveryReport, Message
from tests.fakegateway import FakeGateway

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake(settings: Any) -> Iterator[FakeGateway]:
    """The fake serving both APIs, with 46elks configured first and Sinch as fallback."""
    gateway = FakeGateway().start()
    settings.SMS_GATEWAY = "46elks"
    settings.ELKS46_API_URL = f"{gateway.url}/a1"
    settings.ELKS46_USERNAME, settings.ELKS46_PASSWORD = "u1234", "secret-pw"
    settings.SINCH_API_URL = gateway.url
    settings.SINCH_SERVICE_PLAN_ID, settings.SINCH_API_TOKEN = "plan1", "sinch-token"
    settings.PUBLIC_BASE_URL = "https://sms.example.se"
    settings.SMS_HTTP_TIMEOUT = 0.5
    gateway.timeout_hold = 1.0
    yield gateway
    gateway.stop()


SMS = OutgoingSms(message_id=41, to="+46701234567", sender="RegHalland", body="Hej", segments=1)


def test_46elks_sends_form_with_basic_auth_and_a_signed_delivery_url(
    fake: FakeGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[httpx.Request] = []
    gateway = Elks46Gateway()
    gateway.client.event_hooks["request"] = [seen.append]
    result = gateway.send(SMS)
    assert (result.outcome, result.gateway_ref) == (Outcome.ACCEPTED, "s00000001")
    request = seen[0]
    assert request.url.path == "/a1/sms"
    expected = "Basic " + base64.b64encode(b"u1234:secret-pw").decode()
    assert request.headers["Authorization"] == expected
    form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
    assert (form["from"], form["to"], form["message"]) == ("RegHalland", "+46701234567", "Hej")
    url = urlparse(form["whendelivered"])
    assert (url.scheme, url.netloc, url.path) == (
        "https",
        "sms.example.se",
        "/api/v1/gateways/46elks/delivery/",
    )
    assert parse_qs(url.query) == {"message": ["41"], "token": [webhook_token("46elks", 41)]}
    assert [(s.to, s.body, s.message_id) for s in fake.stored] == [("+46701234567", "Hej", 41)]


def test_sinch_sends_a_batch_of_one_with_our_reference_and_a_signed_callback(
    fake: FakeGateway,
) -> None:
    seen: list[httpx.Request] = []
    gateway = SinchGateway()
    gateway.client.event_hooks["request"] = [seen.append]
    result = gateway.send(SMS)
    assert (result.outcome, result.gateway_ref) == (Outcome.ACCEPTED, "01FAKE00000001")
    request = seen[0]
    assert request.url.path == "/xms/v1/plan1/batches"
    assert request.headers["Authorization"] == "Bearer sinch-token"
    batch = json.loads(request.content)
    assert {k: batch[k] for k in ("from", "to", "body", "client_reference")} == {
        "from": "RegHalland",
        "to": ["+46701234567"],
        "body": "Hej",
        "client_reference": "41",
    }
    assert batch["delivery_report"] == "per_recipient"
    url = urlparse(batch["callback_url"])
    assert url.path == "/api/v1/gateways/sinch/delivery/"
    assert parse_qs(url.query)["token"] == [webhook_token("sinch", 41)]


# What each answer of the network means (rules 3.9): (fault, outcome, did the phone get it).
ANSWERS = [
    (None, Outcome.ACCEPTED, True),
    ("throttle", Outcome.NOT_SENT, False),
    ("unavailable", Outcome.NOT_SENT, False),
    ("refuse", Outcome.REFUSED, False),
    ("accept_502", Outcome.UNKNOWN, True),
    ("accept_timeout", Outcome.UNKNOWN, True),
    ("broken_200", Outcome.UNKNOWN, True),
]


@pytest.mark.parametrize("make", [Elks46Gateway, SinchGateway], ids=["46elks", "sinch"])
@pytest.mark.parametrize(("fault", "outcome", "reached_phone"), ANSWERS)
def test_each_answer_is_read_as_what_it_means_for_the_phone(
    fake: FakeGateway, make: Any, fault: str | None, outcome: Outcome, reached_phone: bool
) -> None:
    if fault:
        fake.script[SMS.to] = [fault]
    result = make().send(SMS)
    assert result.outcome == outcome
    assert (len(fake.stored) == 1) == reached_phone
    # Only what certainly did not reach the phone may be sent again.
    assert (result.outcome == Outcome.NOT_SENT) <= (not reached_phone)


def test_429_carries_its_retry_after(fake: FakeGateway) -> None:
    fake.script[SMS.to] = ["throttle"]
    result = Elks46Gateway().send(SMS)
    assert (result.outcome, result.retry_after, result.gateway_down) == (
        Outcome.NOT_SENT,
        1.0,
        False,
    )


def test_a_gateway_that_refuses_connections_is_certainly_not_sending(fake: FakeGateway) -> None:
    fake.down()
    result = Elks46Gateway().send(SMS)
    assert (result.outcome, result.gateway_down) == (Outcome.NOT_SENT, True)
    assert fake.stored == []


def test_a_sender_that_dies_between_headers_and_body_sends_nothing(fake: FakeGateway) -> None:
    # A worker SIGKILLed mid-request: the headers went out, the body never did. A real
    # gateway never sees that request; the fake must not store an SMS to nobody either.
    with socket.create_connection(("127.0.0.1", fake.port)) as cut:
        cut.sendall(
            b"POST /a1/sms HTTP/1.1\r\nHost: gw\r\nContent-Length: 120\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n\r\nto=%2B4670"
        )
    Elks46Gateway().send(SMS)  # then a whole one, answered once the cut one is dropped
    assert [s.to for s in fake.stored] == [SMS.to]


@pytest.mark.parametrize("make", [Elks46Gateway, SinchGateway], ids=["46elks", "sinch"])
def test_the_gateway_s_records_tell_whether_it_has_an_sms(fake: FakeGateway, make: Any) -> None:
    gateway = make()
    fake.script[SMS.to] = ["accept_502"]
    handed_over = timezone.now()
    assert gateway.send(SMS).outcome == Outcome.UNKNOWN
    found = gateway.lookup(message_id=41, to=SMS.to, body=SMS.body, submitted_at=handed_over)
    assert (found.found, found.gateway_ref) == (Found.SENT, fake.stored[0].ref)
    other = gateway.lookup(message_id=42, to=SMS.to, body="Annan text", submitted_at=handed_over)
    assert other.found == Found.ABSENT
    fake.down()
    assert gateway.lookup(
        message_id=41, to=SMS.to, body=SMS.body, submitted_at=handed_over
    ).found == (Found.CANNOT_TELL)


# --- delivery reports ------------------------------------------------------------------------
def _elks_report_url(message: Message) -> str:
    return f"/api/v1/gateways/46elks/delivery/?message={message.pk}&token=" + webhook_token(
        "46elks", message.pk
    )


def test_46elks_end_to_end_send_and_delivery_report(
    fake: FakeGateway, booked: Callable[..., Appointment]
) -> None:
    booked()
    assert dict(dispatch_in_process())["sent"] == 1
    message = Message.objects.get()
    assert (message.gateway, message.gateway_ref) == ("46elks", "s00000001")
    client = Client()
    report = {"id": "s00000001", "status": "delivered", "delivered": "2026-11-26T10:00:00.123456"}
    response = client.post(_elks_report_url(message), report)
    assert response.status_code == 204
    message.refresh_from_db()
    assert message.status == "delivered"
    # replayed report: idempotent
    assert client.post(_elks_report_url(message), report).status_code == 204
    assert DeliveryReport.objects.filter(message=message).count() == 1
    # a later "sent" never takes a delivered message back
    client.post(_elks_report_url(message), {"id": "s00000001", "status": "sent"})
    message.refresh_from_db()
    assert message.status == "delivered"
    assert list(DeliveryReport.objects.values_list("status", flat=True)) == ["delivered", "sent"]


def test_sinch_delivery_report_settles_its_message(
    fake: FakeGateway, booked: Callable[..., Appointment], settings: Any
) -> None:
    settings.SMS_GATEWAY = "sinch"
    booked()
    dispatch_in_process()
    message = Message.objects.get()
    assert (message.status, message.gateway) == ("sent", "sinch")
    url = f"/api/v1/gateways/sinch/delivery/?message={message.pk}&token=" + webhook_token(
        "sinch", message.pk
    )
    report = {
        "type": "recipient_delivery_report_sms",
        "batch_id": message.gateway_ref,
        "recipient": message.to,
        "code": 0,
        "status": "Delivered",
        "at": "2026-11-26T10:00:00.000Z",
        "client_reference": str(message.pk),
    }
    response = Client().post(url, json.dumps(report), content_type="application/json")
    assert response.status_code == 204
    message.refresh_from_db()
    assert (message.status, message.delivered_at.isoformat()) == (
        "delivered",
        "2026-11-26T10:00:00+00:00",
    )


def test_delivery_report_with_a_wrong_token_changes_nothing(
    fake: FakeGateway, booked: Callable[..., Appointment]
) -> None:
    booked()
    dispatch_in_process()
    message = Message.objects.get()
    response = Client().post(
        f"/api/v1/gateways/46elks/delivery/?message={message.pk}&token=forged",
        {"id": "s00000001", "status": "failed"},
    )
    assert response.status_code == 404
    message.refresh_from_db()
    assert message.status == "sent"
    assert not DeliveryReport.objects.exists()


def test_a_report_through_another_gateway_s_webhook_changes_nothing(
    fake: FakeGateway, booked: Callable[..., Appointment]
) -> None:
    """An SMS handed to 46elks, reported as failed on Sinch's webhook (even with a token
    made for Sinch): not that gateway's message."""
    booked()
    dispatch_in_process()
    message = Message.objects.get()
    url = f"/api/v1/gateways/sinch/delivery/?message={message.pk}&token=" + webhook_token(
        "sinch", message.pk
    )
    body = json.dumps({"status": "Failed", "batch_id": "x"})
    assert Client().post(url, body, content_type="application/json").status_code == 204
    message.refresh_from_db()
    assert message.status == "sent"
    assert not DeliveryReport.objects.exists()


def test_a_report_for_a_message_never_handed_over_changes_nothing(
    fake: FakeGateway, booked: Callable[..., Appointment]
) -> None:
    booked(starts_in=timedelta(days=5))  # not due: still scheduled
    message = Message.objects.get()
    response = Client().post(_elks_report_url(message), {"id": "s1", "status": "delivered"})
    assert response.status_code == 204
    message.refresh_from_db()
    assert message.status == "scheduled"
    assert not DeliveryReport.objects.exists()


def test_failed_delivery_report_fails_the_message_and_keeps_history(
    fake: FakeGateway, booked: Callable[..., Appointment]
) -> None:
    booked()
    dispatch_in_process()
    message = Message.objects.get()
    client = Client()
    client.post(_elks_report_url(message), {"id": "s00000001", "status": "sent"})
    client.post(_elks_report_url(message), {"id": "s00000001", "status": "failed"})
    client.post(_elks_report_url(message), {"id": "s00000001", "status": "delivered"})
    message.refresh_from_db()
    assert (message.status, message.reason) == ("failed", "delivery_failed")
    assert list(message.reports.values_list("status", flat=True)) == ["sent", "failed", "delivered"]


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


def test_outbox_api_masks_a_protected_family_and_logs_each_read(
    outbox_api: APIClient, booked: Callable[..., Appointment]
) -> None:
    """Issue 29.10: a guardian (or patient) protected since the SMS went is not given out,
    and every SMS listed is a read of its patient's data."""
    from core.access_log.models import AccessLog
    from tests.factories import GuardianshipFactory, PatientFactory

    open_ = booked(patient=PatientFactory(mobile_number="+46701111111"))
    from consent.services import consent_activate, guardian_number_register

    link = GuardianshipFactory(child__age=6)
    guardian_number_register(
        child=link.child, guardian=link.guardian, number="+46709990001", actor=None, channel="phone"
    )
    consent_activate(patient=link.child, actor=None, channel="phone")
    child = booked(patient=link.child, starts_in=timedelta(hours=20))
    dispatch_in_process()
    link.guardian.protected_identity = True
    link.guardian.save()
    results = outbox_api.get("/api/v1/outbox/").json()["results"]
    by_contact = {r["appointment"]: (r["to"], r["body"]) for r in results}
    assert by_contact[child.external_id] == (None, None)
    assert by_contact[open_.external_id][0] == "+46701111111"
    assert "9990001" not in str(results)
    logged = AccessLog.objects.filter(client__isnull=False).values_list("action", "patient_id")
    assert sorted(logged) == sorted(
        [("api_messages", open_.patient_id), ("api_messages", link.child_id)]
    )


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
