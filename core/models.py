"""Who may use the system: the API clients (systems, by key and scope) and the identity
of staff users as the region's identity provider knows them."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _


class Scope(models.TextChoices):
    REGISTRY_WRITE = "registry:write", "registry:write"  # population register / 1177 sync
    BOOKINGS_WRITE = "bookings:write", "bookings:write"  # the booking system
    ESERVICE = "eservice", "eservice"  # the residents' e-service
    STATUS_READ = "status:read", "status:read"  # read SMS status
    OUTBOX_READ = "outbox:read", "outbox:read"  # read the outbox gateway's SMS
    AUDIT_READ = "audit:read", "audit:read"  # read the access log (auditors' tools)


class ApiClient(models.Model):
    """A system that calls the API. Its key is shown once and stored only as a hash.

    A key is `<prefix>.<secret>`: the prefix finds the row, the SHA-256 of the whole key
    proves it (keys are 256 random bits, so a fast hash is the right one)."""

    name = models.CharField(_("namn"), max_length=100, unique=True)
    key_prefix = models.CharField(_("nyckelns början"), max_length=12, unique=True)
    key_hash = models.CharField(_("nyckelns hash"), max_length=64)
    scopes = models.JSONField(_("behörigheter"), default=list)
    is_active = models.BooleanField(_("aktiv"), default=True)
    created_at = models.DateTimeField(_("skapad"), db_default=Now())
    last_used_at = models.DateTimeField(_("senast använd"), null=True, blank=True)

    class Meta:
        db_table = "bookings_apiclient"  # named before this app existed
        ordering = ["name"]
        verbose_name = _("API-klient")
        verbose_name_plural = _("API-klienter")

    def __str__(self) -> str:
        return self.name

    # DRF treats the authenticated principal as request.user.
    is_authenticated = True
    is_anonymous = False

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @staticmethod
    def generate_key() -> tuple[str, str]:
        prefix = secrets.token_hex(6)
        return prefix, f"{prefix}.{secrets.token_urlsafe(32)}"

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


class StaffIdentity(models.Model):
    """The person behind a staff user as the region's identity provider knows them: their
    HSA-id, which the login through SITHS eID (OpenID Connect) matches. Roles and clinics
    stay here; the provider only says who is at the keyboard."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="staff_identity",
        verbose_name=_("användare"),
    )
    hsa_id = models.CharField(_("personens HSA-id"), max_length=31, unique=True)

    class Meta:
        db_table = "bookings_staffidentity"  # named before this app existed
        verbose_name = _("inloggningsidentitet")
        verbose_name_plural = _("inloggningsidentiteter")

    def __str__(self) -> str:
        return self.hsa_id


class TotpDevice(models.Model):
    """A staff user's authenticator (the second factor of a break-glass password login):
    the shared secret, and the last time step whose code was used (never accepted again).
    Made with `manage.py totp_enrol USERNAME`."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="totp_device"
    )
    secret = models.CharField(max_length=64)
    last_step = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        verbose_name = _("engångskodsapp")
        verbose_name_plural = _("engångskodsappar")

    def __str__(self) -> str:
        return f"{self.user_id}"


# The access log is this app's too: importing it here registers it when Django loads the
# app's models.
from .access_log.models import AccessLog  # noqa: E402

__all__ = ["AccessLog", "ApiClient", "Scope", "StaffIdentity", "TotpDevice"]
