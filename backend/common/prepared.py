"""Plain statements prepared once per PostgreSQL connection, then run by name.

The submit path sends a handful of fixed statements many times a second. PostgreSQL parses and
plans a statement each time it receives its text; a prepared statement (``PREPARE name AS ...``,
then ``EXECUTE name(...)``) is planned for its first few runs and then keeps a generic plan for
the life of the connection. On a set submission that is 1.2 ms of PostgreSQL's 5 ms of CPU
(measured in one process, submissions alternating between the two ways).

psycopg2 has no protocol-level prepare, so this is done in SQL: the first time a connection meets
a statement text, the query that runs it starts with its ``PREPARE`` (one round trip still). The
SQL is written once, with ``%s`` placeholders as everywhere in Django; on SQLite, or with
``DATABASE_PREPARED_STATEMENTS=0`` (needed behind a pooler that hands each transaction a
different server connection, such as PgBouncer in transaction mode), the same text runs as is.

Prepared statements belong to the server session and outlive a rolled-back transaction. When a
query fails we cannot tell which of its ``PREPARE``s ran, so the next query on that connection
starts with ``DEALLOCATE ALL`` and prepares again what it uses.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from django.conf import settings
from django.db import connection as default_connection

Fragment = tuple[str, Sequence]  # SQL text with %s placeholders, and its parameters

MAX_PER_CONNECTION = 256  # beyond this many distinct texts a connection starts over (DEALLOCATE ALL)
PREPARABLE = {"select", "insert", "update", "delete", "values", "with", "merge"}  # others run as they are
_PLACEHOLDER = re.compile(r"%[s%]")
_WORD = re.compile(r"[^a-z0-9]+")


class _State:
    """What one server session has prepared: SQL text -> statement name."""

    def __init__(self, raw) -> None:
        self.raw = raw  # the driver's connection these names live on
        self.names: dict[str, str] = {}
        self.unknown = False  # a query failed: its PREPAREs may or may not exist


def enabled(connection=default_connection) -> bool:
    return connection.vendor == "postgresql" and getattr(settings, "DATABASE_PREPARED_STATEMENTS", True)


def _state(connection) -> _State:
    connection.ensure_connection()
    state = getattr(connection, "_prepared_statements", None)
    if state is None or state.raw is not connection.connection:  # a new server session
        state = _State(connection.connection)
        connection._prepared_statements = state
    return state


def _numbered(sql: str) -> tuple[str, int]:
    """``sql`` with its ``%s`` placeholders as ``$1``, ``$2``, ... (``%%`` stays as it is)."""
    count = 0

    def number(match: re.Match) -> str:
        nonlocal count
        if match.group() == "%%":
            return "%%"
        count += 1
        return f"${count}"

    return _PLACEHOLDER.sub(number, sql), count


def statement_name(sql: str) -> str:
    """A readable, stable name: the statement's first words and a hash of its text."""
    words = _WORD.sub("_", " ".join(sql.split()[:4]).lower()).strip("_")[:36]
    return f"mmit_{words}_{hashlib.sha1(sql.encode()).hexdigest()[:12]}"


def _compose(fragments: Sequence[Fragment], state: _State | None) -> tuple[str, list, list[tuple[str, str]]]:
    """(query text, parameters, statements prepared by it) running ``fragments`` in order."""
    params = [p for _, fragment_params in fragments for p in fragment_params]
    if state is None:
        return ";\n".join(sql for sql, _ in fragments), params, []
    parts, new = [], []
    if state.unknown or len(state.names) + len(fragments) > MAX_PER_CONNECTION:
        parts.append("DEALLOCATE ALL")
        state.names.clear()
    for sql, fragment_params in fragments:
        if sql.split(None, 1)[0].lower() not in PREPARABLE:
            parts.append(sql)
            continue
        name = state.names.get(sql) or next((n for s, n in new if s == sql), None)
        if name is None:
            body, count = _numbered(sql)
            if count != len(fragment_params):
                raise ValueError(f"{count} placeholders for {len(fragment_params)} parameters in: {sql[:200]}")
            name = statement_name(sql)
            parts.append(f"PREPARE {name} AS {body}")
            new.append((sql, name))
        parts.append(f"EXECUTE {name}({', '.join(['%s'] * len(fragment_params))})" if fragment_params
                     else f"EXECUTE {name}")
    return ";\n".join(parts), params, new


def execute(cursor, fragments: Sequence[Fragment], connection=default_connection) -> None:
    """Run ``fragments`` in order on ``cursor``: one query on PostgreSQL (each statement prepared
    on first use), one statement per call on SQLite, whose driver takes one at a time. The cursor
    holds the result of the last statement."""
    if not fragments:
        return
    if connection.vendor != "postgresql":
        for sql, params in fragments:
            cursor.execute(sql, params)
        return
    state = _state(connection) if enabled(connection) else None
    text, params, new = _compose(fragments, state)
    if state is None:
        cursor.execute(text, params)
        return
    state.unknown = True  # until the query is known to have run
    cursor.execute(text, params)
    state.unknown = False
    state.names.update(new)
