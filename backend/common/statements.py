"""SQL statements as ``(text, params)`` fragments, composed in Python and sent as one batch.

The graded-set engine's submit path is the platform's hot path: every accepted set writes its
answers, moves counters and records an attempt. Through the ORM that is a dozen statements whose
compilation (expressions, ``Case``/``When`` over the set's ids, a model instance per row) cost
more CPU than the database's own work, and a round trip each. These helpers build each write as
one plain statement, portable between PostgreSQL and SQLite, and ``execute_batch`` sends them
together: one round trip on PostgreSQL, each statement prepared on its connection the first time
it is seen (``prepared.py``); one statement per call on SQLite, whose driver takes one at a time.

Values whose database form differs between backends (UUIDs are text on SQLite, JSON is ``jsonb``
on PostgreSQL, datetimes) go through their model field (``db_value``, ``when``), as the ORM would
send them. Table names are quoted once per backend, not per request.
"""
from __future__ import annotations

import string
from collections.abc import Sequence
from datetime import datetime
from functools import cache

from django.db import connection

from backend.common import prepared

Fragment = prepared.Fragment


def table(model) -> str:
    """The quoted table name of ``model``."""
    return _quoted_table(model, connection.vendor)


@cache
def _quoted_table(model, vendor: str) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def marks(n: int) -> str:
    return ", ".join(["%s"] * n)


def insert(model, columns: Sequence[str], rows: Sequence[Sequence]) -> Fragment | None:
    """A multi-row ``INSERT`` of database-ready values (None when there is no row)."""
    if not rows:
        return None
    row = f"({marks(len(columns))})"
    return (f"INSERT INTO {table(model)} ({', '.join(columns)}) VALUES {', '.join([row] * len(rows))}",
            [value for r in rows for value in r])


def int_array(values: Sequence[int | bool | None]) -> str:
    """A PostgreSQL array literal of integers, booleans and NULLs, as one text parameter.

    psycopg2 adapts every list element as an object of its own, a few microseconds each, which
    was a tenth of a submission's CPU; integers and booleans have one spelling, built here (any
    other type is refused, so no text from a request can reach the literal)."""
    out = []
    for v in values:
        if v is None:
            out.append("NULL")
        elif isinstance(v, bool):
            out.append("t" if v else "f")
        elif isinstance(v, int):
            out.append(str(int(v)))
        else:
            raise TypeError(f"array values are integers, booleans or None, not {type(v).__name__}")
    return "{" + ",".join(out) + "}"


@cache
def _pg_type(model, column: str) -> str:  # called on PostgreSQL only
    return model._meta.get_field(column).db_type(connection)


def insert_rows(model, columns: Sequence[str], rows: Sequence[Sequence], same: dict) -> Fragment | None:
    """Insert ``rows`` (values of ``columns``: integers, booleans, None), every row also taking
    the ``same`` column values. On PostgreSQL the rows travel as one array per column (``unnest``),
    so the statement's text and parameters do not grow with the rows; SQLite gets ``VALUES``."""
    if not rows:
        return None
    if connection.vendor != "postgresql":
        return insert(model, [*columns, *same], [(*row, *same.values()) for row in rows])
    arrays = ", ".join(f"%s::{_pg_type(model, c)}[]" for c in columns)
    names = [f"c{n}" for n in range(len(columns))]
    return (f"INSERT INTO {table(model)} ({', '.join([*columns, *same])}) "
            f"SELECT {', '.join([*(f'r.{n}' for n in names), *(['%s'] * len(same))])} "
            f"FROM unnest({arrays}) AS r({', '.join(names)})",
            [*same.values(), *(int_array([row[k] for row in rows]) for k in range(len(columns)))])


def execute_batch(*statements: Fragment | list[Fragment] | None) -> None:
    """Run the statements in order; ``None`` (nothing to write) is skipped, a list is run in place.

    On PostgreSQL they go as one query: psycopg sends several statements in one round trip, and
    the server runs them in order in the current transaction, each from its prepared plan. The
    SQLite driver takes one statement per call.
    """
    fragments: list[Fragment] = []
    for part in statements:
        if isinstance(part, list):
            fragments.extend(part)
        elif part is not None:
            fragments.append(part)
    if not fragments:
        return
    with connection.cursor() as cursor:
        prepared.execute(cursor, fragments)


def when(moment: datetime):
    """A datetime as the database takes it."""
    return connection.ops.adapt_datetimefield_value(moment)


def db_value(model, field: str, value):
    """``value`` as the database takes it for ``model.field``."""
    return model._meta.get_field(field).get_db_prep_save(value, connection)


def compose(template: str, **parts: Fragment) -> Fragment:
    """Fill ``{name}`` fields of ``template`` with SQL fragments, their parameters in the order
    the fields appear (a field may appear several times)."""
    text, params = [], []
    for literal, field, _, _ in string.Formatter().parse(template):
        text.append(literal)
        if field is not None:
            fragment, fragment_params = parts[field]
            text.append(fragment)
            params.extend(fragment_params)
    return "".join(text), params


def value(v) -> Fragment:
    return "%s", [v]


def among(column: str, ids: Sequence[int]) -> Fragment:
    """``column`` is one of ``ids``. On PostgreSQL one array parameter, so that the statement's
    text (and its prepared plan) is the same whatever the number of ids; SQLite has no arrays."""
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s::bigint[])", [int_array(ids)]
    return f"{column} IN ({marks(len(ids))})", list(ids)
