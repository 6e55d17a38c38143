"""The connector's health for /metrics, read from its state row at scrape time (so every
process answers the same): when the last poll succeeded, how far behind the server's
changes we are, pages read, polls that failed, resources not taken."""

from __future__ import annotations

from collections.abc import Iterator

from django.conf import settings
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from .models import FhirPullState


class FhirPullCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        enabled = bool(settings.FHIR_PULL_BASE_URL)
        yield GaugeMetricFamily(
            "fhir_pull_enabled", "1 when FHIR_PULL_BASE_URL is set.", int(enabled)
        )
        yield GaugeMetricFamily(
            "fhir_pull_alert_after_seconds",
            "FHIR_PULL_ALERT_AFTER: the last successful poll may be this old.",
            settings.FHIR_PULL_ALERT_AFTER,
        )
        state = FhirPullState.objects.filter(name="default").first()
        now = timezone.now()
        success = state.last_success_at if state else None
        yield GaugeMetricFamily(
            "fhir_pull_last_success_timestamp_seconds",
            "When the last poll was applied in full (0: never).",
            success.timestamp() if success else 0.0,
        )
        yield GaugeMetricFamily(
            "fhir_pull_last_success_age_seconds",
            "Seconds since the last poll was applied in full (-1: never).",
            (now - success).total_seconds() if success else -1.0,
        )
        watermark = state.watermark if state else None
        yield GaugeMetricFamily(
            "fhir_pull_lag_seconds",
            "How far behind the server's changes the registry may be: now less the watermark "
            "(-1: no poll applied yet).",
            max((now - watermark).total_seconds(), 0.0) if watermark else -1.0,
        )
        yield GaugeMetricFamily(
            "fhir_pull_failures_in_row",
            "Polls that failed since the last one that succeeded.",
            state.failures_in_row if state else 0,
        )
        for name, text, field in (
            ("fhir_pull_polls", "Polls run.", "polls_total"),
            ("fhir_pull_errors", "Polls that failed and changed nothing.", "errors_total"),
            ("fhir_pull_pages", "Search pages read from the server.", "pages_total"),
            ("fhir_pull_applied", "Resources applied.", "applied_total"),
            ("fhir_pull_rejected", "Resources not taken (logged by id).", "rejected_total"),
        ):
            yield CounterMetricFamily(name, text, getattr(state, field) if state else 0)
