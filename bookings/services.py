"""Every write to the registry. Each service is one transaction and says what it
guarantees."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.utils import timezone

from . import identity, texts
from .errors import Conflict, DomainError
from .models import (
    ApiClient,
    Appointment,
    AppointmentStatus,
    Clinic,
    ContactType,
    Guardianship,
    NumberSource,
    Patient,
    Scope,
    StaffIdentity,
)
from .selectors import clinic_get, patient_get
from .signals import AppointmentSnapshot, appointment_changed

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractUser


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
) -> tuple[Clinic, bool]:
    """Creates or updates the clinic with this HSA-id. Refuses an SMS name that would not
    fit one segment, changing nothing."""
    hsa_id = identity.parse_hsa_id(hsa_id)
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
    if not created:
        clinic.name = name
        clinic.sms_name = clean_sms_name
        clinic.self_checkin = self_checkin
        clinic.arrival_question = arrival_question
        clinic.save()
    return clinic, created


@transaction.atomic
def patient_sync(
    *,
    personal_id: str,
    protected_identity: bool,
    mobile_number: str | None,
    sms_consent_1177: bool,
    guardians: Sequence[str],
    given_name: str | None = None,
    family_name: str | None = None,
) -> tuple[Patient, bool]:
    """The population register / 1177 sync of one patient (SPEC 5.1, 3.2).

    The number from 1177 replaces whatever was there (a legacy number, or none) and
    restores a broken link. `sms_consent_1177` is stored and never activates anything.
    Guardians must already be in the registry; the set given replaces the old one.
    All or nothing."""
    pid = identity.parse_personal_id(personal_id)
    number = identity.parse_mobile_number(mobile_number) if mobile_number else ""

    guardian_ids = list(dict.fromkeys(identity.parse_personal_id(g).value for g in guardians))
    if pid.value in guardian_ids:
        raise DomainError(
            "En patient kan inte vara sin egen vårdnadshavare.", field="guardians", code="invalid"
        )
    found = {p.personal_id: p for p in Patient.objects.filter(personal_id__in=guardian_ids)}
    missing = [g for g in guardian_ids if g not in found]
    if missing:
        raise DomainError(
            "Vårdnadshavaren finns inte i registret: "
            + ", ".join(missing)
            + ". Registrera vårdnadshavaren först.",
            field="guardians",
            code="unknown_guardian",
        )

    now = timezone.now()
    fields = {
        "protected_identity": protected_identity,
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

    patient, created = Patient.objects.select_for_update().get_or_create(
        personal_id=pid.value,
        defaults={
            "birth_date": pid.birth_date,
            "is_coordination_number": pid.is_coordination_number,
            **fields,
        },
    )
    if not created:
        for key, value in fields.items():
            setattr(patient, key, value)
        patient.save()

    wanted = {found[g].pk for g in guardian_ids}
    Guardianship.objects.filter(child=patient).exclude(guardian_id__in=wanted).delete()
    existing = set(Guardianship.objects.filter(child=patient).values_list("guardian_id", flat=True))
    Guardianship.objects.bulk_create(
        [Guardianship(child=patient, guardian_id=g) for g in wanted - existing],
        ignore_conflicts=True,  # the same sync twice at once adds each guardian once
    )
    return patient, created


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
            patient.save(update_fields=["mobile_number", "number_source", "updated_at"])
    elif legacy_number and legacy_number != patient.mobile_number and not patient.link_broken:
        patient.link_broken = True
        patient.save(update_fields=["link_broken", "updated_at"])


@transaction.atomic
def api_client_create(*, name: str, scopes: Iterable[str]) -> tuple[ApiClient, str]:
    """Creates an API client and returns it with its key, which is never stored."""
    scopes = sorted(set(scopes))
    unknown = [s for s in scopes if s not in Scope.values]
    if unknown:
        raise DomainError(
            f"Unknown scope(s): {', '.join(unknown)}. Known: {', '.join(Scope.values)}.",
            field="scopes",
        )
    if not name.strip():
        raise DomainError("The name must not be empty.", field="name")
    if ApiClient.objects.filter(name=name).exists():
        raise DomainError(f"An API client named {name!r} already exists.", field="name")
    prefix, key = ApiClient.generate_key()
    client = ApiClient.objects.create(
        name=name, key_prefix=prefix, key_hash=ApiClient.hash_key(key), scopes=scopes
    )
    return client, key


@transaction.atomic
def staff_user_upsert(
    *,
    username: str,
    password: str,
    role: str,
    clinics: Iterable[Clinic],
    hsa_id: str = "",
    **names: str,
) -> AbstractUser:
    """A staff user with exactly one role (a group) working at the given clinics, and the
    person's HSA-id that the login through the region's identity provider matches."""
    from django.contrib.auth import get_user_model

    User = get_user_model()
    user, _ = User.objects.get_or_create(username=username)
    user.set_password(password)
    for key, value in names.items():
        setattr(user, key, value)
    user.is_staff = role == "regional_admin"  # the admin site is the regional admins' tool
    user.save()
    user.groups.set([Group.objects.get(name=role)])
    user.clinics.set(list(clinics))  # type: ignore[attr-defined]
    if hsa_id:
        StaffIdentity.objects.update_or_create(
            user=user, defaults={"hsa_id": identity.parse_hsa_id(hsa_id)}
        )
    return user  # type: ignore[return-value]


def api_client_deactivate(*, client: ApiClient) -> None:
    """The client's key stops working at once."""
    ApiClient.objects.filter(pk=client.pk).update(is_active=False)


