"""Keyset pages: lists that stay as fast on their last page as on their first.

An offset page makes the database read and throw away every row before it (a million rows for
the last page of a million); a keyset page starts from the id where the previous page ended
(``after``) or the next one began (``before``), which an index finds at once. Totals are counted
up to a cap: a page says "more than 10,000" rather than counting a million rows for it.

``keyset_page`` serves the dashboard's lists; ``KeysetPagination`` the API's (DRF's cursor
pagination, with the capped count added).
"""
from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

COUNT_CAP = 10_000


@dataclass(frozen=True)
class KeysetPage:
    rows: list
    total: int  # exact when not ``capped``, else COUNT_CAP
    capped: bool  # there are more than ``total``
    next_after: int | None  # ?after= of the next page, None on the last
    prev_before: int | None  # ?before= of the previous page, None on the first


def capped_count(qs: QuerySet, cap: int | None = None) -> tuple[int, bool]:
    """``(count, capped)``: the rows of ``qs`` counted up to ``cap`` (COUNT_CAP by default; reads
    at most cap + 1 rows)."""
    cap = COUNT_CAP if cap is None else cap
    n = qs.order_by()[: cap + 1].count()
    return (cap, True) if n > cap else (n, False)


def keyset_page(qs: QuerySet, *, after: int | None = None, before: int | None = None, limit: int = 50,
                cap: int | None = None) -> KeysetPage:
    """One page of ``qs`` in id order: the ``limit`` rows after id ``after``, or before id ``before``
    (the first page without either). Every read is a walk of an index from a known id."""
    if before is not None:
        rows = list(qs.filter(pk__lt=before).order_by("-pk")[: limit + 1])
        more_before = len(rows) > limit
        rows = rows[:limit][::-1]
        next_after = rows[-1].pk if rows and qs.filter(pk__gt=rows[-1].pk).exists() else None
        prev_before = rows[0].pk if more_before else None
    else:
        start = qs.filter(pk__gt=after) if after is not None else qs
        rows = list(start.order_by("pk")[: limit + 1])
        next_after = rows[limit - 1].pk if len(rows) > limit else None
        rows = rows[:limit]
        prev_before = rows[0].pk if rows and after is not None and qs.filter(pk__lt=rows[0].pk).exists() else None
    total, capped = capped_count(qs, cap)
    return KeysetPage(rows=rows, total=total, capped=capped, next_after=next_after, prev_before=prev_before)


def page_id(value) -> int | None:
    """An ``after``/``before`` query value as an id (None when absent or not a number)."""
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


class KeysetPagination(CursorPagination):
    """DRF's cursor pagination in id order (``?cursor=`` links in ``next``/``previous``), with
    ``count`` counted up to COUNT_CAP (``count_capped`` says there are more)."""

    ordering = "id"
    page_size = 100
    page_size_query_param = "limit"
    max_page_size = 1000

    def paginate_queryset(self, queryset, request, view=None):
        self.count, self.count_capped = capped_count(queryset)
        return super().paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data):
        return Response({"count": self.count, "count_capped": self.count_capped, "next": self.get_next_link(),
                         "previous": self.get_previous_link(), "results": data})

    def get_paginated_response_schema(self, schema):
        described = super().get_paginated_response_schema(schema)
        described["properties"] = {"count": {"type": "integer", "example": 123},
                                   "count_capped": {"type": "boolean"}, **described["properties"]}
        return described
