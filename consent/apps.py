from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ConsentConfig(AppConfig):
    name = "consent"
    verbose_name = "Samtycke"

    def ready(self) -> None:
        post_migrate.connect(_ensure_replies, sender=self)

    def load_demo(self, **kwargs: Any) -> None:
        from .demo import load_demo

        load_demo(**kwargs)


def _ensure_replies(**kwargs: Any) -> None:
    from .replies import ensure_standard_replies

    ensure_standard_replies(using=kwargs.get("using", "default"))
