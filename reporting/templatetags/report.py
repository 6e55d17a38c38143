"""How the reports write their numbers: Swedish percentages with a decimal comma."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def percent(value: Any) -> str:
    """0.0452 → "4,5 %" (a no-break space before the sign); None → "–"."""
    if value is None:
        return "–"
    return f"{float(value) * 100:.1f}".replace(".", ",") + "\u00a0%"
