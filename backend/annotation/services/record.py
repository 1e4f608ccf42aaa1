"""The statements of a graded submission, as a few set-based SQL statements.

Submission is the platform's hot path: every accepted set writes its answers, moves its
questions' counters and decides the questions that have their answers. Through the ORM that is
a dozen statements whose compilation (expressions, ``Case``/``When`` over the set's ids, a model
instance per answer) cost more CPU than the database's own work, and a round trip each. Here each
step is one plain statement with its parameters, portable between PostgreSQL and SQLite:

- ``taskset_lock``, the one read: the set, locked, with the outcome of an earlier request
  carrying the same submission id, and its items with their gold truth.

The writes are built as ``(sql, params)`` fragments and ``run`` sends them together (one round
trip on PostgreSQL, each statement prepared on the connection the first time it is seen:
``backend/common/prepared.py``):

- ``gold_answers_insert`` and ``answers_insert``: one multi-row ``INSERT`` each;
- ``worker_counters_add``: one ``UPDATE`` of the worker's running totals;
- ``questions_count_and_decide``: an ``UPDATE`` for the Yes answers and one for the No, which
  add the answers to the questions' counters and, by the majority rule, decide those that now
  have their answers;
- ``labels_follow_decisions``: one ``UPDATE`` copying the decisions onto their labels;
- ``taskset_attempted`` and ``attempt_insert``: the set's new state and the attempt log.

Values whose database form differs between backends (UUIDs are text on SQLite, JSON is
``jsonb`` on PostgreSQL) go through their model field, as the ORM would send them.

Other aggregators decide in Python (``consensus.questions_decide``); they still use the
inserts and counters here (``questions_count`` instead of ``questions_count_and_decide``).
"""
from __future__ import annotations

import string
import uuid
from collections.abc import Sequence
from datetime import datetime
from functools import cache

from django.db import connection

from backend.annotation.models import Answer, Attempt, GoldAnswer, GoldQuestion, Question, SetItem, TaskSet
from backend.annotation.services.consensus import AMBIGUOUS, NEGATIVE, POSITIVE
from backend.common import prepared
from backend.common.rows import columns, instance_from_row
from backend.crowd.models import Worker
from backend.crowd.policy import KEEP
from backend.labels.models import Label
from backend.videos.models import Dataset

Fragment = prepared.Fragment


def _table(model) -> str:
    return _quoted_table(model, connection.vendor)


@cache
def _quoted_table(model, vendor: str) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _marks(n: int) -> str:
    return ", ".join(["%s"] * n)


def _insert(model, columns: Sequence[str], rows: Sequence[Sequence]) -> Fragment | None:
    if not rows:
        return None
    row = f"({_marks(len(columns))})"
    return (f"INSERT INTO {_table(model)} ({', '.join(columns)}) VALUES {', '.join([row] * len(rows))}",
            [value for r in rows for value in r])


def _array(values: Sequence[int | bool | None]) -> str:
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


def _insert_rows(model, columns: Sequence[str], rows: Sequence[Sequence], same: dict) -> Fragment | None:
    """Insert ``rows`` (values of ``columns``: integers, booleans, None), every row also taking
    the ``same`` column values. On PostgreSQL the rows travel as one array per column (``unnest``),
    so the statement's text and parameters do not grow with the rows; SQLite gets ``VALUES``."""
    if not rows:
        return None
    if connection.vendor != "postgresql":
        return _insert(model, [*columns, *same], [(*row, *same.values()) for row in rows])
    arrays = ", ".join(f"%s::{_pg_type(model, c)}[]" for c in columns)
    names = [f"c{n}" for n in range(len(columns))]
    return (f"INSERT INTO {_table(model)} ({', '.join([*columns, *same])}) "
            f"SELECT {', '.join([*(f'r.{n}' for n in names), *(['%s'] * len(same))])} "
            f"FROM unnest({arrays}) AS r({', '.join(names)})",
            [*same.values(), *(_array([row[k] for row in rows]) for k in range(len(columns)))])


def run(*statements: Fragment | list[Fragment] | None) -> None:
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


def _when(now: datetime):
    return connection.ops.adapt_datetimefield_value(now)


def _db(model, field: str, value):
    """``value`` as the database takes it for ``model.field``."""
    return model._meta.get_field(field).get_db_prep_save(value, connection)


_LOCKED = ("id", "public_id", "dataset_id", "worker_id", "action_id", "status", "attempts", "max_attempts",
           "provider_ref", "expires_at")


