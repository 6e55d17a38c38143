"""One poll of the booking system's FHIR server (contract 2, "Fetching from the booking
system"): read everything first (fetch.py), then apply it through the same ingest as
`/fhir/` (ingest.py: the same services, rules and idempotency), then move the watermark.

- A poll that fails while reading changes nothing and the next one tries again; a poll
  applies each resource in its own transaction and moves the watermark only once all are
  applied, so a crash half-way is applied again, to the same result, by the next poll.
- The watermark is the server's own time at the start of the poll (its `Date`), less a
  second: whatever changed while the poll paged is asked for again next time.
- A resource we cannot take (a clinic unknown here, a guardian the server does not have)
  is counted and logged by id, never by patient, and taken again at the next full listing.
- What the connector reads of a patient is in the access log, the connector as the actor.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import httpx
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from fhir.resources.R4B.appointment import Appointment as FhirAppointment
from fhir.resources.R4B.patient import Patient as FhirPatient

from core.access_log.services import access_log_record_many
from core.errors import DomainError
from core.models import ApiClient

from ... import identity, services
from ...models import Appointment, Patient
from .. import appointments, ingest
from ..mapping import PERSONNUMMER, SAMORDNINGSNUMMER
from ..outcome import FhirError
from .client import PullClient, PullConfig, PullFailed, instant
from .fetch import Plan, guardians_named, patient_named, plan_read
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


def _with_identifier(resource: dict[str, Any], pid: str) -> dict[str, Any]:
    """An appointment whose patient is named by reference only, with the personnummer of
    the Patient it references added to the actor (what ingest reads)."""
    raw = {**resource, "participant": [dict(p) for p in resource.get("participant") or []]}
    coordination = identity.parse_personal_id(pid).is_coordination_number
    system = SAMORDNINGSNUMMER if coordination else PERSONNUMMER
    for participant in raw["participant"]:
        actor = participant.get("actor")
        if isinstance(actor, dict) and str(actor.get("reference", "")).split("/")[-2:-1] == [
            "Patient"
        ]:
            participant["actor"] = {**actor, "identifier": {"system": system, "value": pid}}
    return raw


def _each(items: list[Any], apply: Callable[[Any], None], workers: int) -> None:
    """`apply` to every item: in this thread, or spread over `workers` threads, each with
    its own database connection (FHIR_PULL_WORKERS; never inside a transaction, whose
    writes other connections could not see)."""
    if workers <= 1 or len(items) < 2 * workers or connection.in_atomic_block:
        for item in items:
            apply(item)
        return

    def run(share: list[Any]) -> None:
        try:
            for item in share:
                apply(item)
        finally:
            connection.close()  # this thread's own

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for done in [pool.submit(run, items[i::workers]) for i in range(workers)]:
            done.result()


class _Applier:
    """Applies a plan: what is new here in bulk (services.patients_create and
    appointments_create, the same rules in a statement for many), what exists already one
    by one through the ingest (compared, versioned, moved, cancelled)."""

    def __init__(self, report: PollReport, since: datetime | None, client: PullClient) -> None:
        self.report = report
        self.since = since
        self.client = client
        self.read: list[int] = []  # patients whose data the connector read
        self.workers = settings.FHIR_PULL_WORKERS
        self.lock = threading.Lock()

    def _count(self, *, created: bool, patient_id: int | None) -> None:
        with self.lock:
            self.report.applied += 1
            self.report.created += int(created)
            if patient_id is not None:
                self.read.append(patient_id)

    def _rejected(self, what: str, resource_id: str, error: Exception) -> None:
        with self.lock:
            self.report.rejected += 1
        code = getattr(error, "code", type(error).__name__)
        logger.warning("fhir_pull: %s %s not applied (%s)", what, resource_id, code)

    def patients(self, plan: Plan) -> None:
        pending = dict(plan.patients)
        # Guardians before their wards: a patient waits while a guardian it names is pending.
        while pending:
            ready = [
                pid
                for pid, raw in pending.items()
                if not any(g in pending and g != pid for g in guardians_named(raw))
            ] or list(pending)
            batch = {pid: pending.pop(pid) for pid in ready}
            one_by_one = self._patients_new(batch)
            _each([(pid, batch[pid]) for pid in one_by_one], self._patient, self.workers)

    def _patients_new(self, batch: dict[str, dict[str, Any]]) -> list[str]:
        """The batch's patients unknown here, written in bulk; the personnummer left for
        the one-by-one path (known ones, replaced identities, a race with a push)."""
        known = set(
            Patient.objects.filter(personal_id__in=list(batch)).values_list(
                "personal_id", flat=True
            )
        )
        left = [pid for pid in batch if pid in known]
        rows: dict[str, dict[str, Any]] = {}
        for pid, raw in batch.items():
            if pid in known:
                continue
            try:
                fields, successor = ingest.patient_wanted(
                    raw=raw,
                    resource_id=str(raw.get("id")),
                    personal_id=identity.parse_personal_id(pid),
                    parsed=cast(FhirPatient | None, self.client.reading(raw)),
                )
            except (FhirError, DomainError) as error:
                self._rejected("Patient", str(raw.get("id")), error)
                continue
            if successor:
                left.append(pid)
            else:
                rows[pid] = fields
        if not rows:
            return left
        try:
            result = services.patients_create(rows=list(rows.values()))
        except IntegrityError:  # one was created meanwhile (a push): all of them one by one
            return left + list(rows)
        for patient in result.created:
            self._count(created=True, patient_id=patient.pk)
        for pid, refusal in result.refused.items():
            self._rejected("Patient", str(batch[pid].get("id")), refusal)
        return left + result.left

    def _patient(self, item: tuple[str, dict[str, Any]]) -> None:
        pid, raw = item
        try:
            patient, created = ingest.patient_ingest(
                raw=raw,
                resource_id=str(raw.get("id")),
                personal_id=identity.parse_personal_id(pid),
            )
        except (FhirError, DomainError) as error:
            self._rejected("Patient", str(raw.get("id")), error)
            return
        self._count(created=created, patient_id=patient.pk)

    def appointments(self, plan: Plan) -> None:
        items = {}
        for external_id, raw in plan.appointments.items():
            pid, ref = patient_named(raw)
            if pid is None and ref is not None and ref in plan.patient_refs:
                raw = _with_identifier(raw, plan.patient_refs[ref])
            items[external_id] = raw
        one_by_one = self._appointments_new(items)

        def apply(external_id: str) -> None:
            raw = items[external_id]
            changed = instant((raw.get("meta") or {}).get("lastUpdated"))
            try:
                appointment, created = ingest.appointment_ingest(
                    raw=raw,
                    external_id=external_id,
                    parsed=cast(FhirAppointment | None, self.client.reading(raw)),
                )
            except (FhirError, DomainError) as error:
                self._rejected("Appointment", external_id, error)
                return
            news = created or self.since is None or changed is None or changed > self.since
            self._count(created=created, patient_id=appointment.patient_id if news else None)

        _each(one_by_one, apply, self.workers)

    def _appointments_new(self, items: dict[str, dict[str, Any]]) -> list[str]:
        """The contacts unknown here, written in bulk; the external ids left for the
        one-by-one path (known ones, a race with a push)."""
        known = set(
            Appointment.objects.filter(external_id__in=list(items)).values_list(
                "external_id", flat=True
            )
        )
        left = [key for key in items if key in known]
        rows = []
        for external_id, raw in items.items():
            if external_id in known:
                continue
            try:
                rows.append(
                    ingest.appointment_wanted(
                        raw=raw,
                        external_id=external_id,
                        parsed=cast(FhirAppointment | None, self.client.reading(raw)),
                    )
                )
            except (FhirError, DomainError) as error:
                self._rejected("Appointment", external_id, error)
        if not rows:
            return left
        try:
            result = services.appointments_create(rows=rows)
        except IntegrityError:  # one was created meanwhile (a push): all of them one by one
            return left + [str(row["external_id"]) for row in rows]
        for appointment in result.created:
            self._count(created=True, patient_id=appointment.patient_id)
        for external_id, refusal in result.refused.items():
            self._rejected("Appointment", external_id, refusal)
        return left + result.left

    def gone(self, plan: Plan) -> None:
        """Contacts the server says do not exist (404/410): cancelled, through the same
        ingest, as the booking system's own cancellation would be."""
        for appointment in Appointment.objects.filter(external_id__in=plan.gone).select_related(
            "patient", "clinic"
        ):
            raw = appointments.appointment_resource(appointment).model_dump(
                mode="json", exclude_none=True
            )
            raw["status"] = "cancelled"
            try:
                ingest.appointment_ingest(raw=raw, external_id=appointment.external_id)
            except (FhirError, DomainError) as error:
                self._rejected("Appointment", appointment.external_id, error)
                continue
            self.report.cancelled_gone += 1
            self.read.append(appointment.patient_id)


def _apply(plan: Plan, report: PollReport, watermark: datetime | None, client: PullClient) -> None:
    applier = _Applier(report, watermark, client)
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
