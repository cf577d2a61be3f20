"""Text helpers."""

from __future__ import annotations


def db_text(value: object) -> str:
    """The value as text PostgreSQL can store: NUL characters (which it refuses) removed."""
    return str(value).replace("\x00", "")


def csv_safe(value: object) -> str:
    """A cell of an exported CSV, with spreadsheet formulas neutralised (a leading = + - @ tab or CR)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_response(filename: str):
    """An attachment `<filename>.csv` and a writer for it: UTF-8 with a byte-order mark, so that spreadsheet
    programs read Chinese right. Every cell goes through csv_safe (the writer does it)."""
    import csv

    from django.http import HttpResponse

    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    response.write("\ufeff")
    return response, _SafeWriter(csv.writer(response))


class _SafeWriter:
    """A csv writer whose every cell is made formula-safe."""

    def __init__(self, writer):
        self._writer = writer

    def writerow(self, row) -> None:
        self._writer.writerow([csv_safe(cell) for cell in row])
