from django.apps import AppConfig


class BookingsConfig(AppConfig):
    name = "bookings"
    verbose_name = "Register och bokningar"

    def ready(self) -> None:
        from django.core import checks

        from core.staff import Role, role_permissions_grant

        from .checks import fhir_settings

        checks.register(fhir_settings)

        role_permissions_grant(
            Role.REGIONAL_ADMIN,
            [
                "bookings.add_clinic",
                "bookings.change_clinic",
                "bookings.view_clinic",
                "bookings.view_patient",
                "bookings.view_guardianship",
                "auth.add_user",
                "auth.change_user",
                "auth.view_user",
                "auth.view_group",
            ],
        )
