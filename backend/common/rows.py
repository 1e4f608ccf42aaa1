"""Model instances from rows read with plain SQL, for the few hot paths that skip the ORM.

``Model.objects.raw()`` would do this too, but it inspects the cursor and resolves the model's
field order on every call, which cost a millisecond of CPU per request on the submit path.
Here the caller names the columns it selected, in order; each value goes through the same
converters the ORM applies (SQLite returns datetimes as text and UUIDs as hex, for example),
and the instance is built by ``Model.from_db`` as the ORM builds it: fields not selected are
deferred and load on first access.
"""
from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from django.db import DEFAULT_DB_ALIAS, connection, connections


@cache
def _by_attname(model) -> dict:
    return {field.attname: field for field in model._meta.concrete_fields}


def attnames(model) -> list[str]:
    """Every column of ``model`` by attname (``worker_id`` for the ``worker`` key)."""
    return list(_by_attname(model))


def columns(model, names: Sequence[str], alias: str) -> str:
    """``alias.column, ...`` for these attnames, quoted, for a SELECT list."""
    quote, fields = connection.ops.quote_name, _by_attname(model)
    return ", ".join(f"{alias}.{quote(fields[name].column)}" for name in names)


@cache
def _converters(model, name: str, vendor: str) -> tuple:
    """The column expression of ``model.name`` and the converters its database values go through
    (the backend's, then the field's). They depend on the backend and the settings only, so they
    are looked up once per backend rather than for every value read."""
    field = _by_attname(model)[name]
    column = field.get_col(model._meta.db_table)
    return column, tuple(connection.ops.get_db_converters(column) + field.get_db_converters(connection))


def instance_from_row(model, names: Sequence[str], row: Sequence):
    """An instance of ``model`` from ``row``, whose values are the columns ``names`` (attnames)
    in that order (any order: ``from_db`` wants the model's, so they are put in it here)."""
    db = connections[DEFAULT_DB_ALIAS]  # the thread's connection, looked up once
    values = {}
    for name, value in zip(names, row):
        if value is not None:
            column, converters = _converters(model, name, db.vendor)
            for converter in converters:
                value = converter(value, column, db)
        values[name] = value
    ordered = [name for name in _by_attname(model) if name in values]
    return model.from_db(db.alias, ordered, [values[name] for name in ordered])
