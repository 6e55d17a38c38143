"""`manage.py totp_enrol USERNAME`: gives a regional admin or superuser the second factor
of their break-glass password login and prints what their authenticator app reads."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.totp import provisioning_uri, totp_enrol


class Command(BaseCommand):
    help = "Koppla en engångskodsapp (TOTP) till en användare; ersätter en tidigare."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, username: str, **options: Any) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"Ingen användare heter {username!r}.")
        secret = totp_enrol(user)
        self.stdout.write(f"Nyckel: {secret}\n{provisioning_uri(secret, username)}\n")
        self.stdout.write(
            "Lägg in nyckeln (eller länken som QR-kod) i en autentiseringsapp; visas bara nu."
        )
