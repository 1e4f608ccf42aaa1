"""CSV downloads of lists that may hold millions of rows: streamed a chunk at a time, so memory
stays constant whatever the list's length, with cells a spreadsheet will not run as formulas.

``CSVRenderer`` lets an API view answer ``?format=csv`` (or ``Accept: text/csv``) with the
streamed response it builds itself.
"""
from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence

from django.http import StreamingHttpResponse
from rest_framework.renderers import BaseRenderer

# A cell starting with one of these is a formula to Excel/LibreOffice ("CSV injection"); a
# leading apostrophe makes it text. Video names and reasons are user input.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value) if isinstance(value, float) else str(value)
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


class _Line:
    """A file-like sink for ``csv.writer`` that hands back the line just written."""

    def write(self, value: str) -> str:
        return value


def csv_lines(header: Sequence[str], rows: Iterable[Sequence]) -> Iterable[str]:
    writer = csv.writer(_Line())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([csv_cell(value) for value in row])


def csv_response(*, filename: str, header: Sequence[str], rows: Iterable[Sequence]) -> StreamingHttpResponse:
    """``rows`` (a generator: it is read while the response is sent) as a CSV download."""
    response = StreamingHttpResponse(csv_lines(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class CSVRenderer(BaseRenderer):
    """Content negotiation only: views answering CSV return ``csv_response`` themselves."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        # Views stream their CSV and answer errors in JSON (``JSONErrors``); nothing is left to render.
        return b""


class JSONErrors:
    """A mixin for API views that offer CSV: an error is still ``{"detail": ...}`` in JSON."""

    def handle_exception(self, exc):
        from rest_framework.renderers import JSONRenderer

        response = super().handle_exception(exc)
        self.request.accepted_renderer, self.request.accepted_media_type = JSONRenderer(), "application/json"
        return response
