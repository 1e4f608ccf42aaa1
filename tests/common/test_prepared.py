"""Statements prepared once per PostgreSQL session (backend/common/prepared.py).

The PostgreSQL checks run on a connection of their own: to the test database when the suite runs
on PostgreSQL, else to a private server started for this module. SQLite is checked on an
in-memory database.
"""
from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db import DatabaseError, connection
from django.db.backends.postgresql.base import DatabaseWrapper as PostgresWrapper
from django.db.backends.sqlite3.base import DatabaseWrapper as SqliteWrapper
from django.test.utils import CaptureQueriesContext

from backend.common import prepared
from tests.helpers import private_postgres_server

ECHO = ("SELECT %s::int + 1, %s::text, %s::uuid, %s::timestamptz, %s::int[], %s::text IS NULL, "
        "'100%%' AS percent")


@pytest.fixture(scope="module")
def postgres_settings():
    if connection.vendor == "postgresql":
        yield dict(connection.settings_dict)
        return
    with private_postgres_server() as pg:
        yield {"NAME": "mmit", "USER": "postgres", "PASSWORD": "", "HOST": "127.0.0.1", "PORT": str(pg.port)}


@pytest.fixture
def pg(postgres_settings, django_db_blocker):
    """A fresh server session: its own Django connection, closed after the test."""
    settings_dict = {**connection.settings_dict, **postgres_settings, "ENGINE": "django.db.backends.postgresql",
                     "OPTIONS": {}, "CONN_MAX_AGE": 0, "CONN_HEALTH_CHECKS": False, "AUTOCOMMIT": True,
                     "ATOMIC_REQUESTS": False, "TIME_ZONE": None}
    wrapper = PostgresWrapper(settings_dict, alias="prepared_test")
    with django_db_blocker.unblock():
        yield wrapper
        wrapper.close()


def _run(wrapper, fragments):
    with wrapper.cursor() as cursor:
        prepared.execute(cursor, fragments, connection=wrapper)
        return cursor.fetchall() if cursor.description else None


def _server_prepared(wrapper) -> dict[str, int]:
    """name -> executions (generic and custom plans) of what this session has prepared."""
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT name, generic_plans + custom_plans FROM pg_prepared_statements")
        return dict(cursor.fetchall())


def _queries(wrapper, fragments) -> tuple[list, list[str]]:
    with CaptureQueriesContext(wrapper) as captured:
        rows = _run(wrapper, fragments)
    return rows, [q["sql"] for q in captured.captured_queries]


def test_placeholders_are_numbered_and_percent_signs_kept():
    assert prepared._numbered("SELECT %s, '5%%', %s") == ("SELECT $1, '5%%', $2", 2)
    assert prepared._numbered("SELECT 1") == ("SELECT 1", 0)


def test_statement_names_are_stable_readable_and_distinct():
    a, b = "UPDATE annotation_question SET yes = yes + 1 WHERE id = %s", "UPDATE annotation_question SET no = 1"
    assert prepared.statement_name(a) == prepared.statement_name(a)
    assert prepared.statement_name(a).startswith("mmit_update_annotation_question_set_")
    assert prepared.statement_name(a) != prepared.statement_name(b)
    assert len(prepared.statement_name(a * 20)) < 64  # PostgreSQL's identifier limit


def test_prepared_once_per_session_with_the_same_results(pg):
    params = [41, "it's", uuid.UUID(int=7), dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC), [1, 2], None]
    first, first_sql = _queries(pg, [(ECHO, params)])
    again, again_sql = _queries(pg, [(ECHO, params)])
    with pg.cursor() as cursor:  # the statement as it is, not prepared
        cursor.execute(ECHO, params)
        plain = cursor.fetchall()
    assert first == again == plain
    assert first[0][0] == 42 and first[0][6] == "100%"
    assert "PREPARE" in first_sql[0] and "EXECUTE" in first_sql[0]
    assert "PREPARE" not in again_sql[0] and again_sql[0].startswith("EXECUTE")
    assert _server_prepared(pg) == {prepared.statement_name(ECHO): 2}


