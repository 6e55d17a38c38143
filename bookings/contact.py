"""The one rule for showing a person's contact data to staff (rules 3.10): a protected
person's number, and the numbers and identities of a protected person's guardians (or of
a protected guardian), are never shown, on a page, in the admin or through the API. The
template filters (consent.templatetags.contact), the admin and the API ask here.

A patient's own personnummer and name may still be shown to identify them."""

from __future__ import annotations

from typing import Protocol

from django.utils.translation import gettext_lazy as _

HIDDEN = _("skyddad identitet – visas inte")


class Person(Protocol):
    protected_identity: bool

    @property
    def display_id(self) -> str: ...


def contact_hidden(*people: Person | None) -> bool:
    """Whether contact data concerning these people (a patient, the guardian it belongs to,
    the child it is for) must be hidden: when any of them has a protected identity."""
    return any(person is not None and person.protected_identity for person in people)


def number_for_staff(number: str, *people: Person | None) -> str:
    """A number as staff may see it: hidden when it concerns a protected person."""
    if not number:
        return ""
    return str(HIDDEN) if contact_hidden(*people) else number


def guardian_for_staff(guardian: Person | None, *children: Person | None) -> str:
    """A guardian's personnummer as staff may see it: hidden when the guardian or the
    child it is shown for is protected."""
    if guardian is None:
        return ""
    return str(HIDDEN) if contact_hidden(guardian, *children) else guardian.display_id
