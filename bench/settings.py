"""The production settings, plus one route for the API benchmark's baseline."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
