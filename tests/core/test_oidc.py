"""Logging in through the region's identity provider (operations 1), against a real OpenID
Connect provider running on a local port (oidc-provider-mock: authorization code flow,
RS256-signed ID tokens, a JWKS and a userinfo endpoint), not a stand-in for our code.

The provider's login form is what a person with a SITHS card would pass: the test posts
the subject to it, follows the provider's redirect back to our callback, and looks at
who is logged in."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.contrib.auth.models import User
from django.test import Client

from core.models import StaffIdentity
from core.staff import Role
from tests.factories import ClinicFactory, UserFactory
from tests.identityprovider import ProviderUser, identity_provider
from tests.pages import page_text, seen

ANNA_HSA = "SE2321000131-P000000001"
STRANGER_HSA = "SE2321000131-P999999999"
PROVIDER_PEOPLE = [
    ProviderUser(sub="anna", claims={"employeeHsaId": ANNA_HSA, "name": "Anna Ek"}),
    ProviderUser(sub="stranger", claims={"employeeHsaId": STRANGER_HSA}),
    ProviderUser(sub="no-hsa", claims={"name": "Utan HSA-id"}),
    ProviderUser(sub="garbled", claims={"employeeHsaId": "SE２３２１000131-P1"}),
]


@pytest.fixture
def oidc(settings: Any) -> Iterator[str]:
    with identity_provider(settings, PROVIDER_PEOPLE) as base:
        yield base


@pytest.fixture
def anna(db: None) -> User:
    clinic = ClinicFactory(name="Kirurgikliniken")
    user = User.objects.get(
        pk=UserFactory(username="anna", role=Role.RECEPTION, clinics=[clinic]).pk
    )
    StaffIdentity.objects.create(user=user, hsa_id=ANNA_HSA)
    return user


def log_in_at_provider(client: Client, sub: str, next_url: str = "") -> Any:
    """Start at our login, sign in at the provider as `sub`, come back: our answer."""
    start = client.get("/oidc/authenticate/" + (f"?next={next_url}" if next_url else ""))
    assert start.status_code == 302
    authorize = start["Location"]
    query = parse_qs(urlsplit(authorize).query)
    assert query["client_id"] == ["sms-paminnelser"]
    assert query["code_challenge_method"] == ["S256"]  # PKCE
    answer = httpx.post(authorize, data={"sub": sub}, follow_redirects=False)
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["location"])
    assert back.path == "/oidc/callback/"
    return client.get(f"{back.path}?{back.query}")


@pytest.mark.django_db
def test_a_person_with_a_registered_hsa_id_logs_in_with_the_roles_kept_here(
    oidc: str, anna: User
) -> None:
    client = Client()
    answer = log_in_at_provider(client, "anna", next_url="/desk/")
    assert answer.status_code == 302
    assert answer["Location"] == "/desk/"
    assert int(client.session["_auth_user_id"]) == anna.pk
    assert client.session["_auth_user_backend"] == "core.oidc.StaffOIDCBackend"
    # The session limits of every staff login hold (8 hours at most from now).
    assert "login_at" in client.session
    page = client.get("/desk/")
    assert page.status_code == 200
    assert "Kirurgikliniken" in seen(page)
    # The provider's name for her changed nothing here; no user was made.
    anna.refresh_from_db()
    assert anna.username == "anna"
    assert list(anna.groups.values_list("name", flat=True)) == [Role.RECEPTION]
    assert User.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("sub", ["stranger", "no-hsa", "garbled"])
def test_a_person_unknown_here_is_refused_and_nobody_is_created(
    oidc: str, anna: User, sub: str
) -> None:
    client = Client()
    answer = log_in_at_provider(client, sub)
    assert answer.status_code == 302
    assert answer["Location"] == "/accounts/login/"
    assert "_auth_user_id" not in client.session
    login = client.get("/accounts/login/")
    assert "ditt HSA-id är inte kopplat till någon aktiv användare" in page_text(login)
    assert client.get("/desk/").status_code == 302
    assert User.objects.count() == 1


@pytest.mark.django_db
def test_a_deactivated_user_is_refused(oidc: str, anna: User) -> None:
    anna.is_active = False
    anna.save()
    client = Client()
    log_in_at_provider(client, "anna")
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_a_stolen_callback_without_our_state_logs_nobody_in(oidc: str, anna: User) -> None:
    # A code obtained for one browser, replayed in another (no state in its session).
    first = Client()
    start = first.get("/oidc/authenticate/")
    answer = httpx.post(start["Location"], data={"sub": "anna"}, follow_redirects=False)
    back = urlsplit(answer.headers["location"])
    other = Client()
    replay = other.get(f"{back.path}?{back.query}")
    assert replay.status_code in (302, 400)
    assert "_auth_user_id" not in other.session


@pytest.mark.django_db
def test_with_the_provider_passwords_are_break_glass_for_regional_admins_only(
    oidc: str, anna: User
) -> None:
    UserFactory(username="admin", role=Role.REGIONAL_ADMIN)
    page = Client().get("/accounts/login/")
    assert "Logga in med SITHS eID" in page_text(page)
    assert "Reservinloggning" in page_text(page)

    reception = Client()
    refused = reception.post("/accounts/login/", {"username": "anna", "password": "pw-for-tests-1"})
    assert refused.status_code == 200
    assert "eller så ska du logga in med SITHS eID" in page_text(refused)
    assert "_auth_user_id" not in reception.session

    admin = Client()
    admin.post("/accounts/login/", {"username": "admin", "password": "pw-for-tests-1"})
    assert "_auth_user_id" in admin.session


@pytest.mark.django_db
def test_without_a_provider_everyone_uses_a_password_and_the_oidc_urls_are_gone(
    anna: User,
) -> None:
    page = Client().get("/accounts/login/")
    assert "SITHS" not in page_text(page)
    assert Client().get("/oidc/authenticate/").status_code == 404
    client = Client()
    client.post("/accounts/login/", {"username": "anna", "password": "pw-for-tests-1"})
    assert "_auth_user_id" in client.session


def test_a_client_id_without_the_endpoints_fails_the_checks(settings: Any) -> None:
    from core.oidc import check_oidc_settings

    settings.OIDC_RP_CLIENT_ID = "sms-paminnelser"
    settings.OIDC_OP_TOKEN_ENDPOINT = ""
    errors = check_oidc_settings()
    assert "core.E001" in {error.id for error in errors}
    assert any("OIDC_OP_TOKEN_ENDPOINT" in error.msg for error in errors)


@pytest.mark.django_db
def test_a_provider_that_stops_answering_gives_a_swedish_refusal_not_an_error(
    oidc: str, anna: User, settings: Any
) -> None:
    client = Client()
    start = client.get("/oidc/authenticate/")
    answer = httpx.post(start["Location"], data={"sub": "anna"}, follow_redirects=False)
    back = urlsplit(answer.headers["location"])
    settings.OIDC_OP_TOKEN_ENDPOINT = "http://127.0.0.1:9/oauth2/token"  # nothing listens
    refused = client.get(f"{back.path}?{back.query}")
    assert refused.status_code == 302
    assert "_auth_user_id" not in client.session
    assert "inloggningstjänst svarade inte" in page_text(client.get(refused["Location"]))


@pytest.mark.django_db
def test_a_regional_admin_sets_a_persons_hsa_id_but_cannot_touch_a_superuser(
    anna: User,
) -> None:
    admin = UserFactory(username="region", role=Role.REGIONAL_ADMIN, is_staff=True)
    boss = User.objects.create_superuser("boss", password="pw-for-tests-1")
    client = Client()
    client.force_login(admin)
    form = {
        "username": "anna",
        "is_active": "on",
        "groups": [str(group.pk) for group in anna.groups.all()],
        "date_joined_0": "2026-01-01",
        "date_joined_1": "08:00:00",
        "staff_identity-TOTAL_FORMS": "1",
        "staff_identity-INITIAL_FORMS": "1",
        "staff_identity-MIN_NUM_FORMS": "0",
        "staff_identity-MAX_NUM_FORMS": "1",
        "staff_identity-0-id": str(anna.staff_identity.pk),
        "staff_identity-0-user": str(anna.pk),
    }
    fullwidth = client.post(
        f"/admin/auth/user/{anna.pk}/change/",
        {**form, "staff_identity-0-hsa_id": "SE２３２１000131-P1"},
    )
    assert fullwidth.status_code == 200  # the form again, with the error
    assert "är inte ett HSA-id" in fullwidth.content.decode()
    saved = client.post(
        f"/admin/auth/user/{anna.pk}/change/",
        {**form, "staff_identity-0-hsa_id": "se2321000131-p000000007"},
    )
    assert saved.status_code == 302
    assert StaffIdentity.objects.get(user=anna).hsa_id == "SE2321000131-P000000007"

    # A superuser's account is out of reach: neither its password nor its HSA-id.
    assert client.get(f"/admin/auth/user/{boss.pk}/password/").status_code == 403
    changed = client.post(
        f"/admin/auth/user/{boss.pk}/change/",
        {
            **form,
            "username": "boss",
            "staff_identity-TOTAL_FORMS": "0",
            "staff_identity-INITIAL_FORMS": "0",
        },
    )
    assert changed.status_code == 403
    boss.refresh_from_db()
    assert boss.check_password("pw-for-tests-1")


@pytest.mark.django_db
def test_deactivating_a_user_ends_their_provider_session_at_once(oidc: str, anna: User) -> None:
    client = Client()
    log_in_at_provider(client, "anna")
    assert client.get("/desk/").status_code == 200
    User.objects.filter(pk=anna.pk).update(is_active=False)
    assert seen(client.get("/desk/")) == "login"


@pytest.mark.django_db
def test_a_password_lock_out_of_the_address_does_not_close_siths_login(
    oidc: str, anna: User
) -> None:
    """Issue 29.7: fifty failed password logins from a clinic's address lock passwords
    there, not the login through the identity provider."""
    from tests.factories import UserFactory as Factory

    admin = Factory(role=Role.REGIONAL_ADMIN)
    sprayer = Client()
    for n in range(50):
        sprayer.post("/accounts/login/", {"username": f"name{n // 4}", "password": "x"})
    locked = Client().post("/accounts/login/", {"username": admin.username, "password": "pw"})
    assert locked.status_code == 429  # passwords are locked at this address
    client = Client()
    answer = log_in_at_provider(client, "anna", next_url="/desk/")
    assert answer.status_code == 302 and answer["Location"] == "/desk/"
    assert int(client.session["_auth_user_id"]) == anna.pk


GOOD_CLAIMS = {"iss": "https://idp.example", "aud": "sms-paminnelser", "exp": 1_000_300}


@pytest.mark.parametrize(
    ("change", "refused"),
    [
        ({}, ""),
        ({"iss": "https://evil.example"}, "iss"),
        ({"iss": None}, "iss"),
        ({"aud": "another-system"}, "aud"),
        ({"aud": ["another-system", "sms-paminnelser"]}, "aud"),  # several, azp missing
        ({"aud": ["another-system", "sms-paminnelser"], "azp": "sms-paminnelser"}, ""),
        ({"exp": 1_000_000 - 61}, "exp"),  # expired beyond the minute's leeway
        ({"exp": 1_000_000 - 59}, ""),
        ({"exp": None}, "exp"),
        ({"iat": 1_000_000 + 61}, "iat"),  # issued in the future
        ({"iat": 1_000_000 - 601}, "iat"),  # older than OIDC_ID_TOKEN_MAX_AGE
        ({"iat": None}, "iat"),
    ],
)
def test_the_id_token_s_own_claims_are_checked(
    settings: Any, change: dict[str, Any], refused: str
) -> None:
    """Issue 29.9: iss, aud (and azp), exp and iat, which the library leaves unchecked."""
    from django.core.exceptions import SuspiciousOperation

    from core.oidc import id_token_claims_check

    settings.OIDC_RP_CLIENT_ID, settings.OIDC_OP_ISSUER = "sms-paminnelser", "https://idp.example"
    claims = {**GOOD_CLAIMS, "iat": 1_000_000 - 5, **change}
    claims = {k: v for k, v in claims.items() if v is not None}
    if not refused:
        id_token_claims_check(claims, now=1_000_000)
        return
    with pytest.raises(SuspiciousOperation, match=f"ID token refused: {refused}$"):
        id_token_claims_check(claims, now=1_000_000)


@pytest.mark.django_db
def test_a_token_from_another_issuer_logs_nobody_in(oidc: str, anna: User, settings: Any) -> None:
    settings.OIDC_OP_ISSUER = "https://another-provider.example"
    client = Client()
    answer = log_in_at_provider(client, "anna")
    assert answer.status_code == 302 and answer["Location"] == "/accounts/login/"
    assert "_auth_user_id" not in client.session
    assert "inloggningstjänst svarade inte som väntat" in page_text(client.get(answer["Location"]))
