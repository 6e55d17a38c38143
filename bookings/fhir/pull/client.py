"""HTTP to the booking system's FHIR server as a SMART Backend Services client: OAuth2
client credentials (a client secret, or a `private_key_jwt` assertion signed with our key),
the token kept until it expires and fetched again once on a 401; 429 and 5xx waited out
(`Retry-After`, else a doubling backoff); every page checked to be an R4 searchset Bundle.

Nothing here writes to the database: a failure is a `PullFailed`, and the poll that gets
one changes nothing (poll.py)."""

from __future__ import annotations

import base64
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, cast
from urllib.parse import quote

import httpx
import jwt
import pydantic
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fhir.resources.R4B.bundle import Bundle as FhirBundle
from fhir.resources.R4B.resource import Resource

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
FHIR_JSON = "application/fhir+json"


class PullFailed(Exception):
    """The poll cannot go on (the server, the network, a page we cannot trust): nothing is
    applied and the next poll tries again. The message names no patient."""


class NotR4(PullFailed):
    """The server answered with something that is not FHIR R4."""


@dataclass(frozen=True)
class PullConfig:
    base_url: str
    token_url: str
    client_id: str
    client_secret: str = ""
    private_key: str = ""  # PEM: private_key_jwt instead of the secret
    key_id: str = ""
    scope: str = "system/Appointment.rs system/Patient.rs"
    timeout: float = 30.0
    retries: int = 4  # attempts after the first, for 429, 5xx and a dropped connection
    max_wait: float = 30.0  # the longest Retry-After honoured, seconds


@dataclass
class _Token:
    value: str
    expires_at: float  # time.monotonic()


# One token per server and client, shared by the polls of a process until it expires.
_tokens: dict[tuple[str, str], _Token] = {}
_tokens_lock = threading.Lock()


def tokens_forget() -> None:
    with _tokens_lock:
        _tokens.clear()


