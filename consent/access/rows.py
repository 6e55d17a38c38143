"""How a log entry reads for people — who, at which unit, what, when — the same on the
auditor's page, in a patient's log extract and in the downloads: names beside every
HSA-id and username, Swedish labels instead of codes, local times."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from core.access_log.models import AccessLog
from core.staff import Role


@dataclass(frozen=True)
class Who:
    name: str  # full name, or the API client's name
    username: str  # the login name, "" for an API client
    hsa_id: str
    roles: str  # Swedish role names, or "API-klient"


@lru_cache(maxsize=8)
def _labels(language: str) -> tuple[dict[str, str], dict[str, str]]:
    """The roles' and actions' Swedish labels, translated once per language (a download
    labels tens of thousands of rows)."""
    return (
        {code: str(label) for code, label in Role.choices},
        {code: str(label) for code, label in AccessLog.Action.choices},
    )


def role_labels(codes: str) -> str:
    labels = _labels(get_language() or "")[0]
    return ", ".join(labels.get(code, code) for code in codes.split(",") if code)


def who(entry: AccessLog) -> Who:
    """The actor of an entry as they were at the read. Entries written before the log
    kept that fall back to the account as it is now."""
    if entry.client_id:
        return Who(name=entry.actor_name, username="", hsa_id="", roles=_("API-klient"))
    user = entry.user
    if user is None:
        return Who(name="", username="", hsa_id="", roles="")
    if entry.actor_full_name or entry.actor_hsa_id or entry.actor_roles:
        name, hsa_id, roles = entry.actor_full_name, entry.actor_hsa_id, entry.actor_roles
    else:
        identity = getattr(user, "staff_identity", None)
        name, hsa_id = user.get_full_name(), identity.hsa_id if identity else ""
        roles = ""
    username = entry.actor_username or user.get_username()  # as it was, when kept
    return Who(name=name or username, username=username, hsa_id=hsa_id, roles=role_labels(roles))


def local(at: datetime) -> datetime:
    """A time as a Swedish spreadsheet or reader takes it: Stockholm time, no zone."""
    return timezone.localtime(at).replace(tzinfo=None, microsecond=0)


def spreadsheet_time(at: datetime) -> str:
    """A CSV time Excel reads as a time: "2026-06-01 14:03:05" (no T, no zone)."""
    return local(at).strftime("%Y-%m-%d %H:%M:%S")


def what(entry: AccessLog) -> str:
    if entry.patient_id is None and entry.searched_for:
        return _("Sökning utan träff")
    return _labels(get_language() or "")[1].get(entry.action, entry.action)
