"""FHIR search of appointments (contract 2): `GET /fhir/Appointment?…` by the patient's
personnummer, date, business identifier, id or last update, answered as a paged
searchset Bundle. Every hit is a read of its patient's data, in the access log."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.errors import DomainError
from core.models import ApiClient

from .. import identity
from ..models import Appointment
from . import operations
from .mapping import PERSONAL_ID_SYSTEMS
from .outcome import FhirError

SEARCH_PARAMETERS = (
    "patient",
    "patient:identifier",
    "date",
    "identifier",
    "_id",
    "_lastUpdated",
    "_count",
    "_offset",
    "_sort",
)
DEFAULT_COUNT, MAX_COUNT = 50, 100
PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")


def _bad(name: str, message: str) -> FhirError:
    return FhirError(400, "invalid", f"{name}: {message}", code="invalid_search", expression=name)


def _instant_range(name: str, raw: str) -> tuple[str, datetime, datetime]:
    """A date search value: its prefix and the moments it covers ([start, end)). A date
    without a time is its whole day in Sweden; a dateTime is that instant."""
    prefix = raw[:2] if raw[:2] in PREFIXES else "eq"
    value = raw[2:] if raw[:2] in PREFIXES else raw
    if prefix not in ("eq", "gt", "lt", "ge", "le"):
        raise _bad(name, f"prefixet {prefix} stöds inte (eq, gt, ge, lt, le).")
    zone = timezone.get_current_timezone()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            start = datetime.combine(day, time.min, tzinfo=zone)
            return prefix, start, datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
        moment = parse_datetime(value)
    except ValueError:
        moment = None
    if moment is None:
        raise _bad(name, f"{value!r} är inget datum (ÅÅÅÅ-MM-DD eller med tid och tidszon).")
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, zone)
    return prefix, moment, moment + timedelta(microseconds=1)


def _date_filter(field: str, name: str, values: Iterable[str]) -> Q:
    condition = Q()
    for raw in values:
        prefix, start, end = _instant_range(name, raw)
        condition &= {
            "eq": Q(**{f"{field}__gte": start, f"{field}__lt": end}),
            "gt": Q(**{f"{field}__gte": end}),
            "ge": Q(**{f"{field}__gte": start}),
            "lt": Q(**{f"{field}__lt": start}),
            "le": Q(**{f"{field}__lt": end}),
        }[prefix]
    return condition


def _patient_filter(params: Any) -> Q:
    condition = Q()
    for raw in params.getlist("patient:identifier"):
        system, bar, value = raw.partition("|")
        if not bar or system not in PERSONAL_ID_SYSTEMS:
            raise _bad("patient:identifier", "ange personnummer som system|värde.")
        condition &= Q(patient__personal_id=_pid("patient:identifier", value))
    for raw in params.getlist("patient"):
        condition &= Q(patient__personal_id=_pid("patient", raw.removeprefix("Patient/")))
    return condition


def _pid(name: str, value: str) -> str:
    try:
        return identity.parse_personal_id(value).value
    except DomainError as error:
        raise _bad(name, error.message) from None


def _int(params: Any, name: str, default: int, top: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 7:
        raise _bad(name, "ett heltal.")
    return min(int(raw), top)


def appointments_found(params: Any) -> QuerySet[Appointment]:
    """The appointments a search's parameters ask for, by start (then id)."""
    condition = _patient_filter(params)
    condition &= _date_filter("starts_at", "date", params.getlist("date"))
    condition &= _date_filter("updated_at", "_lastUpdated", params.getlist("_lastUpdated"))
    for raw in params.getlist("identifier"):
        condition &= Q(identifier=raw)
    for raw in params.getlist("_id"):
        condition &= Q(external_id__in=[v for v in raw.split(",") if v])
    return (
        Appointment.objects.filter(condition)
        .select_related("patient", "clinic")
        .order_by("starts_at", "id")
    )


def appointment_search(*, client: ApiClient, params: Any, base_url: str) -> dict[str, Any]:
    """The searchset Bundle of one page (`_count`, `_offset`); `_summary=count` gives the
    total alone. Each patient on the page is logged as read."""
    found = appointments_found(params)
    count = _int(params, "_count", DEFAULT_COUNT, MAX_COUNT)
    offset = _int(params, "_offset", 0, 10_000_000)
    total = found.count()
    if params.get("_summary") == "count":
        count = 0
    page = list(found[offset : offset + count]) if count else []
    operations.appointments_logged(client, page)

    def link(relation: str, at: int) -> dict[str, str]:
        query = [(k, v) for k in params for v in params.getlist(k) if k != "_offset"]
        return {
            "relation": relation,
            "url": f"{base_url}/Appointment?{urlencode([*query, ('_offset', at)])}",
        }

    links = [link("self", offset)]
    if count and offset + count < total:
        links.append(link("next", offset + count))
    if count and offset > 0:
        links.append(link("previous", max(0, offset - count)))
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "meta": {"lastUpdated": timezone.now().isoformat()},
        "type": "searchset",
        "total": total,
        "link": links,
    }
    if page:  # FHIR's JSON has no empty arrays
        bundle["entry"] = [
            {
                "fullUrl": f"{base_url}/Appointment/{a.external_id}",
                "resource": operations.appointment_resource_of(a),
                "search": {"mode": "match"},
            }
            for a in page
        ]
    return bundle
