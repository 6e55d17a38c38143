"""The Celery app. The broker only carries ticks and hand-offs: the database is the queue."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("smsreminders")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
