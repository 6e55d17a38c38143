"""Every cell written to a CSV or XLSX download goes through here (rules 3.10): a value
that a spreadsheet would run as a formula (one starting with =, +, -, @, a tab or a
carriage return) is escaped with a leading apostrophe, and XLSX cells are written as text,
never as formulas. A family name like =HYPERLINK("…") stays a name.

The files open as a Swedish spreadsheet expects: CSV in UTF-8 with a byte order mark (so
Excel reads å, ä, ö right), `;` between cells and decimal commas; XLSX with a bold,
frozen header row, a filter on it and columns wide enough to read."""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any

from django.http import FileResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header

BOM = "\ufeff"

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_row(row: Iterable[Any]) -> list[Any]:
    return [safe_cell(value) for value in row]


def csv_cell(value: Any) -> Any:
    """A CSV cell as a Swedish spreadsheet reads it: a decimal comma, nothing for None."""
    if value is None:
        return ""
    if isinstance(value, float | Decimal):
        return str(value).replace(".", ",")
    return safe_cell(value)


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
    """Streams `;`-separated UTF-8 rows after a byte order mark, every cell formula-safe
    and every decimal with a comma: a large export never sits in memory."""
    writer = csv.writer(_Echo(), delimiter=";")

    def lines() -> Iterator[str]:
        yield BOM
        for row in rows:
            yield writer.writerow([csv_cell(value) for value in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    # A Swedish file name keeps its å, ä and ö (RFC 6266 filename*, with an ASCII fallback).
    disposition = content_disposition_header(as_attachment=True, filename=filename)
    response["Content-Disposition"] = disposition or "attachment"
    return response


def xlsx_response(
    *,
    title: str,
    header: Sequence[tuple[str, float]],
    rows: Iterable[Iterable[Any]],
    filename: str,
) -> FileResponse:
    """An XLSX download: `header` names each column (in Swedish) with its width in
    characters; the header row is bold, frozen and filtered. openpyxl's write-only
    workbook keeps one row in memory at a time; the file is built on disk and streamed."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=title[:31])
    for index, (_name, width) in enumerate(header, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    cells = xlsx_row(sheet, [name for name, _width in header])
    for cell in cells:
        cell.font = bold
    sheet.append(cells)
    last = 1
    for row in rows:
        sheet.append(xlsx_row(sheet, row))
        last += 1
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(header))}{last}"
    handle = tempfile.TemporaryFile()  # noqa: SIM115 (FileResponse closes it)
    book.save(handle)
    handle.seek(0)
    return FileResponse(
        handle,
        as_attachment=True,
        filename=filename,
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
