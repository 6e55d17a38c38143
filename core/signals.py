"""Signals of the plumbing, for the apps above it. Receivers connect in their
`AppConfig.ready()` and run in the sender's transaction."""

from __future__ import annotations

from django.dispatch import Signal

# Sent when a page or an endpoint shows a patient's data (the access log, rules 3.10:
# consent records it). kwargs: actor (a user or an ApiClient), clinic
# (the unit worked at, or None), action (an AccessLog action code), patient_ids; and
# searched_for (optional) for a search that found nobody, sent with no patient_ids.
patient_data_read = Signal()
