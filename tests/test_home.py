"""The home page in Swedish (issue 31, item 14): roles by their Swedish names, the API
documentation only for those who set up integrations."""

from __future__ import annotations

import pytest
from django.test import Client

from core.staff import Role
from tests.factories import ClinicFactory, UserFactory
from tests.pages import page_text

pytestmark = pytest.mark.django_db


def _home(*roles: str) -> str:
    user = UserFactory(role=roles[0], clinics=[ClinicFactory()])
    for role in roles[1:]:
        from django.contrib.auth.models import Group

        user.groups.add(Group.objects.get_or_create(name=role)[0])
    client = Client()
    client.force_login(user)
    return page_text(client.get("/"))


def test_roles_are_named_in_swedish_and_the_desk_gets_no_api_docs() -> None:
    text = _home(Role.MANAGER, Role.AUDITOR)
    assert "Roller: Verksamhetschef, Logggranskare" in text
    assert "manager" not in text and "auditor" not in text
    assert "API-dokumentation" not in text
    assert "API-dokumentation" not in _home(Role.RECEPTION)


def test_a_regional_admin_finds_the_api_docs() -> None:
    text = _home(Role.REGIONAL_ADMIN)
    assert "Roller: Regional administratör" in text
    assert "API-dokumentation (engelska, för integrationer)" in text
