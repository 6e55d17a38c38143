"""The API key's look-up, written out (core/sql.py), finds what the ORM finds."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core import services, sql
from core.models import Scope
from core.oidc import BreakGlassModelBackend, session_user
from core.sessions import SessionStore
from core.staff import Role, user_roles
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_the_active_client_of_a_key_prefix() -> None:
    active, _ = services.api_client_create(name="a", scopes=[Scope.STATUS_READ])
    gone, _ = services.api_client_create(name="b", scopes=[Scope.STATUS_READ])
    services.api_client_deactivate(client=gone)
    found = sql.active_client_sql(active.key_prefix)
    assert found is not None
    assert model_to_dict(found) == model_to_dict(sql.active_client_orm(active.key_prefix))
    assert found.pk == active.pk
    assert sql.active_client_sql(gone.key_prefix) is sql.active_client_orm(gone.key_prefix) is None
    assert sql.active_client_sql("nothing") is sql.active_client_orm("nothing") is None


def _columns_of(row: Any) -> dict[str, object] | None:
    return row and {f.attname: getattr(row, f.attname) for f in row._meta.concrete_fields}


def test_a_staff_request_s_session_is_found_only_while_it_lives(on_postgres: None) -> None:
    store = SessionStore()
    store["clinic_id"] = 7
    store.create()
    key = store.session_key
    assert key is not None
    now = timezone.now()
    found = sql.session_live_sql(key, now)
    assert found is not None
    assert _columns_of(found) == _columns_of(sql.session_live_orm(key, now))
    assert found.get_decoded()["clinic_id"] == 7
    after = found.expire_date  # expired at that moment: not found, both ways
    assert sql.session_live_sql(key, after) is sql.session_live_orm(key, after) is None
    assert sql.session_live_sql("nope" * 8, now) is sql.session_live_orm("nope" * 8, now) is None
    # Django's store reads it through them: a live key loads, an unknown one is forgotten.
    assert SessionStore(key).load() == {"clinic_id": 7}
    stranger = SessionStore("x" * 32)
    assert stranger.load() == {} and stranger.session_key is None


def test_a_staff_request_s_user_and_roles_as_the_orm_reads_them(on_postgres: None) -> None:
    desk = UserFactory(role=Role.RECEPTION, is_active=False)
    desk.groups.add(Group.objects.get(name=Role.MANAGER))
    found = sql.user_get_sql(desk.pk)
    assert _columns_of(found) == _columns_of(sql.user_get_orm(desk.pk)) == _columns_of(desk)
    # Its roles come with it: asking for them reads nothing more.
    with CaptureQueriesContext(connection) as queries:
        assert user_roles(found) == {Role.RECEPTION.value, Role.MANAGER.value}
    assert queries.captured_queries == []
    assert user_roles(sql.user_get_orm(desk.pk)) == user_roles(found)
    assert user_roles(sql.user_get_sql(UserFactory(role=None).pk)) == set()
    assert sql.user_get_sql(desk.pk + 100) is sql.user_get_orm(desk.pk + 100) is None
    roles = {Role.RECEPTION.value, Role.MANAGER.value}
    assert sql.group_names_sql(desk.pk) == sql.group_names_orm(desk.pk) == roles
    assert sql.group_names_sql(desk.pk + 100) == sql.group_names_orm(desk.pk + 100) == set()
    # The backends answer no user for a deactivated one, as Django's ModelBackend does.
    assert session_user(BreakGlassModelBackend(), desk.pk) is None
    User.objects.filter(pk=desk.pk).update(is_active=True)
    assert session_user(BreakGlassModelBackend(), desk.pk) == desk
