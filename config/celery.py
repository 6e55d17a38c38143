"""The Celery app. The broker only carries ticks and hand-offs: the database is the queue."""

import os

from celery import Celery
from celery.signals import worker_process_init

from core.process import freeze_startup_objects

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("smsreminders")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _freeze_startup_objects(**kwargs: object) -> None:
    freeze_startup_objects()
