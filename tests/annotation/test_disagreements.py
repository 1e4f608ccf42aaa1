"""The disagreement queue: the least certain verdicts first, with their votes and each voter's
gold accuracy, filtered by action, source, split and worker; settled through the label API."""
from __future__ import annotations

import pytest

from backend.annotation.disagreements import disagreement_queue
from backend.annotation.models import SetItem
from backend.crowd.models import Worker
from backend.labels.models import Label
from tests.annotation.bench import truth_of

pytestmark = pytest.mark.django_db


def _work(worker, engine, lie: bool) -> None:
    """Take sets until there is no work; a liar says yes to every real question (never to gold)."""
    while True:
        payload = (worker.assign().json() or {}).get("set")
        if not payload:
            return
        answers = {}
        for item in payload["items"]:
            gold = SetItem.objects.filter(public_id=item["id"], gold__isnull=False).exists()
            answers[item["id"]] = True if (lie and not gold) else truth_of(item["id"], engine)
        assert worker.submit(payload["id"], answers).status_code == 200


@pytest.fixture
def decided(engine, make_worker):
    workers = {name: make_worker(name) for name in ("alice", "bob", "carol")}
    for name, w in workers.items():
        _work(w, engine, lie=name == "carol")
    return workers


def test_least_certain_first_with_votes_and_gold_accuracy(engine, decided):
    rows = disagreement_queue(dataset=engine["dataset"], limit=100)
    assert rows, "the crowd decided nothing"
    confidences = [r.label.confidence for r in rows]
    assert confidences == sorted(confidences) and confidences[0] < 1.0
    split = rows[0]
    assert split.yes + split.no == len(split.votes) >= 2 and 0 < split.yes and 0 < split.no
    carol = next(v for v in split.votes if v.worker == "carol")
    stored = Worker.objects.get(pk=decided["carol"].worker.pk)
    assert carol.value is True and stored.gold_answers > 0
    assert carol.gold_accuracy == pytest.approx(stored.gold_correct / stored.gold_answers)
    # every decided label with answers is in the queue, none twice
    expected = Label.objects.filter(dataset=engine["dataset"], state__in=["positive", "negative", "ambiguous"],
                                    yes_count__gt=0).count() + Label.objects.filter(
        dataset=engine["dataset"], state__in=["positive", "negative", "ambiguous"], yes_count=0,
        no_count__gt=0).count()
    assert len({r.label.pk for r in rows}) == len(rows) == expected


def test_filters_and_a_corrected_label_leaves_the_queue(engine, decided, staff_client):
    dataset = engine["dataset"]
    carol = decided["carol"].worker
    first = staff_client.get("/api/datasets/synthetic/labels/queue/", {"worker": carol.pk}).json()["results"]
    assert first and all(any(v["worker_id"] == carol.pk for v in r["votes"]) for r in first)
    assert staff_client.get("/api/datasets/synthetic/labels/queue/", {"split": "val"}).json()["results"] == []
    assert staff_client.get("/api/datasets/synthetic/labels/queue/", {"action": "cooking"}).json()["results"] == []
    source = first[0]["source"]
    same = staff_client.get("/api/datasets/synthetic/labels/queue/", {"source": source}).json()["results"]
    assert same and all(r["source"] == source for r in same)
    assert source != "wordnet"
    assert staff_client.get("/api/datasets/synthetic/labels/queue/", {"source": "wordnet"}).json()["results"] == []
    bad = staff_client.get("/api/datasets/synthetic/labels/queue/", {"worker": "carol"})
    assert bad.status_code == 400 and "worker must be" in bad.json()["detail"]
    top = first[0]
    done = staff_client.patch(f"/api/datasets/synthetic/labels/{top['id']}/",
                              {"state": "negative", "reason": "carol says yes to everything"}, format="json")
    assert done.status_code == 200
    after = [r.label.pk for r in disagreement_queue(dataset=dataset, limit=100)]
    assert top["id"] not in after


def test_only_staff_see_the_queue(engine, client, django_user_model):
    assert client.get("/api/datasets/synthetic/labels/queue/").status_code in (401, 403)
    client.force_login(django_user_model.objects.create_user(username="nobody", password="x-1234567890"))
    assert client.get("/api/datasets/synthetic/labels/queue/").status_code == 403
    assert client.get("/dashboard/synthetic/review/").status_code == 302
