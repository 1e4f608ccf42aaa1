"""Set-based writes the ORM has no words for: INSERT ... SELECT and COPY.

Candidate rounds write millions of rows; going through model instances costs a Python object
and a parameter tuple per row. These helpers keep the SQL set-based while still taking table
and column names and the defaults of unmentioned columns from the models, so a column added
later with a default does not break them. Written for PostgreSQL and SQLite (3.35+).
"""
from __future__ import annotations

import io
import math
import re
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from django.db import connection, models
from django.utils import timezone

COLUMN_WITHOUT_DEFAULT = "{model}.{field} has no default: give it a value in the INSERT ... SELECT."


def quote(name: str) -> str:
    return connection.ops.quote_name(name)


def table(model: type[models.Model]) -> str:
    return quote(model._meta.db_table)


def column(model: type[models.Model], field: str) -> str:
    return quote(model._meta.get_field(field).column)


def insert_select(
    *,
    model: type[models.Model],
    values: Mapping[str, str],
    query: str,
    params: Sequence = (),
    prefix: str = "",
    prefix_params: Sequence = (),
) -> int:
    """``[prefix] INSERT INTO <model> (...) SELECT <values>, <defaults> <query> ON CONFLICT DO NOTHING``.

    Args:
        model: the table written.
        values: field name -> SQL expression over ``query``'s rows (no parameters).
        query: ``FROM ... WHERE ...``; it must have a WHERE clause (SQLite reads ``ON
            CONFLICT`` after a bare join as a join constraint).
        params, prefix, prefix_params: ``prefix`` is a ``WITH`` clause placed before the
            SELECT; its parameters come first.

    Every other concrete field gets its model default (``auto_now``/``auto_now_add``: now;
    nullable without default: NULL; text without default: ""), passed as parameters. Rows that break a unique
    constraint are skipped, which is what makes re-running a statement harmless.

    Returns:
        The number of rows inserted.
    """
    now = timezone.now()
    names, expressions, default_params = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key and field.name not in values:
            continue
        names.append(quote(field.column))
        if field.name in values:
            expressions.append(values[field.name])
            continue
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            value = now
        elif field.has_default() or field.null or field.empty_strings_allowed:
            value = field.get_default()  # the default, else NULL, else "" for text fields
        else:
            raise ValueError(COLUMN_WITHOUT_DEFAULT.format(model=model.__name__, field=field.name))
        expressions.append("%s")
        default_params.append(field.get_db_prep_save(value, connection))
    sql = (
        f"INSERT INTO {table(model)} ({', '.join(names)}) {prefix} "
        f"SELECT {', '.join(expressions)} {query} ON CONFLICT DO NOTHING"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*prefix_params, *default_params, *params])
        return max(cursor.rowcount, 0)


def copy_rows(*, model: type[models.Model], fields: Sequence[str], rows: Iterable[Sequence]) -> int:
    """``copy_into`` a model's table; ``fields`` are field names (foreign keys take ids)."""
    columns = [model._meta.get_field(name).column for name in fields]
    return copy_into(table_name=model._meta.db_table, columns=columns, rows=rows)


def copy_into(*, table_name: str, columns: Sequence[str], rows: Iterable[Sequence]) -> int:
    """Append rows to a table: COPY on PostgreSQL, batched executemany elsewhere.

    Values go in as given (ints, floats, strings, None). No conflict handling: COPY has none,
    so callers write rows that cannot conflict (fresh parents, a temporary table, or inside a
    transaction that fails as a whole).
    """
    if connection.vendor == "postgresql":
        return _copy_postgresql(table=table_name, columns=columns, rows=rows)
    placeholders = ", ".join(["%s"] * len(columns))
    sql = f"INSERT INTO {quote(table_name)} ({', '.join(map(quote, columns))}) VALUES ({placeholders})"
    written, batch = 0, []
    with connection.cursor() as cursor:
        for row in rows:
            batch.append(tuple(row))
            if len(batch) >= 10_000:
                cursor.executemany(sql, batch)
                written, batch = written + len(batch), []
        if batch:
            cursor.executemany(sql, batch)
            written += len(batch)
    return written


