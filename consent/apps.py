from typing import Any

from django.apps import AppConfig


class ConsentConfig(AppConfig):
    name = "consent"
    verbose_name = "Samtycke"

    def load_demo(self, **kwargs: Any) -> None:
        from .demo import load_demo

        load_demo(**kwargs)
