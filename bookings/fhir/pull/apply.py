"""Applying what a poll read (poll.py): what is new here in bulk, what exists one by one
through the same ingest as `/fhir/`, guardians before their wards, and the contacts the
server says are gone cancelled as its own cancellation would be."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from django.conf import settings
from django.db import IntegrityError, connection
from fhir.resources.R4B.appointment import Appointment as FhirAppointment
from fhir.resources.R4B.patient import Patient as FhirPatient

from core.errors import DomainError

from ... import identity, services
from ...models import Appointment, Patient
from .. import appointments, ingest
from ..mapping import PERSONNUMMER, SAMORDNINGSNUMMER
from ..outcome import FhirError
from .client import PullClient, instant
from .fetch import Plan, guardians_named, patient_named

if TYPE_CHECKING:
    from .poll import PollReport

logger = logging.getLogger("bookings.fhir.pull.poll")  # one logger for a poll's lines


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


class Applier:
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
