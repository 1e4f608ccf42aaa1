"""The statements of a graded Yes/No submission: the set's one locking read, and the writes
that record its answers and decide its questions (sent with the engine's own in one batch,
``common.statements.execute_batch``; see ``crowd.sets.submit``).

- ``taskset_lock``, the one read: the set, locked, with the outcome of an earlier request
  carrying the same submission id, and its items with their gold truth;
- ``gold_answers_insert`` and ``answers_insert``: one multi-row ``INSERT`` each;
- ``questions_count_and_decide``: an ``UPDATE`` for the Yes answers and one for the No, which
  add the answers to the questions' counters and, by the majority rule, decide those that now
  have their answers;
- ``labels_follow_decisions``: one ``UPDATE`` copying the decisions onto their labels.

Other aggregators decide in Python (``consensus.questions_decide``); they still use the
inserts here (``questions_count`` instead of ``questions_count_and_decide``).
"""
from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from functools import cache

from django.db import connection

from backend.annotation.models import Answer, Attempt, GoldAnswer, GoldQuestion, Question, SetItem, TaskSet
from backend.annotation.services.consensus import AMBIGUOUS, NEGATIVE, POSITIVE
from backend.common import prepared
from backend.common.rows import columns, instance_from_row
from backend.common.statements import Fragment, among, compose, db_value, insert_rows, table, value, when
from backend.labels.models import Label
from backend.videos.models import Dataset

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
        params = [db_value(Attempt, "submission_id", submission_id), db_value(TaskSet, "public_id", set_id)]
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
            f"FROM {table(TaskSet)} t JOIN {table(Dataset)} d ON d.id = t.dataset_id "
            f"LEFT JOIN {table(Attempt)} a ON a.taskset_id = t.id AND a.submission_id = %s "
            f"LEFT JOIN {table(SetItem)} i ON i.taskset_id = t.id "
            f"LEFT JOIN {table(GoldQuestion)} g ON g.id = i.gold_id "
            f"WHERE t.public_id = %s ORDER BY i.position{lock}")


def gold_answers_insert(*, worker_id: int, taskset_id: int, rows: Sequence[tuple[int, bool, bool]],
                        now: datetime) -> Fragment | None:
    """``rows``: (gold question id, value, correct)."""
    return insert_rows(GoldAnswer, ["gold_id", "value", "correct"], rows,
                       {"worker_id": worker_id, "taskset_id": taskset_id, "created_at": when(now)})


def answers_insert(*, worker_id: int, taskset_id: int, rows: Sequence[tuple[int, bool, int | None]],
                   now: datetime) -> Fragment | None:
    """``rows``: (question id, value, duration in ms or None)."""
    return insert_rows(Answer, ["question_id", "value", "duration_ms"], rows,
                       {"worker_id": worker_id, "taskset_id": taskset_id, "excluded": False, "created_at": when(now)})


def questions_count(*, yes_ids: Sequence[int], no_ids: Sequence[int]) -> list[Fragment]:
    """Add one answer (Yes or No) to each question; no decision (another aggregator decides)."""
    q = table(Question)
    return [compose(f"UPDATE {q} SET answers = answers + 1, in_flight = in_flight - 1, {column} = {column} + 1 "
                    "WHERE {ids}", ids=among("id", ids))
            for column, ids in (("yes", yes_ids), ("no", no_ids)) if ids]


def questions_count_and_decide(*, yes_ids: Sequence[int], no_ids: Sequence[int], now: datetime) -> list[Fragment]:
    """Add one answer to each question and decide, by majority, the open ones that now have
    their answers: positive or negative with the winning share as confidence, a tie ambiguous
    at 0.5. Decided questions get ``decided_at = now`` (``labels_follow_decisions`` finds them by it).

    One ``UPDATE`` for the Yes answers and one for the No: in each, the new counts are plain
    expressions of the old ones (an ``UPDATE`` reads every column as it was before the row changed).
    """
    statements = []
    ready = compose("(state = {open} AND answers + 1 >= needed)", open=value(Question.State.OPEN))
    for ids, y, n in ((yes_ids, "(yes + 1)", "no"), (no_ids, "yes", "(no + 1)")):
        if not ids:
            continue
        statements.append(compose(
            f"UPDATE {table(Question)} SET "
            f"decision = CASE WHEN {{ready}} THEN (CASE WHEN {y} > {n} THEN {{positive}} "
            f"WHEN {n} > {y} THEN {{negative}} ELSE {{ambiguous}} END) ELSE decision END, "
            f"confidence = CASE WHEN {{ready}} THEN (CASE WHEN {y} > {n} THEN CAST({y} AS FLOAT) / ({y} + {n}) "
            f"WHEN {n} > {y} THEN CAST({n} AS FLOAT) / ({y} + {n}) ELSE 0.5 END) ELSE confidence END, "
            "decided_at = CASE WHEN {ready} THEN {now} ELSE decided_at END, "
            "state = CASE WHEN {ready} THEN {decided} ELSE state END, "
            f"yes = {y}, no = {n}, answers = answers + 1, in_flight = in_flight - 1 WHERE {{ids}}",
            ready=ready, ids=among("id", ids), now=value(when(now)), positive=value(POSITIVE),
            negative=value(NEGATIVE), ambiguous=value(AMBIGUOUS), decided=value(Question.State.DECIDED),
        ))
    return statements


def labels_follow_decisions(*, question_ids: Sequence[int], now: datetime) -> Fragment | None:
    """Copy the decisions made at ``now`` among these questions onto their labels."""
    if not question_ids:
        return None
    q, label = table(Question), table(Label)
    one = f"(SELECT {{column}} FROM {q} WHERE {q}.label_id = {label}.id)"
    in_ids, ids = among("id", question_ids)
    return (f"""UPDATE {label} SET state = {one.format(column='decision')}, yes_count = {one.format(column='yes')},
                    no_count = {one.format(column='no')}, confidence = {one.format(column='confidence')},
                    decided_at = %s
                WHERE id IN (SELECT label_id FROM {q} WHERE {in_ids}
                             AND state = %s AND decided_at = %s AND label_id IS NOT NULL)""",
            [when(now), *ids, Question.State.DECIDED, when(now)])
