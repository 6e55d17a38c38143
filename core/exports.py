"""Every cell written to a CSV or XLSX download goes through here (rules 3.10): a value
that a spreadsheet would run as a formula (one starting with =, +, -, @, a tab or a
carriage return) is escaped with a leading apostrophe, and XLSX cells are written as text,
never as formulas. A family name like =HYPERLINK("…") stays a name."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any

from django.http import StreamingHttpResponse

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_row(row: Iterable[Any]) -> list[Any]:
    return [safe_cell(value) for value in row]


def xlsx_row(sheet: Any, row: Iterable[Any]) -> list[Any]:
    """Cells for openpyxl's write-only sheet: escaped, and text stays text (openpyxl would
    otherwise store any string starting with = as a formula)."""
    from openpyxl.cell import WriteOnlyCell

    cells = []
    for value in safe_row(row):
        cell = WriteOnlyCell(sheet, value=value)
        if isinstance(value, str):
            cell.data_type = "s"
        cells.append(cell)
    return cells


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_response(rows: Iterable[Iterable[Any]], filename: str) -> StreamingHttpResponse:
    """Streams `;`-separated UTF-8 rows, every cell formula-safe: a large export never sits
    in memory."""
    writer = csv.writer(_Echo(), delimiter=";")
    response = StreamingHttpResponse(
        (writer.writerow(safe_row(row)) for row in rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
