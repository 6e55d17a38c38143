from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import CaseStatus, StandardReply


class CaseDecisionForm(forms.Form):
    """Applying takes a note only: the reply follows from the situation after the change.
    Rejecting takes one of the rejection replies."""

    # No reason is chosen for staff: a rejection says why, and staff pick it.
    reply = forms.ModelChoiceField(
        label=_("Standardsvar"),
        queryset=StandardReply.objects.none(),
        empty_label=_("Välj varför ärendet avslås"),
    )
    note = forms.CharField(label=_("Anteckning"), required=False, max_length=500)

    def __init__(self, *args: Any, outcome: str, action: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if outcome == CaseStatus.RESOLVED:
            del self.fields["reply"]
            return
        replies = StandardReply.objects.filter(active=True, outcome=outcome)
        self.fields["reply"].queryset = replies.filter(  # type: ignore[attr-defined]
            action__in=["", action]
        )