@transaction.atomic
def api_client_rotate_key(*, client: ApiClient) -> str:
    """A new key for the client; the old one stops working at once."""
    prefix, key = ApiClient.generate_key()
    ApiClient.objects.filter(pk=client.pk).update(
        key_prefix=prefix, key_hash=ApiClient.hash_key(key)
    )
    return key


def appointment_upsert(
    *,
    external_id: str,
    patient: Patient,
    clinic: Clinic,
    starts_at: datetime,
    status: str,
    contact_type: str,
    booked_at: datetime | None = None,
) -> tuple[Appointment, bool]:
    """Creates or updates the booking system's appointment with this external id and tells
    the apps above (`appointment_changed`) in the same transaction. An update that changes
    nothing sends nothing. `booked_at` defaults to now; it is kept from the first booking."""
    return _upsert_retried(external_id, patient, clinic, starts_at, status, contact_type, booked_at)


def appointment_put(
    *,
    external_id: str,
    personal_id: str,
    hsa_id: str,
    starts_at: datetime,
    status: str,
    contact_type: str,
    booked_at: datetime | None = None,
) -> tuple[Appointment, bool]:
    """`appointment_upsert` in the booking system's own terms, the patient's personnummer
    and the clinic's HSA-id: a contact that exists brings its patient and clinic with its
    locked row, and only one that changes them (or a new one) looks them up."""
    pid = identity.parse_personal_id(personal_id).value
    hsa = identity.parse_hsa_id(hsa_id)
    return _upsert_retried(external_id, pid, hsa, starts_at, status, contact_type, booked_at)


def _upsert_retried(
    external_id: str,
    patient: Patient | str,
    clinic: Clinic | str,
    starts_at: datetime,
    status: str,
    contact_type: str,
    booked_at: datetime | None,
) -> tuple[Appointment, bool]:
    upsert = partial(
        _appointment_upsert,
        external_id,
        patient,
        clinic,
        starts_at,
        status,
        contact_type,
        booked_at,
    )
    try:
        return upsert()
    except IntegrityError:
        # The booking system sent the same PUT twice at once and the other one created the
        # contact after this one looked: the whole upsert again, now an update of that row
        # (usually one that changes nothing). Any other violation fails again and is raised.
        return upsert()


def _party(existing: Appointment | None, given: Patient | str) -> Patient:
    """The contact's patient: the one given, the locked row's own when the personnummer is
    theirs, else looked up (unknown: a 400 on `patient`)."""
    if isinstance(given, Patient):
        return given
    if existing is not None and existing.patient.personal_id == given:
        return existing.patient
    return patient_get(given, field="patient")


def _place(existing: Appointment | None, given: Clinic | str) -> Clinic:
    """The contact's clinic, the same way as `_party`."""
    if isinstance(given, Clinic):
        return given
    if existing is not None and existing.clinic.hsa_id == given:
        return existing.clinic
    return clinic_get(given, field="clinic")


