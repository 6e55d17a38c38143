"""A gateway for tests: records every SMS handed to it and fails on demand, at once.
(Tests of the network's behaviour use tests/fakegateway.py, a real HTTP server.)"""

from __future__ import annotations

import time
from collections import Counter
from typing import ClassVar

from reminders.gateways import Gateway, Outcome, OutgoingSms, SendResult


class RecordingGateway(Gateway):
    name = "recording"
    sent: ClassVar[list[OutgoingSms]] = []
    mode: ClassVar[str] = "ok"  # ok | transient | reject
    unreachable: ClassVar[set[str]] = set()  # numbers that fail transiently in any mode
    exploding: ClassVar[set[str]] = set()  # numbers the gateway's own code fails on
    throttled: ClassVar[set[str]] = set()  # numbers answered with a 429 every time
    refused_429: ClassVar[list[int]] = []  # the messages answered with a 429, each time
    down: ClassVar[set[str]] = set()  # numbers answered "the gateway is not taking traffic"
    slow: ClassVar[dict[str, float]] = {}  # numbers answered after this many seconds
    tried: ClassVar[list[int]] = []  # every message handed to `send`, each time

    @classmethod
    def reset(cls, mode: str = "ok") -> None:
        cls.sent.clear()
        cls.mode = mode
        cls.unreachable = set()
        cls.exploding = set()
        cls.throttled = set()
        cls.refused_429.clear()
        cls.down = set()
        cls.slow = {}
        cls.tried.clear()

    @classmethod
    def sends_per_message(cls) -> Counter[int]:
        return Counter(s.message_id for s in cls.sent)

    def send(self, sms: OutgoingSms) -> SendResult:
        self.tried.append(sms.message_id)
        time.sleep(self.slow.get(sms.to, 0))
        if sms.to in self.down:
            return SendResult(
                sms.message_id, Outcome.NOT_SENT, detail="503 down", gateway_down=True
            )
        if sms.to in self.exploding:
            raise RuntimeError("the gateway's code failed")
        if sms.to in self.throttled:
            self.refused_429.append(sms.message_id)
            return SendResult(sms.message_id, Outcome.NOT_SENT, detail="429", retry_after=0.01)
        if self.mode == "transient" or sms.to in self.unreachable:
            return SendResult(sms.message_id, Outcome.NOT_SENT, detail="503 Service Unavailable")
        self.sent.append(sms)
        if self.mode == "reject":
            return SendResult(sms.message_id, Outcome.REFUSED, detail="HTTP 400: invalid to")
        return SendResult(sms.message_id, Outcome.ACCEPTED, gateway_ref=f"rec-{sms.message_id}")


class TransactionalRecordingGateway(RecordingGateway):
    """Like the outbox: sends inside the dispatch transaction."""

    name = "recording-tx"
    transactional = True
