"""Retention (rules 3.10): after RETENTION_DAYS, what an SMS said and to whom, what the
gateway reported in its own words and the payer's number of a Swish payment are erased;
the status, reason, times, kind, segments and amounts stay, so the reports and the cash
office's books give the same numbers. E-service cases' free text and
numbers go at the same age. Consent events and the access log are kept. A daily beat task
and `manage.py erase_expired_personal_data` run it."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from consent.cases.services import cases_personal_data_erase

from .models import FINAL, PAYMENT_OPEN, DeliveryReport, Message, Payment


@transaction.atomic
def personal_data_erase_expired(*, now: datetime) -> Counter[str]:
    before = now - timedelta(days=settings.RETENTION_DAYS)
    counts: Counter[str] = Counter()
    old = Message.objects.filter(status__in=FINAL, updated_at__lt=before)
    # The reports first: they are found through their messages' age too.
    reports = DeliveryReport.objects.filter(Q(received_at__lt=before) | Q(message__in=old))
    counts["delivery_reports"] = reports.exclude(raw={}).update(raw={})
    counts["messages"] = old.exclude(to="", body="").update(to="", body="", reason_detail="")
    counts["cases"] = cases_personal_data_erase(before=before)
    # The payer's Swish number goes at the same age; amounts, statuses, times and Swish's
    # reference stay for the cash office's books.
    counts["payments"] = (
        Payment.objects.exclude(status__in=PAYMENT_OPEN)
        .filter(updated_at__lt=before)
        .exclude(payer_alias="")
        .update(payer_alias="")
    )
    return counts
