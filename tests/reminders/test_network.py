"""Sending through a gateway over the network (rules 3.9), against the fault-injecting local
fake: several SMS in flight, the rate limit, a 429's pause, every ambiguous answer, the
fallback to a second gateway, and a claim kept alive while a slow batch goes out. Each SMS
reaches the phone at most once, and every message ends with one outcome and its reason."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from bookings.models import Appointment
from reminders import handover
from reminders.dispatch import dispatch_in_process
from reminders.models import Message, Status
from reminders.queue import messages_recover_stale
from reminders.settle import messages_settle_in_doubt
from tests.factories import PatientFactory
from tests.fakegateway import FakeGateway

pytestmark = pytest.mark.django_db
Booked = Callable[..., Appointment]


def configure(settings: Any, elks: FakeGateway, sinch: FakeGateway | None = None) -> None:
    settings.SMS_GATEWAY = "46elks,sinch" if sinch else "46elks"
    settings.ELKS46_API_URL = f"{elks.url}/a1"
    settings.SINCH_API_URL = (sinch or elks).url
    settings.SINCH_SERVICE_PLAN_ID, settings.SINCH_API_TOKEN = "plan1", "t"
    # Long: what these tests check is not the timeout, and a loaded machine (the tests
    # niced beside a benchmark, a mutation run) must not turn a slow answer into "unknown".
    # The one test of a timeout sets its own.
    settings.SMS_HTTP_TIMEOUT = 10
    settings.SMS_GATEWAY_PAUSE = 2


@pytest.fixture
def fake(settings: Any) -> Iterator[FakeGateway]:
    cache.clear()  # rate windows, pauses and gateways set aside from other tests
    # `accept_timeout` answers once the client has given up: held until then.
    gateway = FakeGateway(timeout_hold=60).start()
    configure(settings, gateway)
    yield gateway
    gateway.stop()
    cache.clear()


def book_many(booked: Booked, count: int) -> list[Appointment]:
    return [booked(patient=PatientFactory()) for _ in range(count)]


def outcomes() -> set[tuple[str, str]]:
    return set(Message.objects.values_list("status", "reason"))


def test_several_sms_are_in_flight_at_once_never_more_than_the_setting(
    booked: Booked, fake: FakeGateway, settings: Any, own_pool: None
) -> None:
    settings.SMS_MAX_IN_FLIGHT = 8
    settings.SMS_RATE_LIMIT = 1000  # not the binding limit here (8 / 50 ms = 160 a second)
    fake.latency = 0.05
    book_many(booked, 40)
    assert dispatch_in_process()["sent"] == 40
    assert fake.max_in_flight == 8  # eight at a time, not one
    assert set(fake.sends_per_message().values()) == {1}
    assert outcomes() == {("sent", "")}


def test_the_rate_limit_holds_for_the_dispatcher(
    booked: Booked, fake: FakeGateway, settings: Any
) -> None:
    settings.SMS_RATE_LIMIT = 10
    book_many(booked, 25)
    # Start just after a second begins: the limiter counts sends by the second they start
    # in, the fake by the second they arrive in; begun in a window's last milliseconds, a
    # loaded machine's scheduling delay would shift that window's sends into the next.
    time.sleep(1.05 - time.time() % 1)
    started = time.time()
    counts = dispatch_in_process()
    assert counts["sent"] == 25, counts
    assert fake.busiest_second() <= 10
    assert time.time() - started >= 1  # 25 SMS at 10 a second span three windows


def test_a_429_slows_the_dispatcher_down_and_fails_nothing(
    booked: Booked, fake: FakeGateway
) -> None:
    appointments = book_many(booked, 6)
    for appointment in appointments[:3]:
        fake.script[appointment.patient.mobile_number] = ["throttle"]
    started = time.time()
    counts = dispatch_in_process()
    assert counts["sent"] == 6
    assert time.time() - started >= 1  # the Retry-After of 1 s was kept
    assert outcomes() == {("sent", "")}
    assert set(fake.sends_per_message().values()) == {1}


@pytest.mark.parametrize("fault", ["accept_502", "accept_timeout", "broken_200"])
def test_an_sms_that_may_have_gone_out_is_never_sent_blindly_again(
    booked: Booked, fake: FakeGateway, fault: str, settings: Any
) -> None:
    """The gateway took the SMS but its answer was lost: the message waits in doubt
    (`sending`), the next ticks leave it alone, and the gateway's records settle it as
    sent. The phone got it once."""
    if fault == "accept_timeout":
        # The answer never comes: the client's timeout ends the wait. Short, for a quick
        # test; long enough for the other SMS's answer on a loaded machine.
        settings.SMS_HTTP_TIMEOUT = 3
    appointment, other = book_many(booked, 2)
    fake.script[appointment.patient.mobile_number] = [fault]
    counts = dispatch_in_process()
    assert (counts["sent"], counts["unknown"]) == (1, 1)  # one error decides nothing else
    message = Message.objects.get(appointment=appointment)
    assert (message.status, message.claim_token) == ("sending", None)
    assert Message.objects.get(appointment=other).status == "sent"
    # The next run asks the gateway's records first, and sends nothing again.
    again = dispatch_in_process()
    assert (again["settled_sent"], again.get("claimed", 0)) == (1, 0)
    message.refresh_from_db()
    stored = next(s for s in fake.stored if s.message_id == message.pk)
    assert (message.status, message.gateway_ref) == ("sent", stored.ref)
    assert fake.sends_per_message() == {message.pk: 1, Message.objects.get(appointment=other).pk: 1}


def test_an_sms_the_records_do_not_have_goes_back_to_the_queue(
    booked: Booked, fake: FakeGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 5xx that did not store the SMS: unknown at first, then the records show it never
    arrived, so it is certainly not sent and is sent again, once."""
    (appointment,) = book_many(booked, 1)
    number = appointment.patient.mobile_number
    fake.script[number] = ["accept_502"]
    # This 502 lost the SMS too: the fake forgets it.
    monkeypatch.setattr(fake, "stored", [])
    real_store = fake._store

    def store_nothing_once(*args: Any) -> Any:
        monkeypatch.setattr(fake, "_store", real_store)
        return None

    monkeypatch.setattr(fake, "_store", store_nothing_once)
    assert dispatch_in_process()["unknown"] == 1
    later = timezone.now() + timedelta(minutes=2)
    assert messages_settle_in_doubt(now=later) == {"settled_not_sent": 1}
    message = Message.objects.get()
    assert (message.status, message.submitted_at) == ("scheduled", None)
    import time_machine

    with time_machine.travel(later + timedelta(minutes=1)):
        assert dispatch_in_process()["sent"] == 1
    assert [s.to for s in fake.stored] == [number]


