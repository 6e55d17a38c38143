"""The API's body parser (a module of its own: DRF's settings import it while DRF's views
are still being imported)."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.parsers import JSONParser


class JsonParser(JSONParser):
    """DRF's JSON parser, and a body nested deeper than Python's parser recurses (5,000
    arrays in arrays) is bad input like any other unreadable body: a 400, not a 500."""

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("Ogiltig JSON: nästlad för djupt.") from None
