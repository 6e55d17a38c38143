"""Process-level tuning for the long-running processes (workers, the dispatch command)."""

from __future__ import annotations

import gc


def freeze_startup_objects() -> None:
    """Moves everything alive after start-up (Django's app registry, models, settings,
    compiled templates) out of the garbage collector's sight. They live as long as the
    process, and the dispatch loop allocates enough to trigger a collection every few
    messages: without this, each full collection walks them all again (measured in
    bench/dispatch.py: about 8 % of the loop's time). Garbage made later is collected as
    usual."""
    gc.collect()
    gc.freeze()


def warm_up() -> None:
    """Does once, in a process that forks workers (gunicorn's master, with the application
    preloaded), what every worker would otherwise do on its first request: import every
    URL configuration and view module and build the URL lookups, and read the translation
    catalogs. A worker replaced after its max_requests starts warm (its first request took
    about 300 ms more, measured in-process, while the requests behind it waited)."""
    from django.conf import settings
    from django.urls import get_resolver
    from django.utils import translation

    resolver = get_resolver()
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            resolver.reverse_dict  # noqa: B018 - built per language on first use