def test_a_refused_number_fails_with_the_reason_and_others_go_out(
    booked: Booked, fake: FakeGateway
) -> None:
    refused, fine = book_many(booked, 2)
    fake.script[refused.patient.mobile_number] = ["refuse"]
    dispatch_in_process()
    message = Message.objects.get(appointment=refused)
    assert (message.status, message.reason) == ("failed", "gateway_refused")
    assert "HTTP 400" in message.reason_detail
    assert Message.objects.get(appointment=fine).status == "sent"


def test_a_gateway_that_is_down_leaves_the_sms_scheduled_with_backoff(
    booked: Booked, fake: FakeGateway
) -> None:
    book_many(booked, 3)
    fake.down()
    counts = dispatch_in_process()
    assert counts["retry"] == 3
    assert outcomes() == {("scheduled", "")}
    assert set(Message.objects.values_list("submitted_at", flat=True)) == {None}


def test_while_the_first_gateway_is_down_the_second_takes_the_traffic(
    booked: Booked, fake: FakeGateway, settings: Any
) -> None:
    sinch = FakeGateway().start()
    try:
        configure(settings, fake, sinch)
        fake.down()
        book_many(booked, 12)
        assert dispatch_in_process()["sent"] == 12
        assert set(Message.objects.values_list("gateway", flat=True)) == {"sinch"}
        assert len(sinch.stored) == 12 and fake.stored == []
        # The first is tried again after the pause, and takes the traffic back.
        fake.up()
        configure(settings, fake, sinch)
        time.sleep(settings.SMS_GATEWAY_PAUSE + 0.2)
        book_many(booked, 2)
        assert dispatch_in_process()["sent"] == 2
        assert len(fake.stored) == 2
        assert Message.objects.filter(gateway="46elks").count() == 2
    finally:
        sinch.stop()