@dataclass
class PullClient:
    config: PullConfig
    http: httpx.Client = field(default_factory=lambda: httpx.Client())
    sleep: Callable[[float], None] = time.sleep
    pages: int = 0  # search pages read by this client
    server_time: datetime | None = None  # the Date of the first answer of this client
    search_time: datetime | None = None  # the first search page's own time (meta.lastUpdated)
    server_seconds: float = 0.0  # time spent waiting for the server's answers
    # The library's reading of each matched resource of the pages read, by the identity of
    # its JSON (kept with it, so the identity stays its own): read once, with its page.
    readings: dict[int, tuple[dict[str, Any], Resource]] = field(default_factory=dict)

    def reading(self, raw: dict[str, Any]) -> Resource | None:
        """The library's reading of `raw`, a resource of a page this client read, if it is
        one (a copy or a changed resource is not)."""
        kept = self.readings.get(id(raw))
        return kept[1] if kept is not None and kept[0] is raw else None

    # --- the token ---------------------------------------------------------------------
    def _assertion(self) -> dict[str, str]:
        now = int(time.time())
        claims = {
            "iss": self.config.client_id,
            "sub": self.config.client_id,
            "aud": self.config.token_url,
            "exp": now + 300,
            "jti": uuid.uuid4().hex,
        }
        key = serialization.load_pem_private_key(self.config.private_key.encode(), None)
        algorithm = "ES384" if isinstance(key, ec.EllipticCurvePrivateKey) else "RS384"
        headers = {"kid": self.config.key_id} if self.config.key_id else None
        token = jwt.encode(claims, key, algorithm=algorithm, headers=headers)  # type: ignore[arg-type]
        return {"client_assertion_type": ASSERTION_TYPE, "client_assertion": token}

    def _token_fetch(self) -> _Token:
        form = {"grant_type": "client_credentials", "scope": self.config.scope}
        headers = {"Accept": "application/json"}
        if self.config.private_key:
            form.update(self._assertion())
        else:  # client_secret_basic (RFC 6749 2.3.1: each part form-encoded first)
            user, secret = self.config.client_id, self.config.client_secret
            pair = f"{quote(user, safe='')}:{quote(secret, safe='')}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        try:
            response = self.http.post(
                self.config.token_url, data=form, headers=headers, timeout=self.config.timeout
            )
        except httpx.HTTPError as error:
            raise PullFailed(f"token endpoint unreachable ({type(error).__name__})") from None
        if response.status_code != 200:
            raise PullFailed(f"token endpoint answered {response.status_code}")
        try:
            body = response.json()
            value = str(body["access_token"])
            lifetime = float(body.get("expires_in", 300))
        except (ValueError, KeyError, TypeError):
            raise PullFailed("token endpoint answered without an access_token") from None
        # Renewed a little before the server's expiry, so no request carries a stale one.
        return _Token(value, time.monotonic() + max(lifetime - 30, lifetime / 2))

    def _token(self, *, renew: bool = False) -> str:
        key = (self.config.token_url, self.config.client_id)
        with _tokens_lock:
            token = _tokens.get(key)
            if renew or token is None or token.expires_at <= time.monotonic():
                token = _tokens[key] = self._token_fetch()
            return token.value

    # --- one request ---------------------------------------------------------------------
    def _wait(self, response: httpx.Response | None, attempt: int) -> float:
        backoff: float = min(0.5 * 2**attempt, self.config.max_wait)
        if response is None:
            return backoff
        said: str = response.headers.get("Retry-After", "").strip()
        if said.isdigit():
            return min(float(said), self.config.max_wait)
        if said:
            try:
                when = parsedate_to_datetime(said)
                # No Date header (None) raises TypeError here, as a date without a zone does:
                # both wait the backoff.
                return min(
                    max((when - _http_date(response)).total_seconds(), 0.0),  # type: ignore[operator]
                    self.config.max_wait,
                )
            except (TypeError, ValueError):
                pass
        return backoff

    def get(self, url: str, params: dict[str, Any] | None = None) -> httpx.Response | None:
        """GET a URL of the server: the answer (2xx), None for 404 and 410, a PullFailed for
        anything else once 429, 5xx and dropped connections have been retried."""
        if not url.startswith(self.config.base_url):
            # A next link elsewhere: our token goes to the booking system's server only.
            raise PullFailed("the server linked to another address")
        renewed = False
        attempt = 0
        while True:
            headers = {"Authorization": f"Bearer {self._token()}", "Accept": FHIR_JSON}
            response: httpx.Response | None
            started = time.perf_counter()
            try:
                response = self.http.get(
                    url, params=params, headers=headers, timeout=self.config.timeout
                )
            except httpx.HTTPError as error:
                self.server_seconds += time.perf_counter() - started
                response, failure = None, type(error).__name__
            else:
                self.server_seconds += time.perf_counter() - started
                failure = f"HTTP {response.status_code}"
                if self.server_time is None:
                    self.server_time = _http_date(response)
                if response.status_code == 401 and not renewed:
                    renewed = True
                    self._token(renew=True)
                    continue
                if response.status_code in (404, 410):
                    return None
                if response.is_success:
                    return response
                if response.status_code != 429 and response.status_code < 500:
                    raise PullFailed(f"the server answered {failure}")
            if attempt >= self.config.retries:
                raise PullFailed(f"the server failed {attempt + 1} times ({failure})")
            self.sleep(self._wait(response, attempt))
            attempt += 1

    def get_json(self, url: str, params: dict[str, Any] | None = None) -> dict[str, Any] | None:
        response = self.get(url, params)
        if response is None:
            return None
        _fhir_version_check(response)
        try:
            body = response.json()
        except ValueError:
            raise NotR4("the server answered with something that is not JSON") from None
        if not isinstance(body, dict):
            raise NotR4("the server answered with something that is not a resource")
        return body

    # --- the interactions ------------------------------------------------------------------
    def capability(self) -> dict[str, Any]:
        body = self.get_json(f"{self.config.base_url}/metadata")
        if body is None or body.get("resourceType") != "CapabilityStatement":
            raise NotR4("the server's metadata is not a CapabilityStatement")
        if not str(body.get("fhirVersion", "")).startswith("4.0"):
            raise NotR4(f"the server speaks FHIR {body.get('fhirVersion')!r}, not R4 (4.0)")
        return body

    def read(self, resource_type: str, resource_id: str) -> dict[str, Any] | None:
        """The resource, or None when the server says 404 or 410."""
        body = self.get_json(f"{self.config.base_url}/{resource_type}/{resource_id}")
        if body is not None and body.get("resourceType") != resource_type:
            raise NotR4(f"a read of {resource_type} answered {body.get('resourceType')!r}")
        return body

    def search(
        self,
        resource_type: str,
        params: dict[str, Any],
        included: list[dict[str, Any]] | None = None,
    ) -> Iterator[list[dict[str, Any]]]:
        """A search, page by page (its `next` links): each page's matched resources of the
        type; what the server adds to a page (`_include`, search mode "include") goes to
        `included`. A page that is not an R4 searchset Bundle, or a listing shorter than
        the total the server announced (a page served twice, a resource that moved to a
        page already read), fails the search."""
        url: str | None = f"{self.config.base_url}/{resource_type}"
        query: dict[str, Any] | None = params
        seen: set[str] = set()
        total: int | None = None
        while url:
            body = self.get_json(url, query)
            if body is None:
                raise PullFailed(f"a page of the {resource_type} search is gone")
            resources = _searchset(body, resource_type, self.readings, included)
            self.pages += 1
            if self.search_time is None:
                self.search_time = instant((body.get("meta") or {}).get("lastUpdated"))
            seen.update(str(r.get("id")) for r in resources)
            if isinstance(body.get("total"), int):
                total = body["total"]
            yield resources
            url = next(
                (
                    str(link.get("url"))
                    for link in body.get("link", [])
                    if link.get("relation") == "next"
                ),
                None,
            )
            query = None  # the next link carries the whole query
        if total is not None and len(seen) < total:
            raise PullFailed(
                f"the {resource_type} search listed {len(seen)} of the {total} it announced"
            )


