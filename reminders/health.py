"""What operations watch of the sending (operations 3): the beat's heartbeat, how late the
queue is, and the Prometheus metrics the processes record (multiprocess-safe: gunicorn's
and Celery's processes each write their own file under PROMETHEUS_MULTIPROC_DIR).

Counters and histograms are recorded where things happen; the queue's gauges and the SMS
by status are read from the database when Prometheus scrapes (`QueueCollector`), so every
process answers the same."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from .models import Heartbeat, Message, Status

LATE_AFTER = timedelta(minutes=5)  # a due message older than this is late (operations 3)
BEAT_SILENT_AFTER = timedelta(minutes=2)
STATUS_WINDOW = timedelta(hours=24)  # SMS by status: messages due in the last day

# Recorded where it happens (all processes, summed by the multiprocess collector).
GATEWAY_LATENCY = Histogram(
    "sms_gateway_request_seconds",
    "Time of one HTTP exchange with an SMS gateway, by gateway and outcome.",
    ["gateway", "outcome"],
    buckets=(0.025, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30),
)
DISPATCH_OUTCOMES = Counter(
    "sms_dispatch_outcomes",
    "What the dispatcher did with each claimed message (sent, retry, unknown, suppressed…).",
    ["outcome"],
)
DELIVERY_REPORT_LAG = Histogram(
    "sms_delivery_report_lag_seconds",
    "From handing an SMS to the gateway until its delivery report arrived.",
    ["gateway", "status"],
    buckets=(1, 5, 15, 60, 300, 900, 3600, 6 * 3600, 24 * 3600),
)


def heartbeat_record(name: str, *, at: datetime | None = None) -> None:
    Heartbeat.objects.update_or_create(name=name, defaults={"at": at or timezone.now()})


def heartbeat_age(name: str, *, now: datetime | None = None) -> timedelta | None:
    at = Heartbeat.objects.filter(name=name).values_list("at", flat=True).first()
    return None if at is None else (now or timezone.now()) - at


@dataclass(frozen=True)
class QueueState:
    due: int  # scheduled and due now
    late: int  # due more than LATE_AFTER ago
    oldest_due_seconds: float  # 0 when nothing is due


def queue_state(*, now: datetime | None = None) -> QueueState:
    """One read of the partial index of scheduled messages."""
    now = now or timezone.now()
    due = Message.objects.filter(status=Status.SCHEDULED, due_at__lte=now)
    row = due.aggregate(n=Count("id"), oldest=Min("due_at"))
    late = due.filter(due_at__lt=now - LATE_AFTER).count() if row["n"] else 0
    oldest = (now - row["oldest"]).total_seconds() if row["oldest"] else 0.0
    return QueueState(due=row["n"], late=late, oldest_due_seconds=max(oldest, 0.0))


class QueueCollector(Collector):
    """Gauges read from the database at scrape time."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = timezone.now()
        state = queue_state(now=now)
        yield GaugeMetricFamily("sms_due_messages", "Messages due and not yet sent.", state.due)
        yield GaugeMetricFamily(
            "sms_late_messages", "Messages due more than 5 minutes ago.", state.late
        )
        yield GaugeMetricFamily(
            "sms_oldest_due_seconds", "Age of the oldest due message.", state.oldest_due_seconds
        )
        age = heartbeat_age("tick", now=now)
        yield GaugeMetricFamily(
            "sms_beat_last_tick_age_seconds",
            "Seconds since the beat's tick last ran (-1: never).",
            age.total_seconds() if age is not None else -1.0,
        )
        by_status = GaugeMetricFamily(
            "sms_messages",
            "Messages due in the last 24 hours, by status, reason and gateway.",
            labels=["status", "reason", "gateway"],
        )
        rows = (
            Message.objects.filter(due_at__gte=now - STATUS_WINDOW, due_at__lte=now)
            .values("status", "reason", "gateway")
            .annotate(n=Count("id"))
        )
        for row in rows:
            by_status.add_metric([row["status"], row["reason"], row["gateway"]], row["n"])
        yield by_status