@pytest.mark.django_db(transaction=True)
def test_a_slow_batch_keeps_its_claim_while_recovery_runs(
    booked: Booked, fake: FakeGateway, settings: Any
) -> None:
    """A claim shorter than the batch: the dispatcher renews it while it works, so a
    recovery running meanwhile takes nothing, and every outcome is recorded. (A claim of
    3 s, renewed every half second: a loaded machine may hold the dispatcher back for
    more than a second without its lease ending halfway.)"""
    settings.DISPATCH_CLAIM_TIMEOUT = 3
    settings.SMS_MAX_IN_FLIGHT = 2
    fake.latency = 0.4
    book_many(booked, 18)  # 18 × 0.4 s / 2 in flight: at least 3.6 s, longer than the claim
    stop = threading.Event()
    taken: list[dict[str, int]] = []

    def recover_all_the_time() -> None:
        try:
            while not stop.is_set():
                taken.append(dict(messages_recover_stale(now=timezone.now())))
                time.sleep(0.1)
        finally:
            connection.close()

    thread = threading.Thread(target=recover_all_the_time)
    thread.start()
    try:
        counts = dispatch_in_process()
    finally:
        stop.set()
        thread.join()
    assert counts["sent"] == 18
    assert [t for t in taken if t] == []
    assert outcomes() == {("sent", "")}
    assert set(fake.sends_per_message().values()) == {1}


