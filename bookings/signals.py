"""The signals this app sends to the apps above it (architecture). Receivers connect in their
`AppConfig.ready()` and run in the sender's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from django.dispatch import Signal

if TYPE_CHECKING:
    from .models import Appointment


@dataclass(frozen=True)
class AppointmentSnapshot:
    """An appointment as it was before a change (sent with `appointment_changed`)."""

    starts_at: datetime
    status: str
    clinic_id: int
    contact_type: str

    @classmethod
    def of(cls, appointment: Appointment) -> AppointmentSnapshot:
        return cls(
            starts_at=appointment.starts_at,
            status=appointment.status,
            clinic_id=appointment.clinic_id,
            contact_type=appointment.contact_type,
        )


# Sent after an appointment was created or changed, inside the same transaction.
# kwargs: appointment (Appointment, as saved), previous (AppointmentSnapshot | None for a
# new one), moment (datetime: when the change happened; a moved contact is "booked" then).
appointment_changed = Signal()

# Sent after many new appointments were created at once (the bulk path of a first sync,
# services.appointments_create), inside the same transaction, instead of one
# `appointment_changed` each. kwargs: appointments (list of Appointment, as saved, each
# with its clinic), moment (datetime: when they were created).
appointments_created = Signal()

# Sent when the population register reports a patient deceased (each sync that does),
# inside the sync's transaction. kwargs: patient (Patient, as saved), moment (datetime).
patient_deceased = Signal()

# Sent when the register says a patient's identity was replaced by another (FHIR's
# `Patient.link` replaced-by: a samordningsnummer replaced by a personnummer), inside the
# sync's transaction, after the future bookings moved. kwargs: old (Patient), new (Patient),
# moment (datetime). The consent app carries the consent history over.
patient_replaced = Signal()
