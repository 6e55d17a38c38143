from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...errors import DomainError
from ...models import Scope
from ...services import api_client_create


class Command(BaseCommand):
    help = "Creates an API client and prints its key once, alone on the last line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument(
            "--scopes",
            required=True,
            help="Comma-separated: " + ",".join(Scope.values),
        )

    def handle(self, *args: Any, name: str, scopes: str, **options: Any) -> None:
        wanted = [s.strip() for s in scopes.split(",") if s.strip()]
        try:
            client, key = api_client_create(name=name, scopes=wanted)
        except DomainError as error:
            raise CommandError(error.message) from None
        self.stderr.write(
            f"API client {client.name!r} created with scopes {', '.join(client.scopes)}. "
            "The key below is shown only now; store it in the client's secret store."
        )
        self.stdout.write(key)