@pytest.mark.django_db(transaction=True)
def test_an_accepted_sms_is_recorded_sent_even_after_its_claim_was_taken_over(
    booked: Booked, fake: FakeGateway, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dispatcher stalls (no renewal) and recovery takes its claim while requests are
    out: what was never handed over goes back to the queue; what was in flight waits in
    doubt, and the gateway's answers, when they come, still record it as sent."""
    settings.DISPATCH_CLAIM_TIMEOUT = 1
    settings.SMS_MAX_IN_FLIGHT = 2
    monkeypatch.setattr(handover.Lease, "renew_if_due", lambda self: None)
    monkeypatch.setattr(handover.Lease, "expiring", lambda self: False)
    book_many(booked, 8)
    # The gateway holds the fifth and sixth requests (two at a time: four answered, two
    # out, two not yet handed over) until recovery has run: an event, not a moment, so a
    # slow machine changes nothing.
    arrived, held, answer = Counter[str](), threading.Event(), threading.Event()
    lock = threading.Lock()
    fault_for = fake._fault_for

    def holding(to: str) -> str | None:
        with lock:
            arrived["n"] += 1
            n = arrived["n"]
            if n == 6:
                held.set()
        if n in (5, 6):
            answer.wait(timeout=10)
        return fault_for(to)

    monkeypatch.setattr(fake, "_fault_for", holding)
    recovered: list[dict[str, int]] = []

    def recover_once_the_claim_lapsed() -> None:
        try:
            if held.wait(timeout=10):
                claim = Message.objects.filter(status=Status.SENDING, claim_token__isnull=False)
                claimed_at = claim.latest("claimed_at").claimed_at
                assert claimed_at is not None
                lapses = claimed_at + timedelta(seconds=1.05)
                time.sleep(max((lapses - timezone.now()).total_seconds(), 0))
                recovered.append(dict(messages_recover_stale(now=timezone.now())))
        finally:
            answer.set()
            connection.close()

    thread = threading.Thread(target=recover_once_the_claim_lapsed)
    thread.start()
    first = dispatch_in_process()
    thread.join()
    # The two requests out at that moment wait in doubt; the two never handed over go back.
    assert recovered == [{"in_doubt": 2, "requeued": 2}]
    # Their answers came after the takeover and were still recorded, and the two given back
    # went out in the next batch: eight sent, each once.
    assert first["sent"] == Message.objects.filter(status=Status.SENT).count() == 8
    assert dispatch_in_process().get("claimed", 0) == 0
    assert set(fake.sends_per_message().values()) == {1}
    assert len(fake.stored) == 8


def test_the_rate_limit_spreads_each_second_s_share_over_the_second(settings: Any) -> None:
    """A tenth of the limit in each tenth of a second, not the whole second's share at its
    start: the gateway counts by arrival, and a burst at a second's end spills into its
    next second (a 429 that stops every dispatcher for a second)."""
    from reminders.gateways.chain import RateLimit

    cache.clear()
    limit = RateLimit(SimpleNamespace(name="spread", rate_limit=50))  # type: ignore[arg-type]
    time.sleep(0.1 - time.time() % 0.1)  # at a window's start
    started = [0.0] * 25
    for index in range(25):
        assert limit.wait(until=time.time() + 5)
        started[index] = time.time()
    per_window = Counter(int(moment * 10) for moment in started)
    assert max(per_window.values()) <= 5  # 50 a second: 5 in each tenth
    assert started[-1] - started[0] >= 0.35  # 25 at 5 a tenth: the fifth window's start
    assert [limit.share(w) for w in range(10)] == [5] * 10
    odd = RateLimit(SimpleNamespace(name="odd", rate_limit=13))  # type: ignore[arg-type]
    assert [odd.share(w) for w in range(10)] == [2, 2, 2, 1, 1, 1, 1, 1, 1, 1]
    slow = RateLimit(SimpleNamespace(name="slow", rate_limit=4))  # type: ignore[arg-type]
    assert (slow.windows, [slow.share(w) for w in range(4)]) == (4, [1, 1, 1, 1])


def test_a_lost_dispatcher_s_sms_the_gateway_has_are_final_at_the_tick_that_recovers_them(
    booked: Booked, fake: FakeGateway, settings: Any
) -> None:
    """The dispatcher died with the SMS handed over (its lease ran out): the tick that
    takes its claim back asks the gateway's records at once, and what they have is sent,
    rather than waiting for the next settle beat."""
    import time_machine

    from reminders.dispatch import dispatch_tick

    (appointment,) = book_many(booked, 1)
    fake.script[appointment.patient.mobile_number] = ["accept_502"]
    assert dispatch_in_process()["unknown"] == 1
    token = uuid.uuid4()  # as if its dispatcher still held it when it died
    Message.objects.update(claim_token=token, claimed_at=timezone.now())
    later = timezone.now() + timedelta(seconds=settings.DISPATCH_CLAIM_TIMEOUT + 1)
    with time_machine.travel(later):
        counts = dispatch_tick(hand_off=lambda ids, token: None)
    assert (counts["in_doubt"], counts["settled_sent"]) == (1, 1)
    message = Message.objects.get()
    assert (message.status, message.claim_token) == ("sent", None)
    assert fake.sends_per_message() == {message.pk: 1}


def test_an_sms_lost_with_its_dispatcher_that_never_arrived_is_due_again_at_once(
    booked: Booked, fake: FakeGateway
) -> None:
    """Not in the gateway's records after their lag: certainly not sent. Lost with its
    dispatcher, the gateway is not to blame, so it is due at once; after a gateway's own
    failure, the backoff."""
    from reminders.queue import LOST_WHILE_SENDING
    from reminders.rules import retry_at

    lost, failed = book_many(booked, 2)
    now = timezone.now()
    for appointment, detail in ((lost, LOST_WHILE_SENDING), (failed, "HTTP 502")):
        Message.objects.filter(appointment=appointment).update(
            status=Status.SENDING,
            claim_token=None,
            submitted_at=now - timedelta(minutes=2),
            gateway="46elks",
            to=appointment.patient.mobile_number,
            body="Påminnelse",
            attempts=1,
            reason_detail=detail,
        )
    assert messages_settle_in_doubt(now=now) == {"settled_not_sent": 2}
    due = dict(Message.objects.values_list("appointment_id", "due_at"))
    assert due[lost.pk] == now
    backoff = retry_at(attempts=1, now=now)
    assert backoff is not None and due[failed.pk] == backoff > now