@transaction.atomic
def _appointment_upsert(
    external_id: str,
    patient_or_pid: Patient | str,
    clinic_or_hsa: Clinic | str,
    starts_at: datetime,
    status: str,
    contact_type: str,
    booked_at: datetime | None = None,
) -> tuple[Appointment, bool]:
    if timezone.is_naive(starts_at) or (booked_at is not None and timezone.is_naive(booked_at)):
        raise DomainError("Tider måste ha en tidszon.", field="starts_at", code="naive_datetime")
    if status not in AppointmentStatus.values:
        raise DomainError(f"Okänd status: {status}.", field="status", code="invalid_choice")
    if contact_type not in ContactType.values:
        raise DomainError(
            f"Okänd kontakttyp: {contact_type}.", field="contact_type", code="invalid_choice"
        )
    now = timezone.now()
    appointment = (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("patient", "clinic")
        .filter(external_id=external_id)
        .first()
    )
    patient, clinic = _party(appointment, patient_or_pid), _place(appointment, clinic_or_hsa)
    if appointment is None:
        new = Appointment(
            external_id=external_id,
            patient=patient,
            clinic=clinic,
            starts_at=starts_at,
            booked_at=booked_at or now,
            status=AppointmentStatus.BOOKED,
            contact_type=contact_type,
        )
        _set_status(new, status, now=now, via="booking_system")
        new.save()  # no savepoint: a PUT creating it at the same time makes the caller retry
        appointment_changed.send(sender=Appointment, appointment=new, previous=None, moment=now)
        return new, True
    if appointment.patient_id != patient.pk:
        raise DomainError(
            "En bokad kontakt kan inte byta patient; avboka och boka en ny.",
            field="patient",
            code="patient_changed",
        )
    previous = AppointmentSnapshot(
        starts_at=appointment.starts_at,
        status=appointment.status,
        clinic_id=appointment.clinic_id,
        contact_type=appointment.contact_type,
    )
    current = AppointmentSnapshot(
        starts_at=starts_at, status=status, clinic_id=clinic.pk, contact_type=contact_type
    )
    if current != previous:
        appointment.clinic = clinic
        appointment.starts_at = starts_at
        appointment.contact_type = contact_type
        _set_status(appointment, status, now=now, via="booking_system")
        appointment.save()
        appointment_changed.send(
            sender=Appointment, appointment=appointment, previous=previous, moment=now
        )
    return appointment, False


LATE_CANCELLATION = timedelta(hours=24)


def _set_status(appointment: Appointment, status: str, *, now: datetime, via: str) -> None:
    """A status change with what it implies: a cancellation less than 24 hours before the
    start is late; an arrival records when and how it was registered."""
    if status == appointment.status:
        return
    if status == AppointmentStatus.CANCELLED:
        appointment.cancelled_at = now
        appointment.late_cancellation = appointment.starts_at - now < LATE_CANCELLATION
    elif appointment.status == AppointmentStatus.CANCELLED:
        appointment.cancelled_at, appointment.late_cancellation = None, False
    if status == AppointmentStatus.ARRIVED and appointment.arrived_at is None:
        appointment.arrived_at, appointment.arrived_via = now, via
    appointment.status = status


@transaction.atomic
def appointment_set_status(*, appointment: Appointment, status: str, via: str) -> Appointment:
    """Arrival or no-show registered here (the desk, self check-in) rather than by the
    booking system. Only a booked contact can arrive or be marked as not arrived."""
    appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
    if status not in (AppointmentStatus.ARRIVED, AppointmentStatus.NO_SHOW):
        raise DomainError(f"Status {status} sätts av bokningssystemet.", code="invalid_status")
    if appointment.status != AppointmentStatus.BOOKED:
        raise Conflict(
            f"Kontakten är redan {appointment.get_status_display().lower()}.",
            code="not_booked",
        )
    previous = AppointmentSnapshot(
        starts_at=appointment.starts_at,
        status=appointment.status,
        clinic_id=appointment.clinic_id,
        contact_type=appointment.contact_type,
    )
    now = timezone.now()
    _set_status(appointment, status, now=now, via=via)
    appointment.save()
    appointment_changed.send(
        sender=Appointment, appointment=appointment, previous=previous, moment=now
    )
    return appointment
