"""Every write of the bookings app, one module per noun: the registry (clinics,
patients), staff users and booked contacts. Callers import from
here."""

from .bulk import BulkResult, appointments_create, patients_create
from .contacts import (
    LATE_CANCELLATION,
    appointment_put,
    appointment_reopen,
    appointment_set_status,
    appointment_set_status_locked,
    appointment_upsert,
)
from .registry import (
    UNCHANGED,
    DeathReport,
    checkin_link_length,
    clinic_upsert,
    clinic_validate_sms_name,
    guardianship_put,
    patient_get_or_create_from_legacy,
    patient_replace,
    patient_sync,
    patients_get_or_create_from_legacy,
)
from .staff import (
    last_unit_remember,
    staff_user_clinics_set,
    staff_user_set_up,
    staff_user_upsert,
)

__all__ = [
    "LATE_CANCELLATION",
    "UNCHANGED",
    "BulkResult",
    "DeathReport",
    "appointment_put",
    "appointment_reopen",
    "appointment_set_status",
    "appointment_set_status_locked",
    "appointment_upsert",
    "appointments_create",
    "checkin_link_length",
    "clinic_upsert",
    "clinic_validate_sms_name",
    "guardianship_put",
    "last_unit_remember",
    "patient_get_or_create_from_legacy",
    "patient_replace",
    "patient_sync",
    "patients_create",
    "patients_get_or_create_from_legacy",
    "staff_user_clinics_set",
    "staff_user_set_up",
    "staff_user_upsert",
]
