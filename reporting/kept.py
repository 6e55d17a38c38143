"""The reports' per-clinic counts, kept where a page finds them without counting: in the
cache (shared through CACHE_URL) and, behind it, in the database (KeptCounts), both
written by the refresh task every five minutes (reporting.tasks.refresh_dashboard).

A page reads the cache; what the cache lacks (a restarted cache, an entry that expired) it
reads from the database, one query. An entry there older than the cache's ten minutes
(the task has not run: a worker down) is still served, the page says from when, and the
task is queued once: the page never waits for a recount. Only counts never computed at
all (a new installation: little to count) are computed on the spot, and kept."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.utils import timezone

from .models import KeptCounts

logger = logging.getLogger(__name__)

REPORT_CACHE_SECONDS = 600  # the reports' numbers may be ten minutes old
QUEUED_KEY = "report:refresh-queued"


def kept_key(prefix: str, clinic_id: int, suffix: str = "") -> str:
    """ "report:monthly:7:2026-01-01": the keys the cache held before the database kept
    them too, so a deploy finds the cache's entries still good."""
    return f"{prefix}:{clinic_id}{suffix}"


def kept_write(
    prefix: str, values: dict[int, Any], *, suffix: str = "", at: datetime | None = None
) -> None:
    """Keeps each clinic's counts under `prefix` in the cache and the database."""
    at = at or timezone.now()
    entries = {kept_key(prefix, i, suffix): value for i, value in values.items()}
    cache.set_many(entries, REPORT_CACHE_SECONDS)
    KeptCounts.objects.bulk_create(
        [KeptCounts(key=k, value=v, computed_at=at) for k, v in entries.items()],
        update_conflicts=True,
        unique_fields=["key"],
        update_fields=["value", "computed_at"],
    )


def kept_read(
    prefix: str,
    clinic_ids: Iterable[int],
    compute: Callable[[list[int]], dict[int, Any]],
    empty: Any,
    *,
    suffix: str = "",
    earlier: str | None = None,
) -> dict[int, Any]:
    """clinic → counts under `prefix`: from the cache, else the database, else the
    database's under the `earlier` suffix (the month's counts of the window before: on the
    1st, until the task has run), else (counts never computed) `compute(missing ids)`,
    kept; a clinic `compute` leaves out has `empty`."""
    keys = {kept_key(prefix, i, suffix): i for i in clinic_ids}
    found = cache.get_many(list(keys))
    out = {keys[k]: v for k, v in found.items()}
    missing = [k for k in keys if k not in found]
    if not missing:
        return out
    now = timezone.now()
    refill: dict[str, tuple[Any, int]] = {}
    stale = False
    for key, value, at in KeptCounts.objects.filter(key__in=missing).values_list(
        "key", "value", "computed_at"
    ):
        out[keys[key]] = value
        left = REPORT_CACHE_SECONDS - int((now - at).total_seconds())
        if left > 0:
            refill[key] = (value, left)
        else:
            stale = True
    for key, (value, left) in refill.items():  # until the entry would have expired
        cache.set(key, value, left)
    never = [keys[k] for k in missing if keys[k] not in out]
    if never and earlier is not None:
        before = {kept_key(prefix, i, earlier): i for i in never}
        for key, value in KeptCounts.objects.filter(key__in=before).values_list("key", "value"):
            out[before[key]] = value
            stale = True
        never = [i for i in never if i not in out]
    if stale:
        refresh_queue()
    if never:
        fresh = compute(never)
        values = {i: fresh.get(i, empty) for i in never}
        kept_write(prefix, values, suffix=suffix, at=now)
        out.update(values)
    return out


def kept_as_of(
    prefixes: Iterable[tuple[str, str, str | None]], clinic_ids: Iterable[int]
) -> datetime | None:
    """When the oldest of the counts a page shows was computed ((prefix, suffix, earlier
    suffix) of each, as kept_read reads them), if it is older than the cache keeps counts
    or of the window before (the page then says so); None when all are current. One
    query."""
    ids = list(clinic_ids)
    wanted = [(p, suffix, earlier, i) for p, suffix, earlier in prefixes for i in ids]
    keys = [kept_key(p, i, suffix) for p, suffix, _, i in wanted]
    keys += [kept_key(p, i, earlier) for p, _, earlier, i in wanted if earlier is not None]
    at = dict(KeptCounts.objects.filter(key__in=keys).values_list("key", "computed_at"))
    limit = timezone.now() - timedelta(seconds=REPORT_CACHE_SECONDS)
    served: list[datetime] = []
    for p, suffix, earlier, i in wanted:
        current = at.get(kept_key(p, i, suffix))
        if current is not None:
            if current < limit:
                served.append(current)
        elif earlier is not None and kept_key(p, i, earlier) in at:
            served.append(at[kept_key(p, i, earlier)])
    return min(served, default=None)


def refresh_queue() -> None:
    """Queues the refresh task, once in five minutes however many pages ask. With the
    broker down too the page does not wait for it: the beat queues the task when it is
    back."""
    from kombu.exceptions import OperationalError

    from .tasks import refresh_dashboard

    if cache.add(QUEUED_KEY, True, 300):
        try:
            refresh_dashboard.apply_async(retry=False)
        except (OperationalError, OSError):
            logger.warning("reports: the refresh could not be queued (broker unreachable)")


def kept_prune(before: datetime) -> int:
    """Forgets counts no refresh has written since `before` (a month that left the
    window, a key of an earlier form)."""
    deleted, _ = KeptCounts.objects.filter(computed_at__lt=before).delete()
    return deleted
