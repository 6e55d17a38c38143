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
