"""Assignment does not scan: on a pool of 200,000 open questions, the statements that build a set
read a bounded number of rows, walking the open-question indexes (PostgreSQL plans).

The plans are PostgreSQL's: when the suite runs on PostgreSQL (CI) the checks run in the test
database; on SQLite this module runs itself again, in a subprocess, against a private PostgreSQL
server.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.helpers import private_postgres_server

pytestmark = pytest.mark.django_db(transaction=False)

POOL_VIDEOS = 2_000
POOL_ACTIONS = 100  # 2,000 x 100 = 200,000 open questions
SEEN = 300  # the returning worker's own history on the first action
# Every question-table scan of a statement reads at most this many rows: a set's worth, what
# other sets hold, and the worker's own history -- never the pool.
MAX_QUESTION_ROWS = SEEN + 100
MAX_BLOCKS = 600  # buffers touched by one statement (index and heap pages)
BIG_TABLES = {"annotation_question"}


def _pool(dataset) -> None:
    """200,000 open questions (2,000 videos x 100 actions), gold for every action; in SQL."""
    from backend.annotation.models import GoldQuestion
    from backend.vocabulary.models import Action

    Action.objects.bulk_create([Action(dataset=dataset, name=f"act{i:03d}") for i in range(POOL_ACTIONS)])
    with connection.cursor() as cursor:
        cursor.execute("""
            INSERT INTO videos_video (dataset_id, source, name, storage_key, checksum, size_bytes, has_audio, split,
                                      status, quarantine_reason, created_at)
            SELECT %s, 'plan/' || g, 'v' || g, '', '', 0, false, 'train', 'ok', '', now() FROM generate_series(1, %s) g""",
                       [dataset.pk, POOL_VIDEOS])
        cursor.execute("""
            INSERT INTO annotation_question (dataset_id, action_id, prompt, video_id, image_key, ref, split, needed,
                max_answers, answers, in_flight, yes, no, state, decision, created_at)
            SELECT v.dataset_id, a.id, 'seen_or_heard', v.id, '', '', 'train', 3, 3, 0, 0, 0, 0, 'open', '', now()
            FROM videos_video v JOIN vocabulary_action a ON a.dataset_id = v.dataset_id
            WHERE v.dataset_id = %s AND a.name LIKE 'act%%' ORDER BY v.id, a.id""", [dataset.pk])
    videos = list(dataset.videos.order_by("-id").values_list("id", flat=True)[:10])
    GoldQuestion.objects.bulk_create([
        GoldQuestion(dataset=dataset, action=action, video_id=v, truth=k % 2 == 0)
        for action in Action.objects.filter(dataset=dataset, name__startswith="act") for k, v in enumerate(videos)])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def _plan(sql: str, params) -> dict:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql, params)
        raw = cursor.fetchone()[0]
    return (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]


def _nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _check_statements(captured) -> list[dict]:
    """The plan of every SELECT the assignment ran, with what it read of the question table."""
    checked = []
    for query in captured:
        sql = query["sql"]
        if not sql.lstrip().upper().startswith("SELECT") or "annotation_question" not in sql:
            continue
        # captured SQL has its parameters inlined; EXPLAIN it as is
        plan = _plan(sql, None)
        scans = [n for n in _nodes(plan) if n.get("Relation Name") in BIG_TABLES]
        rows = sum(n["Actual Rows"] * n["Actual Loops"] + n.get("Rows Removed by Filter", 0) for n in scans)
        checked.append({"sql": sql[:200], "scans": [(n["Node Type"], n.get("Index Name")) for n in scans],
                        "rows": rows, "blocks": plan["Shared Hit Blocks"] + plan["Shared Read Blocks"]})
    return checked


def _assert_bounded(checked: list[dict], max_rows: int) -> None:
    assert checked, "no statement on the question table was captured"
    for c in checked:
        assert all(node != "Seq Scan" for node, _ in c["scans"]), c
        assert all(index in ("question_open_oldest", "question_open_by_action", "annotation_question_pkey")
                   for node, index in c["scans"]), c
        assert c["rows"] <= max_rows, c
        assert c["blocks"] <= MAX_BLOCKS, c


def _run_checks(dataset) -> None:
    from backend.annotation.models import Question, Shown
    from backend.crowd.models import Worker
    from backend.crowd.sets.assign import set_assign
    from backend.crowd.sets.kinds import kind_named

    _pool(dataset)
    assert Question.objects.filter(dataset=dataset, state="open").count() == POOL_VIDEOS * POOL_ACTIONS
    kind = kind_named("yesno")

    # a new annotator: the set comes from the head of the oldest queue
    new = Worker.objects.create(provider="inhouse", external_id="plan-new")
    with CaptureQueriesContext(connection) as captured:
        record = set_assign(kind=kind, dataset=dataset, worker=new)
    assert record is not None and record.items.filter(question__isnull=False).count() == dataset.set_size - \
        record.items.filter(gold__isnull=False).count()
    _assert_bounded(_check_statements(captured), max_rows=100)

    # a returning annotator who was shown the first SEEN questions of that action: reads their
    # history once, not the pool
    old = Worker.objects.create(provider="inhouse", external_id="plan-old")
    first = Question.objects.filter(dataset=dataset, action_id=record.action_id).order_by("id")
    Shown.objects.bulk_create([Shown(worker=old, question_id=q) for q in first.values_list("id", flat=True)[:SEEN]])
    kind.set_model.objects.create(dataset=dataset, worker=old, action_id=record.action_id, status="accepted",
                                  expires_at=record.expires_at)
    with CaptureQueriesContext(connection) as captured:
        again = set_assign(kind=kind, dataset=dataset, worker=old)
    assert again is not None and again.action_id == record.action_id
    shown_before = set(first.values_list("id", flat=True)[:SEEN])
    assert not shown_before & set(again.items.exclude(question=None).values_list("question_id", flat=True))
    _assert_bounded(_check_statements(captured), max_rows=MAX_QUESTION_ROWS)


def test_assignment_reads_a_bounded_number_of_rows(dataset, settings):
    if connection.vendor == "postgresql":
        _run_checks(dataset)
        return
    # SQLite: the same module, on a private PostgreSQL server
    with private_postgres_server() as pg:
        env = {**os.environ, "DATABASE_URL": pg.url, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                               f"{__file__}::test_assignment_reads_a_bounded_number_of_rows"],
                              env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