def test_several_statements_go_in_one_query_in_order(pg):
    insert, update = "INSERT INTO t (id, v) VALUES (%s, %s), (%s, %s)", "UPDATE t SET v = v || %s WHERE id = ANY(%s)"
    fragments = [("CREATE TEMP TABLE IF NOT EXISTS t (id int PRIMARY KEY, v text)", []),  # not preparable
                 (insert, [1, "a", 2, "b"]), (update, ["!", [2]]), ("SELECT id, v FROM t ORDER BY id", [])]
    rows, sql = _queries(pg, fragments)
    assert rows == [(1, "a"), (2, "b!")]
    assert len(sql) == 1 and sql[0].count("PREPARE") == 3 and sql[0].startswith("CREATE TEMP TABLE")
    _run(pg, [("DELETE FROM t", [])])
    rows, sql = _queries(pg, fragments)
    assert rows == [(1, "a"), (2, "b!")] and "PREPARE" not in sql[0]
    assert len(_server_prepared(pg)) == 4  # insert, update, select, delete


def test_a_failed_query_makes_the_next_one_start_over(pg):
    divide = "SELECT 1 / %s"
    with pytest.raises(DatabaseError):  # its PREPARE ran, its EXECUTE failed
        _run(pg, [(divide, [0])])
    assert prepared.statement_name(divide) in _server_prepared(pg)
    rows, sql = _queries(pg, [(divide, [1])])  # no "prepared statement already exists"
    assert rows == [(1,)]
    assert sql[0].startswith("DEALLOCATE ALL") and "PREPARE" in sql[0]
    assert _queries(pg, [(divide, [1])])[1][0].startswith("EXECUTE")


def test_a_new_server_session_prepares_again(pg):
    _run(pg, [(ECHO, [1, "a", None, None, None, None])])
    pg.close()
    rows, sql = _queries(pg, [(ECHO, [1, "a", None, None, None, None])])
    assert rows[0][0] == 2 and "PREPARE" in sql[0]


def test_sessions_start_over_beyond_the_cap(pg, monkeypatch):
    monkeypatch.setattr(prepared, "MAX_PER_CONNECTION", 3)
    texts = [f"SELECT {n} + %s" for n in range(4)]
    for text in texts[:3]:
        _run(pg, [(text, [1])])
    assert len(_server_prepared(pg)) == 3
    rows, sql = _queries(pg, [(texts[3], [1])])
    assert rows == [(4,)] and sql[0].startswith("DEALLOCATE ALL")
    assert set(_server_prepared(pg)) == {prepared.statement_name(texts[3])}


def test_switched_off_the_text_runs_as_it_is(pg, settings):
    settings.DATABASE_PREPARED_STATEMENTS = False
    rows, sql = _queries(pg, [("SELECT %s::int * 2", [21])])
    assert rows == [(42,)] and sql[0].startswith("SELECT") and not _server_prepared(pg)


def test_a_placeholder_count_that_does_not_match_is_refused(pg):
    with pytest.raises(ValueError, match="2 placeholders for 1 parameters"):
        _run(pg, [("SELECT %s, %s", [1])])
    assert not _server_prepared(pg)


def test_sqlite_runs_each_statement_as_it_is(django_db_blocker):
    lite = SqliteWrapper({**connection.settings_dict, "ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:",
                          "OPTIONS": {}, "TIME_ZONE": None, "CONN_MAX_AGE": 0, "CONN_HEALTH_CHECKS": False,
                          "AUTOCOMMIT": True, "ATOMIC_REQUESTS": False}, alias="prepared_sqlite")
    with django_db_blocker.unblock():
        rows, sql = _queries(lite, [("CREATE TABLE t (id int, v text)", []),
                                    ("INSERT INTO t VALUES (%s, %s), (%s, %s)", [1, "a%", 2, "b"]),
                                    ("SELECT v FROM t WHERE id IN (%s, %s) ORDER BY id", [1, 2])])
        lite.close()
    assert rows == [("a%",), ("b",)]
    assert len(sql) == 3 and not any("PREPARE" in s for s in sql)
