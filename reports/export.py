"""Every report table as CSV (UTF-8 with a byte-order mark, which spreadsheet programs need to read
Chinese labels) or XLSX (numbers as numbers, shares formatted as percentages, and a second sheet
saying what the table answers for). Pure: bytes in memory, at most MAX_ROWS rows."""

from __future__ import annotations

import csv
import io
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from reports.table import Measure, Table

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def header(table: Table) -> list[str]:
    return [f"{c.en} / {c.zh}" for c in table.columns]


def to_csv(table: Table) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header(table))
    writer.writerows(["" if v is None else v for v in row] for row in table.rows)
    return out.getvalue().encode("utf-8-sig")


def to_xlsx(table: Table) -> bytes:
    book = Workbook(write_only=True)
    sheet: WriteOnlyWorksheet = book.create_sheet(table.name)
    sheet.append(header(table))
    for row in table.rows:
        cells: list[Any] = []
        for value, column in zip(row, table.columns, strict=True):
            cell = WriteOnlyCell(sheet, value=value)
            if column.measure is Measure.SHARE:
                cell.number_format = "0.0%"
            elif column.measure is Measure.SECONDS:
                cell.number_format = "0.0"
            cells.append(cell)
        sheet.append(cells)
    about: WriteOnlyWorksheet = book.create_sheet("about")
    about.append(["report", table.name])
    for key, value in table.about.items():
        about.append([key, ", ".join(map(str, value)) if isinstance(value, list) else str(value)])
    about.append(["truncated", str(table.truncated).lower()])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def filename(table: Table, extension: str) -> str:
    """``response-by-category-2026-01-01-2026-02-01.csv``: safe characters only."""
    since, until = table.about.get("since", "")[:10], table.about.get("until", "")[:10]
    by = f"-by-{table.about['by']}" if "by" in table.about else ""
    return f"{table.name}{by}-{since}-{until}.{extension}"
