"""The default gateway: nothing leaves the machine. The message row itself is the stored
SMS (number, text, segments, time), readable in the back office and through
`GET /api/v1/outbox/`; so "sending" is accepting, inside the dispatch transaction, and a
resend after a crash stores nothing twice."""

from __future__ import annotations

from .base import Gateway, Outcome, OutgoingSms, SendResult


class OutboxGateway(Gateway):
    name = "outbox"
    transactional = True

    def send(self, sms: OutgoingSms) -> SendResult:
        # No reference of its own: the message row is the SMS.
        return SendResult(sms.message_id, Outcome.ACCEPTED)
