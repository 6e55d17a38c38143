"""The only way a page shows contact data (rules 3.10): a protected person's number, and a
protected guardian's number and identity, are never rendered. Their name and
personnummer may still identify the patient on their own page."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()

HIDDEN = "skyddad identitet – visas inte"


@register.filter
def patient_number(patient: Any) -> str:
    if patient.protected_identity:
        return HIDDEN
    return str(patient.mobile_number or "saknas")


def _hidden(child: Any, guardian: Any) -> bool:
    return bool(child.protected_identity or (guardian and guardian.protected_identity))


@register.filter
def guardian_number(entry: Any, child: Any) -> str:
    """A guardian number (GuardianNumber) on the child's page."""
    return HIDDEN if _hidden(child, entry.guardian) else str(entry.number)


@register.filter
def guardian_identity(entry: Any, child: Any) -> str:
    return HIDDEN if _hidden(child, entry.guardian) else str(entry.guardian.display_id)


@register.filter
def event_number(event: Any, patient: Any) -> str:
    """The number a consent event recorded (a guardian's), if it may be shown."""
    if not event.number:
        return ""
    return HIDDEN if _hidden(patient, event.guardian) else str(event.number)
