"""The access log moved from consent to core (issue 30.6) without touching its table:
core 0004's content-type step keeps the admin's history and the permissions given."""

from __future__ import annotations

import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

MOVE = importlib.import_module("core.migrations.0004_access_log_in_core")
EDITOR = SimpleNamespace(connection=connection)


def _log_types() -> list[tuple[int, str]]:
    return list(
        ContentType.objects.filter(model="accesslog", app_label__in=["consent", "core"])
        .order_by("id")
        .values_list("id", "app_label")
    )


def test_the_content_type_changes_app_not_id() -> None:
    (kept, _), *_ = _log_types()
    MOVE.content_types_return(apps, EDITOR)
    assert _log_types() == [(kept, "consent")]
    MOVE.content_types_follow(apps, EDITOR)
    assert _log_types() == [(kept, "core")]
    ContentType.objects.clear_cache()
    user = UserFactory()
    user.user_permissions.add(
        Permission.objects.get(content_type_id=kept, codename="view_accesslog")
    )
    assert user.has_perm("core.view_accesslog")


def test_after_a_rollback_the_older_type_keeps_what_pointed_at_either() -> None:
    """A `migrate` while rolled back made a second content type: the permission given on
    it and the admin's history of it end on the one kept."""
    (older, _), *_ = _log_types()
    newer = ContentType.objects.create(app_label="consent", model="accesslog")
    given = Permission.objects.create(content_type=newer, codename="view_accesslog", name="x")
    user = UserFactory()
    user.user_permissions.add(given)
    entry = LogEntry.objects.create(
        user=user, content_type=newer, object_id="1", object_repr="x", action_flag=ADDITION
    )
    MOVE.content_types_follow(apps, EDITOR)
    assert _log_types() == [(older, "core")]
    assert list(user.user_permissions.values_list("content_type_id", "codename")) == [
        (older, "view_accesslog")
    ]
    assert LogEntry.objects.get(pk=entry.pk).content_type_id == older