def instant(value: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _http_date(response: httpx.Response) -> datetime | None:
    try:
        return parsedate_to_datetime(cast(str, response.headers.get("Date", "")))
    except (TypeError, ValueError):
        return None


def _fhir_version_check(response: httpx.Response) -> None:
    """FHIR's media type may name the version (`fhirVersion=4.0`): another one is refused."""
    media = response.headers.get("Content-Type", "")
    for part in media.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.lower() == "fhirversion" and not value.strip('"').startswith("4.0"):
            raise NotR4(f"the server answered FHIR {value}, not R4 (4.0)")


def _searchset(
    body: dict[str, Any],
    resource_type: str,
    readings: dict[int, tuple[dict[str, Any], Resource]],
    included: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """The matched resources of one page, once the page reads as an R4 searchset Bundle
    (each resource's reading kept in `readings`; the included ones added to `included`)."""
    if body.get("resourceType") != "Bundle" or body.get("type") != "searchset":
        raise NotR4("a search page is not a searchset Bundle")
    try:
        bundle = FhirBundle.model_validate(body)
    except (pydantic.ValidationError, ValueError, TypeError, LookupError, AttributeError):
        raise NotR4("a search page does not read as an R4 Bundle") from None
    found = []
    for entry, read in zip(body.get("entry") or [], bundle.entry or [], strict=True):
        resource = entry.get("resource") or {}
        mode = (entry.get("search") or {}).get("mode", "match")
        if mode == "match" and resource.get("resourceType") == resource_type:
            found.append(resource)
        elif mode == "include" and included is not None:
            included.append(resource)
        else:
            continue
        if read.resource is not None:
            readings[id(resource)] = (resource, read.resource)
    return found
