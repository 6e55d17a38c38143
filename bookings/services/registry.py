"""Writes to the registry: clinics and patients (the population register's sync, the
legacy import). Each service is one transaction and says what it guarantees."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, time, timedelta
from enum import Enum

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.errors import DomainError, PreconditionFailed

from .. import identity, texts
from ..models import (
    Appointment,
    Clinic,
    Guardianship,
    NumberSource,
    Patient,
    ProtectionChange,
)
from ..signals import patient_deceased, patient_replaced


def checkin_link_length() -> int:
    return len(settings.CHECKIN_BASE_URL) + texts.CHECKIN_TOKEN_LENGTH


def clinic_validate_sms_name(sms_name: str) -> str:
    """The SMS name as it will be sent (typographic characters normalised), or a
    DomainError saying how many characters are allowed."""
    problem = texts.sms_name_problem(sms_name, checkin_link_length=checkin_link_length())
    if problem:
        code, message = problem
        raise DomainError(message, field="sms_name", code=code)
    return texts.normalise_gsm7(sms_name).strip()


@transaction.atomic
def clinic_upsert(
    *,
    hsa_id: str,
    name: str,
    sms_name: str,
    self_checkin: bool,
    arrival_question: bool,
    mobile_payment: bool | None = None,
    swish_payee_alias: str | None = None,
) -> tuple[Clinic, bool]:
    """Creates or updates the clinic with this HSA-id. Refuses an SMS name that would not
    fit one segment, changing nothing. `mobile_payment` and `swish_payee_alias` (rules
    3.5c) left out (None) stay as they are (off and the region's number for a new one)."""
    hsa_id = identity.parse_hsa_id(hsa_id)
    if swish_payee_alias and not SWISH_ALIAS.fullmatch(swish_payee_alias):
        raise DomainError(
            "Swish-numret ska vara 10 siffror som börjar med 123.",
            field="swish_payee_alias",
            code="invalid_swish_alias",
        )
    name = name.strip()
    if not name:
        raise DomainError("Namnet får inte vara tomt.", field="name", code="blank")
    clean_sms_name = clinic_validate_sms_name(sms_name)
    clinic, created = Clinic.objects.select_for_update().get_or_create(
        hsa_id=hsa_id,
        defaults={
            "name": name,
            "sms_name": clean_sms_name,
            "self_checkin": self_checkin,
            "arrival_question": arrival_question,
        },
    )
    if mobile_payment is not None:
        clinic.mobile_payment = mobile_payment
    if swish_payee_alias is not None:
        clinic.swish_payee_alias = swish_payee_alias
    if not created:
        clinic.name = name
        clinic.sms_name = clean_sms_name
        clinic.self_checkin = self_checkin
        clinic.arrival_question = arrival_question
    if not created or mobile_payment is not None or swish_payee_alias is not None:
        clinic.save()
    return clinic, created


# A Swish merchant number (Swish-nummer).
SWISH_ALIAS = re.compile(r"123\d{7}")


class DeathReport(Enum):
    """What a sync says of death besides a time: nothing (what is stored stays; None would
    say "not deceased"), or deceased without a date (FHIR's `deceasedBoolean`: the stored
    date stays, else the time of this report is recorded)."""

    UNCHANGED = "unchanged"
    UNDATED = "undated"


UNCHANGED = DeathReport.UNCHANGED

# How far ahead of our clock a register's report of a death may lie (clock skew).
DEATH_CLOCK_SKEW = timedelta(minutes=5)


def _deceased_at_valid(pid: identity.PersonalId, deceased_at: datetime, now: datetime) -> None:
    if timezone.is_naive(deceased_at):
        raise DomainError(
            "Tiden saknar tidszon; ange t.ex. +01:00 eller Z.",
            field="deceased_at",
            code="naive_datetime",
        )
    if deceased_at > now + DEATH_CLOCK_SKEW:
        raise DomainError("Dödsdatumet ligger i framtiden.", field="deceased_at", code="in_future")
    # Compared, never converted: a time like year 1 at +14:00 has no UTC of its own.
    born = datetime.combine(pid.birth_date, time.min, tzinfo=timezone.get_current_timezone())
    if deceased_at < born:
        raise DomainError(
            "Dödsdatumet ligger före födelsedatumet.", field="deceased_at", code="before_birth"
        )


def sync_fields(
    *,
    personal_id: str,
    protected_identity: bool | None,
    mobile_number: str | None,
    sms_consent_1177: bool,
    guardians: Sequence[str] | None,
    now: datetime,
    given_name: str | None = None,
    family_name: str | None = None,
    deceased_at: datetime | DeathReport | None = UNCHANGED,
) -> tuple[identity.PersonalId, dict[str, object], list[str]]:
    """The register's sync of one patient checked and turned into the patient's fields:
    (the personnummer, the fields to write, the guardians' personnummer). The rules of
    `patient_sync`, shared with the bulk path of a first sync (`patients_create`); the
    guardians are not looked up here (`guardians_known`)."""
    pid = identity.parse_personal_id(personal_id)
    number = identity.parse_mobile_number(mobile_number) if mobile_number else ""
    if isinstance(deceased_at, datetime):
        _deceased_at_valid(pid, deceased_at, now)
    guardian_ids = list(
        dict.fromkeys(identity.parse_personal_id(g).value for g in (guardians or []))
    )
    if pid.value in guardian_ids:
        raise DomainError(
            "En patient kan inte vara sin egen vårdnadshavare.", field="guardians", code="invalid"
        )
    fields: dict[str, object] = {
        "mobile_number": number,
        "number_source": NumberSource.SYNC_1177,
        "synced_1177_at": now,
        "sms_consent_1177": sms_consent_1177,
        "link_broken": False,
    }
    if given_name is not None:
        fields["given_name"] = given_name.strip()
    if family_name is not None:
        fields["family_name"] = family_name.strip()
    if isinstance(deceased_at, datetime) or deceased_at is None:
        fields["deceased_at"] = deceased_at
    elif deceased_at is DeathReport.UNDATED:
        fields["deceased_at"] = now  # unless already recorded (patient_sync)
    if protected_identity is not None:
        fields["protected_identity"] = protected_identity
    return pid, fields, guardian_ids


def guardians_known(guardian_ids: Sequence[str], known: set[str]) -> None:
    """Guardians must already be in the registry."""
    missing = [g for g in guardian_ids if g not in known]
    if missing:
        raise DomainError(
            "Vårdnadshavaren finns inte i registret: "
            + ", ".join(missing)
            + ". Registrera vårdnadshavaren först.",
            field="guardians",
            code="unknown_guardian",
        )


@transaction.atomic
def patient_sync(
    *,
    personal_id: str,
    protected_identity: bool | None,
    mobile_number: str | None,
    sms_consent_1177: bool,
    guardians: Sequence[str] | None,
    given_name: str | None = None,
    family_name: str | None = None,
    deceased_at: datetime | DeathReport | None = UNCHANGED,
    via: str = "api",
    actor_name: str = "",
    source_updated_at: datetime | None = None,
    if_match: int | None = None,
) -> tuple[Patient, bool]:
    """The population register / 1177 sync of one patient (contract 1; rules 3.2).

    `protected_identity`: True protects; False lifts a stored protection (an explicit
    statement); None says nothing, and a stored protection stays (a new patient is then
    unprotected). Every change of it is recorded (`ProtectionChange`, append-only) with
    the way in (`via`) and the actor's name as it is now. `guardians` None leaves the
    stored guardians as they are (a FHIR Patient names none: RelatedPerson does).

    `source_updated_at` (the register's own time of the resource): one older than the
    last applied changes nothing. `if_match`: the version the sender last read; another
    stored is a PreconditionFailed (412). A change that changes anything but the sync's
    times counts the version up.

    The number from 1177 replaces whatever was there (a legacy number, or none) and
    restores a broken link. `sms_consent_1177` is stored and never activates anything.
    Guardians must already be in the registry; the set given replaces the old one.
    `deceased_at` is when the register says the patient died (None: not deceased; left
    out: as stored; `DeathReport.UNDATED`: deceased, date unknown). While it is set
    nobody gets an SMS for the patient, and in this transaction the apps above are told
    (`patient_deceased`), which suppress the patient's pending messages at once.
    All or nothing."""
    now = timezone.now()
    pid, fields, guardian_ids = sync_fields(
        personal_id=personal_id,
        protected_identity=protected_identity,
        mobile_number=mobile_number,
        sms_consent_1177=sms_consent_1177,
        guardians=guardians,
        given_name=given_name,
        family_name=family_name,
        deceased_at=deceased_at,
        now=now,
    )
    found = {p.personal_id: p for p in Patient.objects.filter(personal_id__in=guardian_ids)}
    guardians_known(guardian_ids, set(found))

    patient, created = Patient.objects.select_for_update().get_or_create(
        personal_id=pid.value,
        defaults={
            "birth_date": pid.birth_date,
            "is_coordination_number": pid.is_coordination_number,
            **fields,
        },
    )
    if if_match is not None and (created or patient.version != if_match):
        raise PreconditionFailed(
            f"Patienten har version {'ingen' if created else patient.version}, inte "
            f"{if_match}: läs den igen.",
            field="version",
        )
    was_protected = False if created else patient.protected_identity
    if source_updated_at is not None:
        if patient.source_updated_at and source_updated_at < patient.source_updated_at:
            return patient, False  # an older message than the one applied: nothing changes
        fields["source_updated_at"] = source_updated_at
    if not created:
        if deceased_at is DeathReport.UNDATED and patient.deceased_at is not None:
            del fields["deceased_at"]
        times = {"synced_1177_at", "source_updated_at"}
        if any(getattr(patient, k) != v for k, v in fields.items() if k not in times):
            patient.version += 1
        for key, value in fields.items():
            setattr(patient, key, value)
        patient.save()
    if patient.protected_identity != was_protected:
        ProtectionChange.objects.create(
            patient=patient, protected=patient.protected_identity, via=via, actor_name=actor_name
        )

    if guardians is not None:
        _guardians_replace(patient, {found[g].pk for g in guardian_ids})
    if patient.deceased_at is not None:
        patient_deceased.send(sender=Patient, patient=patient, moment=now)
    return patient, created


def _guardians_replace(patient: Patient, wanted: set[int]) -> None:
    Guardianship.objects.filter(child=patient).exclude(guardian_id__in=wanted).delete()
    existing = set(Guardianship.objects.filter(child=patient).values_list("guardian_id", flat=True))
    Guardianship.objects.bulk_create(
        [Guardianship(child=patient, guardian_id=g) for g in wanted - existing],
        ignore_conflicts=True,  # the same sync twice at once adds each guardian once
    )


def patient_get_or_create_from_legacy(
    *, personal_id: str, legacy_number: str
) -> tuple[Patient, bool]:
    """A patient the legacy export names. Unknown patients are created from the
    personnummer; the export's number is kept only while no 1177 sync has happened, and
    never replaces a 1177 number. A differing legacy number beside a 1177 number means
    the old system's number was overwritten by hand: the link is flagged broken.
    Call inside the import's transaction."""
    pid = identity.parse_personal_id(personal_id)
    return patients_get_or_create_from_legacy({pid.value: legacy_number})[pid.value]


def patients_get_or_create_from_legacy(
    numbers: dict[str, str],
) -> dict[str, tuple[Patient, bool]]:
    """The same for many residents at once (the import reads the export 500 rows at a
    time): personnummer (12 digits) → the export's number, in; personnummer → (patient,
    created), out. One query for the known, one insert for the new."""
    known = {p.personal_id: p for p in Patient.objects.filter(personal_id__in=list(numbers))}
    new = []
    for value, number in numbers.items():
        if value not in known:
            pid = identity.parse_personal_id(value)
            new.append(
                Patient(
                    personal_id=pid.value,
                    birth_date=pid.birth_date,
                    is_coordination_number=pid.is_coordination_number,
                    mobile_number=number,
                    number_source=NumberSource.LEGACY if number else "",
                )
            )
    found: dict[str, tuple[Patient, bool]] = {
        p.personal_id: (p, True) for p in Patient.objects.bulk_create(new)
    }
    for value, patient in known.items():
        _keep_legacy_number(patient, numbers[value])
        found[value] = (patient, False)
    return found


def _keep_legacy_number(patient: Patient, legacy_number: str) -> None:
    if patient.synced_1177_at is None:
        if legacy_number and patient.mobile_number != legacy_number:
            patient.mobile_number = legacy_number
            patient.number_source = NumberSource.LEGACY
            patient.version += 1
            patient.save(update_fields=["mobile_number", "number_source", "version", "updated_at"])
    elif legacy_number and legacy_number != patient.mobile_number and not patient.link_broken:
        patient.link_broken = True
        patient.save(update_fields=["link_broken", "updated_at"])


@transaction.atomic
def guardianship_put(
    *, fhir_id: str, child_personal_id: str, guardian_personal_id: str, active: bool = True
) -> tuple[Guardianship | None, bool]:
    """The register's guardianship with this FHIR RelatedPerson id (contract 2): the
    guardian `guardian_personal_id` of the child `child_personal_id`, both already in the
    registry (the guardian's protected identity matters too). A RelatedPerson that names
    another pair than before replaces its guardianship; `active` False ends it. Returns
    (the guardianship or None when ended, created)."""
    child_pid = identity.parse_personal_id(child_personal_id).value
    guardian_pid = identity.parse_personal_id(guardian_personal_id).value
    if child_pid == guardian_pid:
        raise DomainError(
            "En patient kan inte vara sin egen vårdnadshavare.", field="guardian", code="invalid"
        )
    people = {
        p.personal_id: p for p in Patient.objects.filter(personal_id__in=[child_pid, guardian_pid])
    }
    for pid, field, code, what in (
        (child_pid, "child", "unknown_patient", "Barnet"),
        (guardian_pid, "guardian", "unknown_guardian", "Vårdnadshavaren"),
    ):
        if pid not in people:
            raise DomainError(
                f"{what} finns inte i registret: registrera personen först.", field=field, code=code
            )
    child, guardian = people[child_pid], people[guardian_pid]
    existing = Guardianship.objects.select_for_update().filter(fhir_id=fhir_id).first()
    if existing is not None and (existing.child_id, existing.guardian_id) != (
        child.pk,
        guardian.pk,
    ):
        existing.delete()  # the RelatedPerson now names another pair
        existing = None
    if not active:
        if existing is not None:
            existing.delete()
        return None, False
    if existing is not None:
        return existing, False
    link, created = Guardianship.objects.select_for_update().get_or_create(
        child=child, guardian=guardian, defaults={"fhir_id": fhir_id}
    )
    if not created and link.fhir_id != fhir_id:
        link.fhir_id = fhir_id  # given before by the patients PUT: now this resource's
        link.save(update_fields=["fhir_id"])
    return link, created


@transaction.atomic
def patient_replace(
    *, old: Patient, new_personal_id: str, via: str = "fhir", actor_name: str = ""
) -> Patient:
    """The register replaced `old`'s identity by `new_personal_id` (a samordningsnummer by a
    personnummer; FHIR's `link` replaced-by): the same person under a new number. The new
    patient is created from its number if the register has not sent it yet, and is
    protected if the old one was (never less); the guardianships either way are carried
    over; future bookings move to the new identity; the apps above are told
    (`patient_replaced`), and the consent app carries the consent history over. Returns
    the new patient. Idempotent: a second report moves nothing more."""
    pid = identity.parse_personal_id(new_personal_id)
    if pid.value == old.personal_id:
        raise DomainError(
            "En patient kan inte ersättas av sig själv.", field="link", code="invalid"
        )
    now = timezone.now()
    new, created = Patient.objects.select_for_update().get_or_create(
        personal_id=pid.value,
        defaults={
            "birth_date": pid.birth_date,
            "is_coordination_number": pid.is_coordination_number,
            "given_name": old.given_name,
            "family_name": old.family_name,
        },
    )
    if old.protected_identity and not new.protected_identity:
        new.protected_identity = True
        new.version = new.version if created else new.version + 1
        new.save(update_fields=["protected_identity", "version", "updated_at"])
        ProtectionChange.objects.create(patient=new, protected=True, via=via, actor_name=actor_name)
    links = [
        Guardianship(child=new, guardian_id=g.guardian_id)
        for g in Guardianship.objects.filter(child=old).exclude(guardian=new)
    ] + [
        Guardianship(child_id=g.child_id, guardian=new)
        for g in Guardianship.objects.filter(guardian=old).exclude(child=new)
    ]
    Guardianship.objects.bulk_create(links, ignore_conflicts=True)
    # The contacts still ahead move (a past one stays with the identity it was booked for);
    # their messages go with them, and who receives them is decided at sending, for `new`.
    Appointment.objects.filter(patient=old, starts_at__gte=now).update(
        patient=new, version=F("version") + 1, updated_at=now
    )
    patient_replaced.send(sender=Patient, old=old, new=new, moment=now)
    return new
