from typing import Any

from django.apps import AppConfig
from django.core import checks
from django.db.models.signals import post_migrate


class ConsentConfig(AppConfig):
    name = "consent"
    verbose_name = "Samtycke"

    def ready(self) -> None:
        from core.staff import Role, role_permissions_grant

        from .checks import access_log_retention, audit_settings, consent_settings

        checks.register(consent_settings)
        checks.register(audit_settings)
        checks.register(access_log_retention, deploy=True)
        role_permissions_grant(
            Role.REGIONAL_ADMIN,
            [
                "consent.view_consentevent",
                "consent.view_patientconsent",
                "consent.view_migrationexclusion",
                "consent.view_legacyimport",
                "consent.view_standardreply",
                "consent.add_standardreply",
                "consent.change_standardreply",
                "consent.view_eservicecase",
            ],
        )
        role_permissions_grant(Role.AUDITOR, ["consent.view_consentevent"])
        post_migrate.connect(_ensure_replies, sender=self)
        from bookings.signals import patient_replaced

        patient_replaced.connect(_carry_consent_over, dispatch_uid="consent-carry-over")

    def load_demo(self, **kwargs: Any) -> None:
        from .demo import load_demo

        load_demo(**kwargs)


def _carry_consent_over(sender: Any, *, old: Any, new: Any, **kwargs: Any) -> None:
    from .services import consent_carry_over

    consent_carry_over(old=old, new=new)


def _ensure_replies(**kwargs: Any) -> None:
    from .cases.shipped_replies import ensure_standard_replies

    ensure_standard_replies(using=kwargs.get("using", "default"))
