"""Request limits per minute (SPEC 5.4): per API client (API_RATE_LIMIT), per e-service
submitter (ESERVICE_RATE_LIMIT) and per staff user's reads of single patients
(STAFF_READ_RATE_LIMIT); 0 turns one off. Counted in the cache, which CACHE_URL shares
between processes (without it each process counts on its own; `check --deploy` warns).
A fixed window per minute: the count starts again at each whole minute."""

from __future__ import annotations

import hashlib
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def limit_wait(scope: str, who: str, per_minute: int) -> int | None:
    """Counts one request by `who` under `scope`; the seconds to wait when it is one too
    many this minute, else None. The key holds a hash, never the name itself (a
    personnummer stays out of the cache)."""
    if per_minute <= 0:
        return None
    now = time.time()
    digest = hashlib.sha256(who.encode()).hexdigest()[:24]
    key = f"limit:{scope}:{digest}:{int(now // 60)}"
    if cache.add(key, 1, 120):
        count = 1
    else:
        try:
            count = cache.incr(key)
        except ValueError:  # expired in between
            cache.add(key, 1, 120)
            count = 1
    if count <= per_minute:
        return None
    return max(1, 60 - int(now % 60))


def staff_read_refused(request: HttpRequest) -> HttpResponse | None:
    """One more single-patient read by the logged-in staff user (the patient page, the
    look-up): a 429 page with Retry-After when it is too many this minute, else None."""
    wait = limit_wait("staff-read", str(request.user.pk), settings.STAFF_READ_RATE_LIMIT)
    if wait is None:
        return None
    response = render(request, "429.html", status=429)
    response["Retry-After"] = str(wait)
    return response