def _copy_postgresql(*, table: str, columns: Sequence[str], rows: Iterable[Sequence], chunk: int = 1 << 22) -> int:
    statement = f"COPY {quote(table)} ({', '.join(map(quote, columns))}) FROM STDIN"
    written = 0
    buffer = io.StringIO()
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the driver's cursor: Django's wrapper has no COPY

        def flush() -> None:
            data = buffer.getvalue()
            if not data:
                return
            # The driver's errors become Django's (IntegrityError ...), as for any other query.
            with connection.wrap_database_errors:
                if hasattr(raw, "copy_expert"):  # psycopg2
                    raw.copy_expert(statement, io.StringIO(data))
                else:  # psycopg 3
                    with raw.copy(statement) as copy:
                        copy.write(data)
            buffer.seek(0)
            buffer.truncate()

        for row in rows:
            buffer.write("\t".join(_copy_text(value) for value in row))
            buffer.write("\n")
            written += 1
            if buffer.tell() >= chunk:
                flush()
        flush()
    return written


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_COPY_SPECIAL = re.compile(r"[\\\t\n\r]")


def _copy_text(value) -> str:
    # Exact type checks first: a round writes millions of ints and floats through here.
    kind = type(value)
    if kind is int:
        return str(value)
    if kind is float:
        if math.isfinite(value):
            return repr(value)
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if value is None:
        return r"\N"
    text = str(value)
    return text.translate(_COPY_ESCAPES) if _COPY_SPECIAL.search(text) else text


def fetch_array(sql: str, params: Sequence, *, columns: int, dtype=np.int64) -> np.ndarray:
    """The rows of a query of numbers (no NULLs) as an ``(N, columns)`` array.

    On PostgreSQL the rows travel as ``COPY ... TO STDOUT`` text parsed by numpy in one call,
    several times faster than building a Python tuple per row for the millions of labels a
    round reads.
    """
    with connection.cursor() as cursor:
        raw = cursor.cursor
        if connection.vendor == "postgresql" and hasattr(raw, "copy_expert"):
            query = raw.mogrify(sql, list(params)).decode()
            buffer = io.BytesIO()
            with connection.wrap_database_errors:
                raw.copy_expert(f"COPY ({query}) TO STDOUT", buffer)
            values = np.fromstring(buffer.getvalue().decode(), dtype=dtype, sep=" ")
        else:
            cursor.execute(sql, params)
            values = np.array(cursor.fetchall(), dtype=dtype).reshape(-1)
    return values.reshape(-1, columns)


def update_from_rows(*, model: type[models.Model], fields: Sequence[str], rows: Sequence[Sequence]) -> int:
    """Set ``fields`` of many rows at once: ``rows`` are ``(pk, value, ...)`` in ``fields`` order.

    The values are copied into a temporary table and applied by one UPDATE ... FROM; Django's
    ``bulk_update`` builds a CASE per field with a branch per row, which PostgreSQL took
    seconds to evaluate for a few thousand relations.
    """
    if not rows:
        return 0
    temporary = f"{model._meta.db_table}_update"
    model_fields = [model._meta.get_field(name) for name in fields]
    pk = model._meta.pk
    # db_type is the bare column type (keys and identity clauses are added elsewhere).
    definitions = ", ".join(f"{quote(field.column)} {field.db_type(connection)}" for field in [pk, *model_fields])
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE {quote(temporary)} ({definitions})")
    try:
        copy_into(table_name=temporary, columns=[pk.column, *(field.column for field in model_fields)], rows=rows)
        assignments = ", ".join(f"{quote(field.column)} = u.{quote(field.column)}" for field in model_fields)
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table(model)} AS t SET {assignments} FROM {quote(temporary)} AS u "
                f"WHERE t.{quote(pk.column)} = u.{quote(pk.column)}"
            )
            return max(cursor.rowcount, 0)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {quote(temporary)}")

