"""The set page inside (a local fake of) MTurk's frame, in Chromium: preview -> accept -> answer ->
grade -> externalSubmit from inside the frame, then the review loop approves the assignment."""
from __future__ import annotations

from decimal import Decimal

import pytest

from backend.annotation.models import SetItem, TaskSet
from backend.mturk.models import Assignment
from backend.mturk.services.publish import batch_create, batch_publish
from backend.mturk.services.review import review_run
from tests.annotation.bench import truth_of
from tests.mturk.fake_mturk import FakeMTurk
from tests.mturk.mturk_helpers import ANY, MTurkStub, assignment_id, hit_id, remote_assignment, worker_id

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


@pytest.fixture
def mturk(settings):
    with FakeMTurk() as fake:
        # The fake's origin stands in for MTurk's hosts: production keeps its defaults.
        settings.MMIT_MTURK_FRAME_ANCESTORS = [fake.origin]
        settings.MMIT_MTURK_SUBMIT_ORIGINS = [fake.origin]
        settings.SITE_URL = "https://labels.example.org"
        yield fake


@pytest.fixture
def published(engine, mturk):
    """One HIT published through the real publish service against a stubbed MTurk."""
    stub = MTurkStub()
    with stub.stubber:
        stub.ok("create_qualification_type", {"QualificationType": {"QualificationTypeId": "3QUAL"}})
        stub.ok("create_hit_type", {"HITTypeId": "3TYPE"})
        stub.ok("create_hit_with_hit_type", {"HIT": {"HITId": hit_id(1)}},
                {"HITTypeId": "3TYPE", "MaxAssignments": 3, "LifetimeInSeconds": ANY, "Question": ANY,
                 "RequesterAnnotation": ANY, "UniqueRequestToken": ANY})
        batch = batch_create(dataset=engine["dataset"], reward=Decimal("0.40"), budget=Decimal("10"),
                             assignments_per_hit=3, hits=1, sandbox=True)
        batch_publish(batch_id=batch.pk, gateway=stub.gateway)
        stub.done()
    return stub


def _open_hit(page, mturk, live_server, n: int):
    page.goto(mturk.hit_url(set_url=f"{live_server.url}/mturk/annotate/synthetic/?prompt=seen_or_heard",
                            hit_id=hit_id(1), assignment_id=assignment_id(n), worker_id=worker_id(n)))
    return page.frame_locator("#hit-frame")


def _answer(frame, engine, items, wrong: set[str]) -> None:
    for item in items:
        value = truth_of(item, engine) != (item in wrong)
        frame.locator(f'.card[data-item="{item}"] .{"yes" if value else "no"}').click()


def test_preview_accept_answer_grade_and_submit_to_mturk(engine, published, mturk, live_server, page):
    frame = _open_hit(page, mturk, live_server, 1)
    frame.locator(".card").first.wait_for()
    assert "Preview" in frame.locator("#banner").inner_text()
    assert frame.locator(".card .yes").first.is_disabled() and frame.locator("#submit").is_disabled()
    assert not TaskSet.objects.exists()

    page.click("#accept")
    frame.locator(".card .yes:not([disabled])").first.wait_for()
    items = frame.locator(".card").evaluate_all("cards => cards.map(c => c.dataset.item)")
    assert len(items) == 10 and TaskSet.objects.get().provider_ref["assignment_id"] == assignment_id(1)
    gold = [i for i in items if SetItem.objects.get(public_id=i).gold_id]
    _answer(frame, engine, items, wrong=set(gold[:2]))
    frame.locator("#submit").click()
    frame.locator('#banner[data-kind="warning"]').wait_for()
    assert "review your answers" in frame.locator("#banner").inner_text()
    assert mturk.submissions == []  # refused on gold: nothing reaches MTurk

    _answer(frame, engine, gold[:2], wrong=set())  # review and fix
    frame.locator("#submit").click()
    frame.locator("#submitted").wait_for()  # the frame itself posted the form to turkSubmitTo
    taskset = TaskSet.objects.get()
    assert taskset.status == "accepted" and taskset.attempts == 2
    assert mturk.submissions == [{"assignmentId": assignment_id(1), "set": str(taskset.public_id)}]

    # the review loop then sees the submitted assignment and approves it
    stub = MTurkStub()
    with stub.stubber:
        stub.ok("list_assignments_for_hit", {"Assignments": [
            remote_assignment(assignment_id(1), worker_id(1), hit_id(1))], "NumResults": 1})
        stub.ok("approve_assignment", {}, {"AssignmentId": assignment_id(1)})
        assert review_run(gateway=stub.gateway).approved == 1
        stub.done()
    row = Assignment.objects.get(assignment_id=assignment_id(1))
    assert row.mturk_status == "Approved" and row.taskset == taskset and row.cost == Decimal("0.48")


def test_failing_gold_can_review_but_never_submits_to_mturk(engine, published, mturk, live_server, page, settings,
                                                           monkeypatch):
    settings.MMIT_BLOCK_EARLY_GOLD_MIN = 100  # let the three attempts run out before any block rule
    mirrored: list[int] = []  # three refusals block the worker; the block is mirrored on MTurk by a task
    monkeypatch.setattr("backend.common.background.task_send", lambda name, args=(), kwargs=None: mirrored.append(
        args[0]) if name == "mmit.mturk.sync_worker_block" else None)
    frame = _open_hit(page, mturk, live_server, 2)
    frame.locator(".card").first.wait_for()
    page.click("#accept")
    frame.locator(".card .yes:not([disabled])").first.wait_for()
    items = frame.locator(".card").evaluate_all("cards => cards.map(c => c.dataset.item)")
    gold = [i for i in items if SetItem.objects.get(public_id=i).gold_id]
    _answer(frame, engine, items, wrong=set(gold[:2]))
    for attempt in range(3):
        frame.locator("#submit:not([disabled])").click()
        frame.locator(f'#banner[data-kind="{"warning" if attempt < 2 else "error"}"]').wait_for()
    assert "Please return this HIT" in frame.locator("#banner").inner_text()
    assert frame.locator("#submit").is_disabled() and mturk.submissions == []
    page.reload()  # reopening the HIT gives no new set to try the gold again
    page.click("#accept")
    frame = page.frame_locator("#hit-frame")
    frame.locator('#banner[data-kind="error"]').wait_for()
    assert TaskSet.objects.get().status == "failed" and mturk.submissions == []
    assert mirrored == [TaskSet.objects.get().worker_id]
