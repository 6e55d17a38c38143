"""The signals this app sends to the apps above it (SPEC 4). Receivers connect in their
`AppConfig.ready()` and run in the sender's transaction."""

from django.dispatch import Signal

# Sent after an appointment was created or changed, inside the same transaction.
# kwargs: appointment (Appointment, as saved), previous (AppointmentSnapshot | None for a
# new one), moment (datetime: when the change happened; a moved contact is "booked" then).
appointment_changed = Signal()
