"""gunicorn's settings for the web processes: `gunicorn -c config/gunicorn.py config.wsgi`.

Every value can be set from the environment. No access log: the application writes one
line per request itself, with the route's pattern instead of the path (API paths hold
personnummer), the request id, the actor and the unit (config/observability.py)."""

import os

bind = f"{os.environ.get('WEB_HOST', '0.0.0.0')}:{os.environ.get('WEB_PORT', '8000')}"  # noqa: S104
workers = int(os.environ.get("WEB_WORKERS", "4"))
threads = int(os.environ.get("WEB_THREADS", "1"))
timeout = int(os.environ.get("WEB_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
# A worker is replaced now and then (memory never creeps); the jitter keeps them apart.
max_requests = int(os.environ.get("WEB_MAX_REQUESTS", "5000"))
max_requests_jitter = max_requests // 10
# The application is loaded once, in the master, and each worker is a fork of it: a worker
# that max_requests retires is replaced in milliseconds instead of importing Django again
# (about a second of CPU, taken from the others on a small machine), and the workers share
# the loaded code's memory. Nothing opens a connection at import; when_ready makes sure.
# A deploy restarts gunicorn (or sends USR2): HUP keeps the code the master loaded.
preload_app = os.environ.get("WEB_PRELOAD", "true").lower() in ("1", "true", "yes", "on")
accesslog = None
errorlog = "-"
# The TLS proxy in front: its X-Forwarded-* headers are trusted from these addresses.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def child_exit(server: object, worker: object) -> None:
    """A worker that ends leaves its metrics files; Prometheus' multiprocess mode must be
    told, or its gauges would count a dead process."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]


def when_ready(server: object) -> None:
    """In the master, after the application is loaded and before the first fork: what
    each worker would do on its first request is done once (core/process.py's warm_up),
    no database connection may be shared by the workers, and what start-up made is frozen
    out of the garbage collector's sight (core/process.py), where the forks share it."""
    if preload_app:
        from django.db import connections

        from core.process import freeze_startup_objects, warm_up

        warm_up()
        connections.close_all()
        freeze_startup_objects()
