"""Prints each SMS to the log: for trying things out without any storage."""

from __future__ import annotations

import logging

from .base import Gateway, Outcome, OutgoingSms, SendResult

logger = logging.getLogger("reminders.sms")


class ConsoleGateway(Gateway):
    name = "console"

    def send(self, sms: OutgoingSms) -> SendResult:
        logger.info(
            "SMS #%d from %s to %s (%d segment): %s",
            sms.message_id,
            sms.sender,
            sms.to,
            sms.segments,
            sms.body,
        )
        return SendResult(sms.message_id, Outcome.ACCEPTED, gateway_ref=f"console-{sms.message_id}")
