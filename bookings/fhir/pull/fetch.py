"""What one poll reads from the booking system's FHIR server, before anything is applied:
the appointments (the window in full, or what changed in it), the patients they name that
are unknown here, those patients' guardians, and a direct read of every contact known here
that the full listing no longer shows. A failure anywhere here is a PullFailed and nothing
has been written."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from core.errors import DomainError

from ... import identity
from ...models import Appointment, AppointmentStatus, Patient
from ..mapping import PERSONAL_ID_SYSTEMS
from .client import PullClient

BATCH = 100  # identifiers or ids in one search (a URL of about 1,400 characters)


@dataclass
class Plan:
    """What the poll will apply, in order: guardians and patients, appointments, and the
    contacts that are gone from the server (404/410)."""

    full: bool
    since: datetime | None  # the watermark asked with, if any
    appointments: dict[str, dict[str, Any]] = field(default_factory=dict)  # by id
    patients: dict[str, dict[str, Any]] = field(default_factory=dict)  # by personnummer
    patient_refs: dict[str, str] = field(default_factory=dict)  # Patient id → personnummer
    gone: list[str] = field(default_factory=list)  # external ids the server says are gone
    read_directly: int = 0


def _utc(moment: datetime) -> str:
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def personal_id_in(identifiers: Any) -> str | None:
    """The personnummer or samordningsnummer among a resource's identifiers, if any."""
    if isinstance(identifiers, dict):
        identifiers = [identifiers]
    for ident in identifiers or []:
        if isinstance(ident, dict) and ident.get("system") in PERSONAL_ID_SYSTEMS:
            try:
                return identity.parse_personal_id(str(ident.get("value") or "")).value
            except DomainError:
                return None
    return None


def patient_named(appointment: dict[str, Any]) -> tuple[str | None, str | None]:
    """The appointment's patient: (personnummer, Patient id on the server), either may be
    None (an actor by identifier, by reference, or both)."""
    for participant in appointment.get("participant") or []:
        actor = participant.get("actor") if isinstance(participant, dict) else None
        if not isinstance(actor, dict):
            continue
        reference = str(actor.get("reference") or "")
        parts = reference.rstrip("/").split("/")
        ref_type = parts[-2] if len(parts) >= 2 else None
        kind = actor.get("type") or ref_type
        pid = personal_id_in(actor.get("identifier"))
        if kind == "Patient" or (kind is None and pid):
            return pid, (parts[-1] if ref_type == "Patient" else None)
    return None, None


def guardians_named(patient: dict[str, Any]) -> list[str]:
    """The personnummer of each guardian a Patient links to (link seealso → RelatedPerson)."""
    found = []
    for link in patient.get("link") or []:
        other = link.get("other") if isinstance(link, dict) else None
        pid = personal_id_in(other.get("identifier")) if isinstance(other, dict) else None
        if pid:
            found.append(pid)
    return found


