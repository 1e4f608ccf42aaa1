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

from django.db.models import F, Q, QuerySet
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


def _beyond(key: str, descending: bool, cursor: tuple, later: bool) -> Q:
    """The rows after (``later``) or before ``cursor`` = (key value, id) in the order (key, id).

    ``key >= value`` (or ``<=``) comes first so that an index on (key, id) starts its walk at the
    cursor; the OR then only drops the ties already shown."""
    value, pk = cursor
    op = "gt" if later != descending else "lt"
    if key == "pk":
        return Q(**{f"pk__{op}": pk})
    return Q(**{f"{key}__{op}e": value}) & (Q(**{f"{key}__{op}": value}) | Q(**{key: value, f"pk__{op}": pk}))


def sort_cursor(value: str | None, cast=float) -> tuple | None:
    """An ``after``/``before`` value of ``sorted_page`` (``"0.52:1234"``; a bare id for the
    id order) as (key value, id); None when absent or malformed."""
    if not value:
        return None
    try:
        if ":" not in value:
            pk = int(value)
            return (pk, pk)
        key, pk = value.rsplit(":", 1)
        return (cast(key), int(pk))
    except (TypeError, ValueError):
        return None


def sorted_page(qs: QuerySet, *, key: str = "pk", descending: bool = False, after: tuple | None = None,
                before: tuple | None = None, limit: int = 50, cap: int | None = None) -> KeysetPage:
    """``keyset_page`` in the order (key, id), ascending or ``descending``: the ``limit`` rows after
    the cursor ``after`` or before ``before`` (from ``sort_cursor``). ``key`` must never be null in
    ``qs`` (filter the nulls out first). The page's ``next_after``/``prev_before`` are cursor
    strings (``"value:id"``, a bare id when the key is ``pk``)."""
    attname = "pk" if key == "pk" else qs.model._meta.get_field(key).attname
    order = [F(key).desc() if descending else F(key).asc(), "-pk" if descending else "pk"]
    reverse = [F(key).asc() if descending else F(key).desc(), "pk" if descending else "-pk"]
    if key == "pk":
        order, reverse = order[1:], reverse[1:]

    def cursor_of(row) -> tuple:
        return (getattr(row, attname), row.pk)

    def text(row) -> str:
        return str(row.pk) if key == "pk" else f"{getattr(row, attname)!r}:{row.pk}"

    if before is not None:
        rows = list(qs.filter(_beyond(key, descending, before, later=False)).order_by(*reverse)[: limit + 1])
        more_before = len(rows) > limit
        rows = rows[:limit][::-1]
        later = rows and qs.filter(_beyond(key, descending, cursor_of(rows[-1]), later=True)).exists()
        next_after = text(rows[-1]) if later else None
        prev_before = text(rows[0]) if more_before else None
    else:
        start = qs.filter(_beyond(key, descending, after, later=True)) if after is not None else qs
        rows = list(start.order_by(*order)[: limit + 1])
        next_after = text(rows[limit - 1]) if len(rows) > limit else None
        rows = rows[:limit]
        earlier = rows and after is not None and qs.filter(
            _beyond(key, descending, cursor_of(rows[0]), later=False)).exists()
        prev_before = text(rows[0]) if earlier else None
    total, capped = capped_count(qs, cap)
    return KeysetPage(rows=rows, total=total, capped=capped, next_after=next_after, prev_before=prev_before)


def sorted_chunks(qs: QuerySet, *, fields: tuple[str, ...], key: str = "pk", descending: bool = False,
                  size: int = 2000):
    """Every row of ``qs`` in the order (key, id) as a tuple of ``fields`` (``values_list``: no model
    instances, half the time of an export), read ``size`` rows at a time from a keyset cursor: an
    export of millions of rows in constant memory, each read an index walk. ``fields`` must hold
    ``id`` and the key's column (``video_id`` for the key ``video``)."""
    attname = "id" if key == "pk" else qs.model._meta.get_field(key).attname
    at_key, at_id = fields.index(attname), fields.index("id")
    order = [F(key).desc() if descending else F(key).asc(), "-pk" if descending else "pk"]
    if key == "pk":
        order = order[1:]
    cursor = None
    while True:
        chunk = list((qs.filter(_beyond(key, descending, cursor, later=True)) if cursor else qs)
                     .order_by(*order).values_list(*fields)[:size])
        yield from chunk
        if len(chunk) < size:
            return
        cursor = (chunk[-1][at_key], chunk[-1][at_id])


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