def taskset_lock(*, set_id: uuid.UUID, submission_id: uuid.UUID) -> TaskSet | None:
    """The set with this public id, its row locked until the transaction ends, or None.

    Besides its own fields (the others load on first use) it carries ``dataset_aggregator`` and
    ``dataset_adaptive`` (how its dataset decides questions); ``prev_accepted`` / ``prev_response``,
    the outcome recorded for an earlier request with this ``submission_id``, or None; and
    ``item_rows``: (public id, question id, gold id, gold truth) of each of its items, in order.
    All of it is one statement, read in that statement's snapshot: a statement that waited for
    the lock does not see an attempt committed meanwhile (the caller looks again when the set has
    attempts). Items do not change once a set is made.
    """
    with connection.cursor() as cursor:
        params = [_db(Attempt, "submission_id", submission_id), _db(TaskSet, "public_id", set_id)]
        prepared.execute(cursor, [(_taskset_lock_sql(connection.vendor), params)])
        rows = cursor.fetchall()
    if not rows:
        return None
    n = len(_LOCKED)
    taskset = instance_from_row(TaskSet, _LOCKED, rows[0][:n])
    (taskset.dataset_aggregator, taskset.dataset_adaptive,
     taskset.prev_accepted, taskset.prev_response) = rows[0][n:n + 4]
    as_uuid = SetItem._meta.get_field("public_id").to_python
    taskset.item_rows = [(as_uuid(pid), qid, gid, None if truth is None else bool(truth))
                         for pid, qid, gid, truth in (row[n + 4:] for row in rows) if pid is not None]
    return taskset


@cache
def _taskset_lock_sql(vendor: str) -> str:
    features = connection.features
    lock = ""
    if features.has_select_for_update:
        lock = " FOR UPDATE OF t" if features.has_select_for_update_of else " FOR UPDATE"
    return (f"SELECT {columns(TaskSet, _LOCKED, 't')}, d.aggregator, d.adaptive, a.accepted, a.response, "
            "i.public_id, i.question_id, i.gold_id, g.truth "
            f"FROM {_table(TaskSet)} t JOIN {_table(Dataset)} d ON d.id = t.dataset_id "
            f"LEFT JOIN {_table(Attempt)} a ON a.taskset_id = t.id AND a.submission_id = %s "
            f"LEFT JOIN {_table(SetItem)} i ON i.taskset_id = t.id "
            f"LEFT JOIN {_table(GoldQuestion)} g ON g.id = i.gold_id "
            f"WHERE t.public_id = %s ORDER BY i.position{lock}")


def attempt_insert(*, taskset_id: int, number: int, submission_id: uuid.UUID, accepted: bool, gold_total: int,
                   gold_wrong: int, payload: dict, response: dict, now: datetime) -> Fragment:
    return _insert(Attempt, ["taskset_id", "number", "submission_id", "accepted", "gold_total", "gold_wrong",
                             "payload", "response", "created_at"],
                   [(taskset_id, number, _db(Attempt, "submission_id", submission_id), accepted, gold_total,
                     gold_wrong, _db(Attempt, "payload", payload), _db(Attempt, "response", response), _when(now))])


def taskset_attempted(*, taskset_id: int, attempts: int, accepted_at: datetime | None = None) -> Fragment:
    """Count an attempt on the set; with ``accepted_at``, the set is accepted and closed then."""
    sets, params = ["attempts = %s"], [attempts]
    if accepted_at is not None:
        sets += ["status = %s", "closed_at = %s"]
        params += [TaskSet.Status.ACCEPTED, _when(accepted_at)]
    return f"UPDATE {_table(TaskSet)} SET {', '.join(sets)} WHERE id = %s", [*params, taskset_id]


def gold_answers_insert(*, worker_id: int, taskset_id: int, rows: Sequence[tuple[int, bool, bool]],
                        now: datetime) -> Fragment | None:
    """``rows``: (gold question id, value, correct)."""
    return _insert_rows(GoldAnswer, ["gold_id", "value", "correct"], rows,
                        {"worker_id": worker_id, "taskset_id": taskset_id, "created_at": _when(now)})


def answers_insert(*, worker_id: int, taskset_id: int, rows: Sequence[tuple[int, bool, int | None]],
                   now: datetime) -> Fragment | None:
    """``rows``: (question id, value, duration in ms or None)."""
    return _insert_rows(Answer, ["question_id", "value", "duration_ms"], rows,
                        {"worker_id": worker_id, "taskset_id": taskset_id, "excluded": False, "created_at": _when(now)})