def _newer(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Of two copies of a resource (a page served twice, a resource that moved between
    pages), the one the server changed last."""
    when_a = str((a.get("meta") or {}).get("lastUpdated") or "")
    when_b = str((b.get("meta") or {}).get("lastUpdated") or "")
    return b if when_b >= when_a else a


def _collect(into: dict[str, dict[str, Any]], pages: Iterable[list[dict[str, Any]]]) -> None:
    for page in pages:
        for resource in page:
            key = str(resource.get("id"))
            into[key] = _newer(into[key], resource) if key in into else resource


def _search_patients(client: PullClient, values: list[str], param: str) -> list[dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(values), BATCH):
        chunk = values[start : start + BATCH]
        _collect(found, client.search("Patient", {param: ",".join(chunk), "_count": BATCH * 2}))
    return list(found.values())


def _by_identifier(pids: Iterable[str]) -> list[str]:
    """Search values for these personnummer: the number alone, which matches it in any
    system (HL7 Sweden's URIs or the OIDs); what comes back is read by its system."""
    return sorted(set(pids))


def _add_patients(plan: Plan, resources: Iterable[dict[str, Any]]) -> None:
    for resource in resources:
        pid = personal_id_in(resource.get("identifier"))
        if pid is None:
            continue  # not one of ours to register: its appointments are refused when applied
        plan.patients[pid] = (
            _newer(plan.patients[pid], resource) if pid in plan.patients else resource
        )
        plan.patient_refs[str(resource.get("id"))] = pid


def plan_read(
    client: PullClient,
    *,
    now: datetime,
    window: timedelta,
    page_size: int,
    full: bool,
    since: datetime | None,
    window_end: datetime | None,
    reread_patients: bool,
    include_patients: bool = False,
) -> Plan:
    """Everything one poll will apply, read from the server (see the module).
    `include_patients`: the server offers `_include=Appointment:patient`, so the pages
    bring the Patients their appointments reference."""
    plan = Plan(full=full, since=since)
    end = now + window
    extra: dict[str, Any] = {"_include": "Appointment:patient"} if include_patients else {}
    included: list[dict[str, Any]] = []

    def appointments(params: dict[str, Any]) -> None:
        _collect(plan.appointments, client.search("Appointment", {**params, **extra}, included))

    if full or since is None:
        appointments({"date": [f"ge{_utc(now)}", f"le{_utc(end)}"], "_count": page_size})
    else:
        # What changed since the watermark, wherever it now starts (a move out of the window
        # is a change too), and whatever has come inside the window since the last poll.
        appointments(
            {"date": f"ge{_utc(now)}", "_lastUpdated": f"gt{_utc(since)}", "_count": page_size}
        )
        if window_end is not None and end > window_end:
            appointments({"date": [f"gt{_utc(window_end)}", f"le{_utc(end)}"], "_count": page_size})

    if full:
        listed = set(plan.appointments)
        known = Appointment.objects.filter(
            starts_at__gte=now, starts_at__lte=end, status=AppointmentStatus.BOOKED
        ).values_list("external_id", flat=True)
        for external_id in sorted(set(known) - listed):
            # Not listed is not cancelled: only the server's own word is (404/410, status).
            plan.read_directly += 1
            resource = client.read("Appointment", external_id)
            if resource is None:
                plan.gone.append(external_id)
            else:
                plan.appointments[external_id] = resource

    # The patients: those named that are unknown here (all named ones where the server
    # cannot say what changed), and, between full listings, every known one that changed.
    # The Patients the pages brought (the appointments' references): taken as the searches
    # below would take them, those unknown here (all where the server cannot say what
    # changed); a known one is only mapped, its changes come with the changed Patients.
    brought = [r for r in included if r.get("resourceType") == "Patient"]
    if not reread_patients:
        ids = {personal_id_in(r.get("identifier")) for r in brought} - {None}
        here = set(
            Patient.objects.filter(personal_id__in=ids).values_list("personal_id", flat=True)
        )
        for resource in brought:
            pid = personal_id_in(resource.get("identifier"))
            if pid in here:
                plan.patient_refs[str(resource.get("id"))] = pid
        brought = [r for r in brought if personal_id_in(r.get("identifier")) not in here]
    _add_patients(plan, brought)
    named_pids, named_refs = set(), set()
    for resource in plan.appointments.values():
        pid, ref = patient_named(resource)
        if pid:
            named_pids.add(pid)
        elif ref:
            named_refs.add(ref)
    named_pids -= set(plan.patients)
    named_refs -= set(plan.patient_refs)
    known_pids = set(
        Patient.objects.filter(personal_id__in=named_pids).values_list("personal_id", flat=True)
    )
    wanted = named_pids if reread_patients else named_pids - known_pids
    _add_patients(plan, _search_patients(client, _by_identifier(wanted), "identifier"))
    _add_patients(plan, _search_patients(client, sorted(named_refs), "_id"))
    if not full and since is not None and not reread_patients:
        changed: dict[str, dict[str, Any]] = {}
        params = {"_lastUpdated": f"gt{_utc(since)}", "_count": page_size}
        _collect(changed, client.search("Patient", params))
        pids = {personal_id_in(r.get("identifier")): r for r in changed.values()}
        ours = set(
            Patient.objects.filter(personal_id__in=[p for p in pids if p]).values_list(
                "personal_id", flat=True
            )
        )
        _add_patients(plan, [r for p, r in pids.items() if p in ours])

    # Their guardians, unknown here, up to two generations (a guardian's own guardian).
    for _ in range(2):
        needed = {g for r in plan.patients.values() for g in guardians_named(r)}
        needed -= set(plan.patients)
        needed -= set(
            Patient.objects.filter(personal_id__in=needed).values_list("personal_id", flat=True)
        )
        if not needed:
            break
        _add_patients(plan, _search_patients(client, _by_identifier(needed), "identifier"))
    # A guardian the server has only as a RelatedPerson is registered from it: who they
    # are, not a number (a guardian's number is the one they give us, rules 3.1).
    needed = {g for r in plan.patients.values() for g in guardians_named(r)} - set(plan.patients)
    needed -= set(
        Patient.objects.filter(personal_id__in=needed).values_list("personal_id", flat=True)
    )
    if needed:
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(needed), BATCH):
            chunk = _by_identifier(needed)[start : start + BATCH]
            params = {"identifier": ",".join(chunk), "_count": BATCH * 2}
            _collect(found, client.search("RelatedPerson", params))
        _add_patients(plan, [_as_patient(r) for r in found.values()])
    return plan


def _as_patient(related: dict[str, Any]) -> dict[str, Any]:
    """A guardian's RelatedPerson as the Patient the registry keeps of them."""
    patient: dict[str, Any] = {"resourceType": "Patient", "id": related.get("id")}
    for key in ("identifier", "name"):
        if key in related:
            patient[key] = related[key]
    return patient
