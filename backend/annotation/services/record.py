"""The writes of a graded submission, as a few set-based SQL statements.

Submission is the platform's hot path: every accepted set writes its answers, moves its
questions' counters and decides the questions that have their answers. Through the ORM that is
a dozen statements whose compilation (expressions, ``Case``/``When`` over the set's ids, a model
instance per answer) cost more CPU than the database's own work. Here each step is one plain
statement with its parameters, portable between PostgreSQL and SQLite:

- ``gold_answers_insert`` and ``answers_insert``: one multi-row ``INSERT`` each;
- ``worker_counters_add``: one ``UPDATE`` of the worker's running totals;
- ``questions_count_and_decide``: one ``UPDATE`` that adds the answers to the questions'
  counters and, by the majority rule, decides those that now have their answers (an ``UPDATE``
  reads every column as it was before the row changed, so the new counts are spelled out);
- ``labels_follow_decisions``: one ``UPDATE`` copying the decisions onto their labels.

Other aggregators decide in Python (``consensus.questions_decide``); they still use the
inserts and counters here.
"""
from __future__ import annotations

import string
from collections.abc import Sequence
from datetime import datetime

from django.db import connection

from backend.annotation.models import Answer, GoldAnswer, Question
from backend.annotation.services.consensus import AMBIGUOUS, NEGATIVE, POSITIVE
from backend.crowd.models import Worker
from backend.labels.models import Label


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _marks(n: int) -> str:
    return ", ".join(["%s"] * n)


def _insert(model, columns: Sequence[str], rows: Sequence[Sequence]) -> None:
    if not rows:
        return
    row = f"({_marks(len(columns))})"
    sql = f"INSERT INTO {_table(model)} ({', '.join(columns)}) VALUES {', '.join([row] * len(rows))}"
    with connection.cursor() as cursor:
        cursor.execute(sql, [value for r in rows for value in r])


def _when(now: datetime):
    return connection.ops.adapt_datetimefield_value(now)


def gold_answers_insert(*, worker_id: int, taskset_id: int, rows: Sequence[tuple[int, bool, bool]],
                        now: datetime) -> None:
    """``rows``: (gold question id, value, correct)."""
    at = _when(now)
    _insert(GoldAnswer, ["gold_id", "worker_id", "taskset_id", "value", "correct", "created_at"],
            [(gold_id, worker_id, taskset_id, value, correct, at) for gold_id, value, correct in rows])


def answers_insert(*, worker_id: int, taskset_id: int, rows: Sequence[tuple[int, bool, int | None]],
                   now: datetime) -> None:
    """``rows``: (question id, value, duration in ms or None)."""
    at = _when(now)
    _insert(Answer, ["question_id", "worker_id", "taskset_id", "value", "duration_ms", "excluded", "created_at"],
            [(qid, worker_id, taskset_id, value, ms, False, at) for qid, value, ms in rows])


def worker_counters_add(*, worker_id: int, counters: dict[str, int], now: datetime) -> None:
    """Add to the worker's running totals (only the non-zero ones) and touch ``last_seen_at``."""
    names = [name for name, value in counters.items() if value]
    for name in names:
        Worker._meta.get_field(name)  # only real columns reach the SQL
    sets = ", ".join(["last_seen_at = %s", *(f"{name} = {name} + %s" for name in names)])
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {_table(Worker)} SET {sets} WHERE id = %s",
                       [_when(now), *(counters[name] for name in names), worker_id])


Fragment = tuple[str, list]


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


def _execute(fragment: Fragment) -> None:
    with connection.cursor() as cursor:
        cursor.execute(*fragment)


def _counts(yes_ids: Sequence[int], ids: Sequence[int]) -> dict[str, Fragment]:
    """The fragments both counter updates use: a row's Yes (1 or 0) and the rows updated."""
    is_yes = (f"(CASE WHEN id IN ({_marks(len(yes_ids))}) THEN 1 ELSE 0 END)", list(yes_ids)) if yes_ids else ("0", [])
    return {"is_yes": is_yes, "ids": (_marks(len(ids)), list(ids))}


def questions_count(*, yes_ids: Sequence[int], no_ids: Sequence[int]) -> None:
    """Add one answer (Yes or No) to each question; no decision (another aggregator decides)."""
    ids = [*yes_ids, *no_ids]
    if ids:
        _execute(_compose(
            f"UPDATE {_table(Question)} SET answers = answers + 1, in_flight = in_flight - 1, "
            "yes = yes + {is_yes}, no = no + 1 - {is_yes} WHERE id IN ({ids})",
            **_counts(yes_ids, ids),
        ))


def questions_count_and_decide(*, yes_ids: Sequence[int], no_ids: Sequence[int], now: datetime) -> None:
    """Add one answer to each question and decide, by majority, the open ones that now have
    their answers: positive or negative with the winning share as confidence, a tie ambiguous
    at 0.5. Decided questions get ``decided_at = now`` (``labels_follow_decisions`` finds them by it).

    An ``UPDATE`` reads every column as it was before the row changed, so the new counts are
    written out as expressions of the old ones.
    """
    ids = [*yes_ids, *no_ids]
    if not ids:
        return
    counts = _counts(yes_ids, ids)
    new_yes = _compose("(yes + {is_yes})", **counts)
    new_no = _compose("(no + 1 - {is_yes})", **counts)
    ready = _compose("(state = {open} AND answers + 1 >= needed)", open=_value(Question.State.OPEN))
    _execute(_compose(
        f"UPDATE {_table(Question)} SET "
        "decision = CASE WHEN {ready} THEN (CASE WHEN {y} > {n} THEN {positive} WHEN {n} > {y} THEN {negative} "
        "ELSE {ambiguous} END) ELSE decision END, "
        "confidence = CASE WHEN {ready} THEN (CASE WHEN {y} > {n} THEN CAST({y} AS FLOAT) / ({y} + {n}) "
        "WHEN {n} > {y} THEN CAST({n} AS FLOAT) / ({y} + {n}) ELSE 0.5 END) ELSE confidence END, "
        "decided_at = CASE WHEN {ready} THEN {now} ELSE decided_at END, "
        "state = CASE WHEN {ready} THEN {decided} ELSE state END, "
        "yes = {y}, no = {n}, answers = answers + 1, in_flight = in_flight - 1 WHERE id IN ({ids})",
        ready=ready, y=new_yes, n=new_no, ids=counts["ids"], now=_value(_when(now)),
        positive=_value(POSITIVE), negative=_value(NEGATIVE), ambiguous=_value(AMBIGUOUS),
        decided=_value(Question.State.DECIDED),
    ))


def labels_follow_decisions(*, question_ids: Sequence[int], now: datetime) -> None:
    """Copy the decisions made at ``now`` among these questions onto their labels."""
    if not question_ids:
        return
    q, label = _table(Question), _table(Label)
    one = f"(SELECT {{column}} FROM {q} WHERE {q}.label_id = {label}.id)"
    with connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE {label} SET state = {one.format(column='decision')}, yes_count = {one.format(column='yes')},
                    no_count = {one.format(column='no')}, confidence = {one.format(column='confidence')},
                    decided_at = %s
                WHERE id IN (SELECT label_id FROM {q} WHERE id IN ({_marks(len(question_ids))})
                             AND state = %s AND decided_at = %s AND label_id IS NOT NULL)""",
            [_when(now), *question_ids, Question.State.DECIDED, _when(now)],
        )
