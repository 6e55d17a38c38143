"""The default gateway: stores each SMS in the outbox, where the back office and
`GET /api/v1/outbox/` show it. Nothing leaves the machine."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection

from ..models import OutboxSms
from .base import Gateway, OutgoingSms, SendResult


class OutboxGateway(Gateway):
    name = "outbox"
    idempotent = True  # one outbox row per message: a resend stores nothing new
    transactional = True

    def send(self, sms: OutgoingSms) -> SendResult:
        return self.send_many([sms])[0]

    def send_many(self, batch: Sequence[OutgoingSms]) -> list[SendResult]:
        if connection.vendor == "postgresql":
            # One INSERT … SELECT FROM unnest(arrays): the outbox keeps up with the loop.
            with connection.cursor() as cursor:
                cursor.execute(
                    """INSERT INTO reminders_outboxsms (message_id, "to", sender, body, segments,
                                                       created_at)
                       SELECT m, t, s, b, n, now()
                       FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[],
                                   %s::int[]) AS v(m, t, s, b, n)
                       ON CONFLICT (message_id) DO NOTHING""",
                    [
                        [s.message_id for s in batch],
                        [s.to for s in batch],
                        [s.sender for s in batch],
                        [s.body for s in batch],
                        [s.segments for s in batch],
                    ],
                )
        else:
            OutboxSms.objects.bulk_create(
                [
                    OutboxSms(
                        message_id=s.message_id,
                        to=s.to,
                        sender=s.sender,
                        body=s.body,
                        segments=s.segments,
                    )
                    for s in batch
                ],
                ignore_conflicts=True,
            )
        return [SendResult(s.message_id, True, gateway_ref=f"outbox-{s.message_id}") for s in batch]
