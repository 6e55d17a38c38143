"""The reports' downloads as people read the screen (issue 31, item 10): Swedish column
names, labels instead of codes, percentages as the page writes them, the clinic's name
beside its HSA-id, dates as dates, and every table as CSV and as XLSX under a Swedish
file name. core.exports writes the cells (formula-safe, decimal commas)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.http import HttpResponseBase

from consent.reasons import reason_label
from core.exports import csv_response, xlsx_response
from reminders.models import Status

from .templatetags.report import percent


@dataclass(frozen=True)
class Table:
    title: str  # the sheet's name
    columns: Sequence[tuple[str, float]]  # Swedish name, width in characters
    rows: Iterable[Sequence[Any]]
    filename: str  # without its extension, Swedish


def table_response(table: Table, fmt: str) -> HttpResponseBase:
    """The table as CSV (`fmt` "csv") or XLSX ("xlsx")."""
    if fmt == "xlsx":
        return xlsx_response(
            title=table.title,
            header=table.columns,
            rows=table.rows,
            filename=f"{table.filename}.xlsx",
        )
    header = [tuple(name for name, _width in table.columns)]
    return csv_response([*header, *table.rows], f"{table.filename}.csv")


def _pct(value: float | None) -> str:
    """As on the screen: "4,5 %", or "–" where there is nothing to count."""
    return percent(value)


def outcomes_table(months: Iterable[Any], baseline: float | None, scope: str) -> Table:
    return Table(
        title="Utfall per månad",
        columns=(
            ("Månad", 12),
            ("Uteblivna med påminnelse", 14),
            ("Antal kontakter med påminnelse", 14),
            ("Uteblivna utan påminnelse", 14),
            ("Antal kontakter utan påminnelse", 14),
            ("Uteblivna 2023", 12),
            ("Fick påminnelse", 12),
            ("Bokade kontakter", 12),
            ("Sms-frågan ställd", 12),
            ("Ankomster i receptionen", 14),
            ("Sena avbokningar", 12),
            ("Kontakter", 10),
        ),
        rows=[
            (
                m.month,
                _pct(m.no_show_rate_reminded),
                m.reminded_contacts,
                _pct(m.no_show_rate_not_reminded),
                m.not_reminded_contacts,
                _pct(baseline),
                _pct(m.coverage),
                m.booked,
                _pct(m.question_compliance),
                m.desk_arrivals,
                m.late_cancellations,
                m.contacts,
            )
            for m in months
        ],
        filename=f"utfall-per-månad-{scope}",
    )


def delivery_table(deliveries: Iterable[Any], scope: str) -> Table:
    statuses = dict(Status.choices)
    return Table(
        title="Sms-leverans",
        columns=(("Månad", 12), ("Status", 16), ("Varför", 50), ("Sms", 10), ("Sms-delar", 10)),
        rows=[
            (
                d.month,
                str(statuses.get(d.status, d.status)),
                reason_label(d.reason) if d.reason else "",
                d.messages,
                d.segments,
            )
            for d in deliveries
        ],
        filename=f"sms-leverans-{scope}",
    )


def exclusions_table(rows: Iterable[Any]) -> Table:
    return Table(
        title="Ej flyttade",
        columns=(
            ("HSA-id", 22),
            ("Mottagning", 36),
            ("Flyttades inte över", 14),
            ("Aktiverade sedan", 14),
        ),
        rows=[(r.clinic.hsa_id, r.clinic.name, r.excluded, r.activated_since) for r in rows],
        filename="ej-flyttade-per-mottagning",
    )


def caught_table(rows: Iterable[Any]) -> Table:
    return Table(
        title="Fångade sedan",
        columns=(
            ("HSA-id", 22),
            ("Mottagning", 36),
            ("Vecka (måndag)", 14),
            ("Tillfrågade vid ankomst", 14),
            ("Aktiverade", 12),
        ),
        rows=[(r.clinic.hsa_id, r.clinic.name, r.week, r.asked, r.activated) for r in rows],
        filename="fångade-sedan",
    )
