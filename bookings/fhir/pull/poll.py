"""One poll of the booking system's FHIR server (contract 2, "Fetching from the booking
system"): read everything first (fetch.py), then apply it (apply.py: what is new in bulk,
what exists through the same ingest as `/fhir/`, the same rules and idempotency), then
move the watermark.

- A poll that fails while reading changes nothing and the next one tries again; a poll
  applies each resource that exists here in its own transaction (what is new, a batch in
  one) and moves the watermark only once all are applied, so a crash half-way is applied
  again, to the same result, by the next poll.
- The watermark is the server's own time at the start of the poll (its `Date`), less a
  second: whatever changed while the poll paged is asked for again next time.
- A resource we cannot take (a clinic unknown here, a guardian the server does not have)
  is counted and logged by id, never by patient, and taken again at the next full listing.
- What the connector reads of a patient is in the access log, the connector as the actor.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from core.access_log.services import access_log_record_many
from core.models import ApiClient

from .apply import Applier
from .client import PullClient, PullConfig, PullFailed
from .fetch import Plan, plan_read
from .models import FhirPullState

logger = logging.getLogger(__name__)

CONNECTOR_NAME = "FHIR-hämtning från bokningssystemet"
ACCESS_ACTION = "fhir_pull"  # core.access_log AccessLog.Action.FHIR_PULL
STATE = "default"


@dataclass
class PollReport:
    mode: str = ""  # "full" (the window listed) or "changes" (what changed)
    ran: bool = False  # False: not configured, not due, or another poll holds the lease
    dry_run: bool = False
    pages: int = 0
    appointments: int = 0
    patients: int = 0
    read_directly: int = 0
    created: int = 0
    applied: int = 0
    cancelled_gone: int = 0
    rejected: int = 0
    error: str = ""


def config_from_settings() -> PullConfig:
    private_key = ""
    if settings.FHIR_PULL_PRIVATE_KEY:
        with open(settings.FHIR_PULL_PRIVATE_KEY, encoding="ascii") as pem:
            private_key = pem.read()
    return PullConfig(
        base_url=settings.FHIR_PULL_BASE_URL,
        token_url=settings.FHIR_PULL_TOKEN_URL,
        client_id=settings.FHIR_PULL_CLIENT_ID,
        client_secret=settings.FHIR_PULL_CLIENT_SECRET,
        private_key=private_key,
        key_id=settings.FHIR_PULL_KEY_ID,
        scope=settings.FHIR_PULL_SCOPE,
        timeout=settings.FHIR_PULL_TIMEOUT,
        retries=settings.FHIR_PULL_RETRIES,
        max_wait=settings.FHIR_PULL_MAX_WAIT,
    )


def connector_client() -> ApiClient:
    """The connector as an actor of the access log: an API client that cannot log in (no
    key anyone knows, inactive), named for what it is."""
    client, _ = ApiClient.objects.get_or_create(
        name=CONNECTOR_NAME,
        defaults={
            "key_prefix": secrets.token_hex(6),
            "key_hash": ApiClient.hash_key(secrets.token_urlsafe(32)),
            "scopes": [],
            "is_active": False,
        },
    )
    return client


def _appointment_capability(capability: dict[str, Any]) -> tuple[bool, bool]:
    """What the server's CapabilityStatement offers for Appointment searches: whether it
    matches `_lastUpdated`, and whether it includes the Patients (`Appointment:patient`)."""
    for rest in capability.get("rest") or []:
        common = [p.get("name") for p in rest.get("searchParam") or []]
        for resource in rest.get("resource") or []:
            if resource.get("type") == "Appointment":
                names = common + [p.get("name") for p in resource.get("searchParam") or []]
                return "_lastUpdated" in names, "Appointment:patient" in (
                    resource.get("searchInclude") or []
                )
    return False, False


def _lease(now: datetime) -> bool:
    FhirPullState.objects.get_or_create(name=STATE)
    hold = timedelta(seconds=max(600, 3 * settings.FHIR_PULL_INTERVAL))
    taken = (
        FhirPullState.objects.filter(name=STATE)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_until=now + hold)
    )
    return taken == 1


def _apply(plan: Plan, report: PollReport, watermark: datetime | None, client: PullClient) -> None:
    applier = Applier(report, watermark, client)
    applier.patients(plan)
    applier.appointments(plan)
    applier.gone(plan)
    if applier.read:
        access_log_record_many(
            actor=connector_client(),
            clinic=None,
            action=ACCESS_ACTION,
            patient_ids=applier.read,
        )


def fhir_pull_poll(
    *,
    dry_run: bool = False,
    force: bool = False,
    client: PullClient | None = None,
    now: datetime | None = None,
) -> PollReport:
    """One poll, if the connector is configured and a poll is due (or `force`): see the
    module. `dry_run` reads and applies in a transaction that is rolled back."""
    report = PollReport(dry_run=dry_run)
    if not settings.FHIR_PULL_BASE_URL:
        return report
    now = now or timezone.now()
    state, _ = FhirPullState.objects.get_or_create(name=STATE)
    if not force and not dry_run and not _due(state, now):
        return report
    if not dry_run and not _lease(now):
        return report
    report.ran = True
    if client is not None:
        return _run(client, state, report, now=now, dry_run=dry_run)
    with httpx.Client() as http:
        return _run(
            PullClient(config_from_settings(), http=http), state, report, now=now, dry_run=dry_run
        )


def _run(
    client: PullClient, state: FhirPullState, report: PollReport, *, now: datetime, dry_run: bool
) -> PollReport:
    try:
        capability = client.capability()
        incremental, include_patients = _appointment_capability(capability)
        full = (
            state.watermark is None
            or not incremental
            or state.last_full_at is None
            or now - state.last_full_at >= timedelta(seconds=settings.FHIR_PULL_FULL_SWEEP)
        )
        report.mode = "full" if full else "changes"
        plan = plan_read(
            client,
            now=now,
            window=timedelta(seconds=settings.FHIR_PULL_WINDOW),
            page_size=settings.FHIR_PULL_PAGE_SIZE,
            full=full,
            since=None if full else state.watermark,
            window_end=state.window_end,
            reread_patients=not incremental,
            include_patients=include_patients,
        )
    except PullFailed as error:
        report.pages, report.error = client.pages, str(error)
        logger.warning("fhir_pull: poll failed, nothing applied: %s", error)
        if not dry_run:
            _record_failure(now, client.pages, str(error))
        return report
    report.pages = client.pages
    report.appointments = len(plan.appointments)
    report.patients = len(plan.patients)
    report.read_directly = plan.read_directly
    # The watermark: the server's time at the start of the poll, by its own clock (the
    # first page's time, else its Date header, a second back as Date counts whole seconds).
    if client.search_time is not None:
        watermark = client.search_time - timedelta(milliseconds=1)
    else:
        watermark = (client.server_time or now).replace(microsecond=0) - timedelta(seconds=1)
    if dry_run:
        with transaction.atomic():
            _apply(plan, report, state.watermark, client)
            transaction.set_rollback(True)
        return report
    try:
        _apply(plan, report, state.watermark, client)
    except Exception as error:
        _record_failure(now, client.pages, f"applying failed ({type(error).__name__})")
        raise
    FhirPullState.objects.filter(name=STATE).update(
        watermark=watermark,
        window_end=now + timedelta(seconds=settings.FHIR_PULL_WINDOW),
        last_full_at=now if full else F("last_full_at"),
        last_attempt_at=now,
        last_success_at=timezone.now(),
        last_error="",
        failures_in_row=0,
        polls_total=F("polls_total") + 1,
        pages_total=F("pages_total") + client.pages,
        applied_total=F("applied_total") + report.applied,
        rejected_total=F("rejected_total") + report.rejected,
        lease_until=None,
    )
    logger.info(
        "fhir_pull: %s poll applied %d, rejected %d, cancelled %d gone, %d pages",
        report.mode,
        report.applied,
        report.rejected,
        report.cancelled_gone,
        report.pages,
    )
    return report


def _due(state: FhirPullState, now: datetime) -> bool:
    """A poll every FHIR_PULL_INTERVAL seconds; after a failure sooner, doubling from 15 s."""
    if state.last_attempt_at is None:
        return True
    interval = settings.FHIR_PULL_INTERVAL
    if state.failures_in_row:
        interval = min(interval, 15 * 2 ** (state.failures_in_row - 1))
    return now - state.last_attempt_at >= timedelta(seconds=interval) - timedelta(seconds=1)


def _record_failure(now: datetime, pages: int, error: str) -> None:
    FhirPullState.objects.filter(name=STATE).update(
        last_attempt_at=now,
        last_error=error[:200],
        failures_in_row=F("failures_in_row") + 1,
        polls_total=F("polls_total") + 1,
        errors_total=F("errors_total") + 1,
        pages_total=F("pages_total") + pages,
        lease_until=None,
    )
