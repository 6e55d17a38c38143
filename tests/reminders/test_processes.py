"""Guarantees that need real processes on PostgreSQL: dispatchers running at once, and a
dispatcher killed after claiming."""

from __future__ import annotations

import re
import signal
import time
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from bookings.models import Appointment, Patient
from consent.models import PatientConsent
from reminders.models import Message, Status
from tests.factories import ClinicFactory, PatientFactory

from .processes import python

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture(autouse=True)
def _postgres(on_postgres: None) -> None:
    """SKIP LOCKED and several processes on one database: PostgreSQL only."""


def seed_due_messages(count: int, patients: int = 100) -> list[int]:
    """`count` due reminders for activated adults, written in bulk."""
    clinic = ClinicFactory()
    people = [PatientFactory() for _ in range(patients)]
    PatientConsent.objects.bulk_create([PatientConsent(patient=p, state="active") for p in people])
    now = timezone.now()
    appointments = Appointment.objects.bulk_create(
        [
            Appointment(
                external_id=f"P-{i}",
                patient=people[i % patients],
                clinic=clinic,
                starts_at=now + timedelta(hours=5),
                booked_at=now,
                contact_type="phone",
            )
            for i in range(count)
        ]
    )
    messages = Message.objects.bulk_create(
        [
            Message(appointment=a, kind="reminder", starts_at=a.starts_at, due_at=now)
            for a in appointments
        ]
    )
    return [m.pk for m in messages]


DISPATCHER = """
import time
from reminders.dispatch import dispatch_in_process
while time.time() < float(os.environ["START_AT"]):
    time.sleep(0.01)
print(dict(dispatch_in_process()))
"""


def test_several_dispatchers_at_once_send_each_sms_exactly_once() -> None:
    ids = seed_due_messages(3000)
    start_at = time.time() + 4  # all four start dispatching at the same moment
    procs = [
        python(
            DISPATCHER,
            START_AT=start_at,
            SMS_GATEWAY="console",
            DISPATCH_BATCH_SIZE=25,
            LOG_LEVEL="INFO",
        )
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=240) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], [err[-2000:] for _, err in outputs]
    sends: Counter[int] = Counter()
    senders = 0
    for _, err in outputs:
        found = [int(m) for m in re.findall(r"SMS #(\d+) ", err)]
        senders += bool(found)
        sends.update(found)
    missing = set(ids) - set(sends)
    assert not missing, (
        Counter(Message.objects.filter(pk__in=missing).values_list("status", "reason")),
        [o for o, e in outputs],
    )
    assert set(sends.values()) == {1}  # each SMS exactly once
    assert senders >= 2  # the dispatchers really did run at the same time
    assert Message.objects.filter(status=Status.SENT).count() == 3000


KILLED_AFTER_CLAIM = """
from django.utils import timezone
from reminders.queue import messages_claim_due
token, ids = messages_claim_due(now=timezone.now(), limit=200)
print(len(ids), flush=True)
os.kill(os.getpid(), 9)
"""


def test_dispatcher_killed_after_claiming_loses_nothing(settings: Any) -> None:
    seed_due_messages(300)
    proc = python(KILLED_AFTER_CLAIM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, err
    assert out.strip() == "200"
    assert Message.objects.filter(status=Status.SENDING).count() == 200

    settings.SMS_GATEWAY = "outbox"
    from reminders.dispatch import dispatch_in_process

    assert dict(dispatch_in_process())["sent"] == 100  # the dead claim waits for its timeout
    assert Message.objects.filter(status=Status.SENDING).count() == 200
    import time_machine

    with time_machine.travel(
        timezone.now() + timedelta(seconds=settings.DISPATCH_CLAIM_TIMEOUT + 1)
    ):
        counts = dict(dispatch_in_process())
    assert (counts["requeued"], counts["sent"]) == (200, 200)
    assert Message.objects.filter(status=Status.SENT).count() == 300
    assert Message.objects.filter(gateway="outbox", attempts=2).count() == 200
    assert Patient.objects.count() == 100


SLOW_DISPATCHER = """
from reminders.dispatch import dispatch_in_process
print(dict(dispatch_in_process()), flush=True)
"""


def test_dispatcher_killed_while_sending_through_a_slow_gateway_loses_nothing_sends_nothing_twice(
    settings: Any,
) -> None:
    """40 reminders through a gateway taking 0.5 s, four in flight; the dispatcher is
    SIGKILLed after about a second. After its claim lapses, a second dispatcher sends what
    the first never handed over, and what was in flight at the kill is settled from the
    gateway's records: every SMS reached the phone exactly once, and every message is sent."""
    from tests.fakegateway import FakeGateway

    seed_due_messages(40, patients=40)
    fake = FakeGateway(latency=0.5).start()
    gateway_settings = {
        "SMS_GATEWAY": "46elks",
        "ELKS46_API_URL": f"{fake.url}/a1",
        "SMS_MAX_IN_FLIGHT": 4,
        "SMS_HTTP_TIMEOUT": 5,
        "DISPATCH_CLAIM_TIMEOUT": 2,
    }
    try:
        proc = python(SLOW_DISPATCHER, **gateway_settings)
        deadline = time.time() + 30
        while len(fake.stored) < 8 and time.time() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        time.sleep(0.6)  # the requests that were out reach the gateway all the same
        reached = len(fake.stored)
        assert 8 <= reached < 40

        for name, value in gateway_settings.items():
            setattr(settings, name, value)
        from reminders.dispatch import dispatch_in_process

        time.sleep(2.1)  # the dead dispatcher's claim lapses
        second = dispatch_in_process()
        # Only what may have been in flight at the kill: four open and one handed over
        # ahead of them (handover.hand_over).
        assert 1 <= second["in_doubt"] <= 5
        # The tick that took the claim back asked the records at once: what reached the
        # gateway is settled; one handed over but never sent waits for the records' lag.
        waiting = second.get("waiting", 0)
        assert second["settled_sent"] == second["in_doubt"] - waiting
        assert second["sent"] == 40 - reached - waiting
        import time_machine

        with time_machine.travel(timezone.now() + timedelta(minutes=2)):
            third = dispatch_in_process()  # absent after the lag: sent now, once
        assert third.get("settled_not_sent", 0) == third.get("sent", 0) == waiting
        assert set(fake.sends_per_message().values()) == {1}
        assert len(fake.stored) == 40
        assert Message.objects.filter(status=Status.SENT).count() == 40
    finally:
        fake.stop()