def worker_counters_add(*, worker_id: int, counters: dict[str, int], now: datetime,
                        refused: bool | None = None) -> Fragment:
    """Add to the worker's running totals (only the non-zero ones) and touch ``last_seen_at``;
    with ``refused``, a graded submission, also shift its outcome into ``recent_refusals``
    (``policy.recent_after``)."""
    names = [name for name, value in counters.items() if value]
    for name in names:
        Worker._meta.get_field(name)  # only real columns reach the SQL
    sets = ["last_seen_at = %s", *(f"{name} = {name} + %s" for name in names)]
    params = [_when(now), *(counters[name] for name in names)]
    if refused is not None:
        sets.append(f"recent_refusals = (recent_refusals & {int(KEEP)}) * 2 + %s")
        params.append(1 if refused else 0)
    return f"UPDATE {_table(Worker)} SET {', '.join(sets)} WHERE id = %s", [*params, worker_id]


def _compose(template: str, **parts: Fragment) -> Fragment:
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


def _value(value) -> Fragment:
    return "%s", [value]


def _among(column: str, ids: Sequence[int]) -> Fragment:
    """``column`` is one of ``ids``. On PostgreSQL one array parameter, so that the statement's
    text (and its prepared plan) is the same whatever the number of ids; SQLite has no arrays."""
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s::bigint[])", [_array(ids)]
    return f"{column} IN ({_marks(len(ids))})", list(ids)


def questions_count(*, yes_ids: Sequence[int], no_ids: Sequence[int]) -> list[Fragment]:
    """Add one answer (Yes or No) to each question; no decision (another aggregator decides)."""
    q = _table(Question)
    return [_compose(f"UPDATE {q} SET answers = answers + 1, in_flight = in_flight - 1, {column} = {column} + 1 "
                     "WHERE {ids}", ids=_among("id", ids))
            for column, ids in (("yes", yes_ids), ("no", no_ids)) if ids]


def questions_count_and_decide(*, yes_ids: Sequence[int], no_ids: Sequence[int], now: datetime) -> list[Fragment]:
    """Add one answer to each question and decide, by majority, the open ones that now have
    their answers: positive or negative with the winning share as confidence, a tie ambiguous
    at 0.5. Decided questions get ``decided_at = now`` (``labels_follow_decisions`` finds them by it).

    One ``UPDATE`` for the Yes answers and one for the No: in each, the new counts are plain
    expressions of the old ones (an ``UPDATE`` reads every column as it was before the row changed).
    """
    statements = []
    ready = _compose("(state = {open} AND answers + 1 >= needed)", open=_value(Question.State.OPEN))
    for ids, y, n in ((yes_ids, "(yes + 1)", "no"), (no_ids, "yes", "(no + 1)")):
        if not ids:
            continue
        statements.append(_compose(
            f"UPDATE {_table(Question)} SET "
            f"decision = CASE WHEN {{ready}} THEN (CASE WHEN {y} > {n} THEN {{positive}} "
            f"WHEN {n} > {y} THEN {{negative}} ELSE {{ambiguous}} END) ELSE decision END, "
            f"confidence = CASE WHEN {{ready}} THEN (CASE WHEN {y} > {n} THEN CAST({y} AS FLOAT) / ({y} + {n}) "
            f"WHEN {n} > {y} THEN CAST({n} AS FLOAT) / ({y} + {n}) ELSE 0.5 END) ELSE confidence END, "
            "decided_at = CASE WHEN {ready} THEN {now} ELSE decided_at END, "
            "state = CASE WHEN {ready} THEN {decided} ELSE state END, "
            f"yes = {y}, no = {n}, answers = answers + 1, in_flight = in_flight - 1 WHERE {{ids}}",
            ready=ready, ids=_among("id", ids), now=_value(_when(now)), positive=_value(POSITIVE),
            negative=_value(NEGATIVE), ambiguous=_value(AMBIGUOUS), decided=_value(Question.State.DECIDED),
        ))
    return statements


def labels_follow_decisions(*, question_ids: Sequence[int], now: datetime) -> Fragment | None:
    """Copy the decisions made at ``now`` among these questions onto their labels."""
    if not question_ids:
        return None
    q, label = _table(Question), _table(Label)
    one = f"(SELECT {{column}} FROM {q} WHERE {q}.label_id = {label}.id)"
    among, ids = _among("id", question_ids)
    return (f"""UPDATE {label} SET state = {one.format(column='decision')}, yes_count = {one.format(column='yes')},
                    no_count = {one.format(column='no')}, confidence = {one.format(column='confidence')},
                    decided_at = %s
                WHERE id IN (SELECT label_id FROM {q} WHERE {among}
                             AND state = %s AND decided_at = %s AND label_id IS NOT NULL)""",
            [_when(now), *ids, Question.State.DECIDED, _when(now)])
