"""The only way a page shows contact data (rules 3.10): a protected person's number, and a
protected guardian's number and identity (or a protected child's guardian's), are never
rendered. Their name and personnummer may still identify the patient on their own page.
The rule itself is bookings.contact's, shared with the admin and the API."""

from __future__ import annotations

from typing import Any

from django import template

from bookings.contact import HIDDEN, contact_hidden, guardian_for_staff, number_for_staff
from bookings.identity import display_number

register = template.Library()


@register.filter
def phone(number: Any) -> str:
    """A number already cleared for staff, in the one format people read (070-123 45 67);
    the words that stand for a hidden or missing number stay as they are."""
    return display_number(str(number or ""))


@register.filter
def patient_number(patient: Any) -> str:
    if contact_hidden(patient):
        return str(HIDDEN)
    return display_number(patient.mobile_number) if patient.mobile_number else "saknas"


@register.filter
def guardian_number(entry: Any, child: Any) -> str:
    """A guardian number (GuardianNumber) on the child's page."""
    return display_number(number_for_staff(entry.number, child, entry.guardian))


@register.filter
def guardian_identity(entry: Any, child: Any) -> str:
    return guardian_for_staff(entry.guardian, child)


@register.filter
def event_number(event: Any, patient: Any) -> str:
    """The number a consent event recorded (a guardian's), if it may be shown."""
    return display_number(number_for_staff(event.number, patient, event.guardian))


@register.filter
def case_submitter(case: Any) -> str:
    """Who submitted an e-service case: the resident themselves (their personnummer
    identifies them), or a guardian, hidden when the guardian or the child is protected."""
    if case.submitted_by_id == case.subject_id:
        return str(case.subject.display_id)
    return guardian_for_staff(case.submitted_by, case.subject)


@register.filter
def case_number(case: Any) -> str:
    """The number a case gave (a guardian's for their child), if it may be shown."""
    return display_number(number_for_staff(case.mobile_number, case.subject, case.submitted_by))


@register.filter
def guardian_choice(guardian: Any, child: Any) -> str:
    """A guardian picker's option value: opaque, resolved among the child's guardians
    (never the guardian's id or page key, which lead to their page)."""
    from consent.selectors import guardian_choice as choice

    return choice(child, guardian)
