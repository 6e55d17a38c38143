"""Receivers of the lower apps' signals: each only calls a service."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bookings.models import Appointment, Patient
from bookings.signals import AppointmentSnapshot

from .refunds import payments_on_contact_change
from .schedule import messages_plan_new, messages_plan_on_change, messages_suppress_deceased


def on_appointment_changed(
    sender: Any,
    *,
    appointment: Appointment,
    previous: AppointmentSnapshot | None,
    moment: datetime,
    **kwargs: Any,
) -> None:
    messages_plan_on_change(appointment=appointment, previous=previous, moment=moment)
    payments_on_contact_change(appointment=appointment, previous=previous)


def on_appointments_created(
    sender: Any, *, appointments: list[Appointment], moment: datetime, **kwargs: Any
) -> None:
    # New contacts: nothing to refund (payments_on_contact_change does nothing without a
    # previous state).
    messages_plan_new(appointments=appointments, moment=moment)


def on_patient_deceased(sender: Any, *, patient: Patient, moment: datetime, **kwargs: Any) -> None:
    messages_suppress_deceased(patient=patient, moment=moment)
