"""What a person sees of a back-office page: its heading, the login page, or a refusal."""

from __future__ import annotations

import re
from html import unescape
from typing import Any


def seen(response: Any) -> str:
    """ "login" for a redirect to the login page, "refused" for the 403 page (which never
    shows the page's data), else the page's heading as text."""
    if response.status_code == 302:
        location = response["Location"]
        return "login" if location.startswith("/accounts/login/") else f"redirect {location}"
    content = response.content.decode()
    if response.status_code == 403:
        assert "<h1>Ingen åtkomst</h1>" in content
        return "refused"
    heading = re.search(r"<h1>(.*?)</h1>", content, re.S)
    if response.status_code != 200 or heading is None:
        return f"{response.status_code} without a heading"
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", heading.group(1))).split())


def page_text(response: Any) -> str:
    """Everything a person reads on a page (its markup and scripts left out)."""
    assert response.status_code == 200, response.status_code
    content = re.sub(r"<(script|style)\b.*?</\1>", " ", response.content.decode(), flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", content)).split())
