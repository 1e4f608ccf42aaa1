"""A curator's corrections (issue 18, review and correct): a verdict pins a label through consensus
and re-aggregation, asking for more answers reopens its question and un-pins it, every correction is
an event, answers are never touched, and a release shows the `corrected` provenance."""
from __future__ import annotations

import csv

import pytest

from backend.annotation.models import Answer, Question
from backend.annotation.services import corrections
from backend.annotation.services.consensus import dataset_reaggregate
from backend.annotation.services.corrections import label_correct, labels_correct
from backend.common.errors import DomainError
from backend.labels.models import Label, LabelCorrection
from backend.labels.selectors import label_filter
from backend.releases.services import release_export
from tests.annotation.bench import is_gold, truth_of

pytestmark = pytest.mark.django_db


def _answer_all(engine, make_worker, names=("a", "b", "c"), *, dissent="c"):
    """Each worker answers every set they get, truthfully (``dissent`` answers the real questions
    wrongly, so that every decision is 2 to 1)."""
    for name in names:
        w = make_worker(name)
        while (payload := w.assign().json()["set"]) is not None:
            answers = {}
            for item in payload["items"]:
                truth = truth_of(item["id"], engine)
                answers[item["id"]] = (not truth) if name == dissent and not is_gold(item["id"]) else truth
            assert w.submit(payload["id"], answers).json()["status"] == "accepted"


def _answers_snapshot():
    return list(Answer.objects.order_by("id").values_list("id", "question_id", "worker_id", "value", "excluded"))


@pytest.fixture
def decided(engine, make_worker):
    _answer_all(engine, make_worker)
    assert Label.objects.exclude(state__in=("positive", "negative")).count() == 0
    return engine


def _a_positive():
    return Label.objects.filter(state="positive").select_related("video", "action", "dataset").first()


def test_a_verdict_is_an_event_pins_the_label_and_leaves_answers_alone(decided, staff_user):
    label = _a_positive()
    before = _answers_snapshot()
    corrected = label_correct(label=label, state="negative", reason="  a hand wave, not a jump  ", user=staff_user)
    assert (corrected.state, corrected.corrected, corrected.confidence) == ("negative", True, 1.0)
    assert (corrected.yes_count, corrected.no_count) == (2, 1)  # the crowd's votes stay as they were
    event = LabelCorrection.objects.get()
    assert (event.label_id, event.kind, event.state_before, event.state_after, event.more_answers) == (
        label.pk, "verdict", "positive", "negative", None)
    assert (event.reason, event.corrected_by, event.corrected_by_name) == ("a hand wave, not a jump", staff_user,
                                                                          "curator")
    assert _answers_snapshot() == before
    question = Question.objects.get(label=label)
    assert (question.state, question.decision, question.answers) == ("decided", "negative", 3)


def test_reaggregation_keeps_a_correction(decided, staff_user):
    label = _a_positive()
    label_correct(label=label, state="negative", reason="seen by a curator", user=staff_user)
    others = dict(Label.objects.exclude(pk=label.pk).values_list("pk", "state"))
    result = dataset_reaggregate(dataset=decided["dataset"])
    assert result["questions"] == 30
    label.refresh_from_db()
    assert (label.state, label.corrected) == ("negative", True)  # the crowd's 2 yes do not win it back
    assert Question.objects.get(label=label).decision == "negative"
    assert dict(Label.objects.exclude(pk=label.pk).values_list("pk", "state")) == others


def test_a_corrected_pending_label_stays_corrected_through_consensus(engine, make_worker, staff_user):
    label = Label.objects.select_related("video", "dataset").order_by("id").first()
    truth = "jumping" in engine["truth"][label.video.name]
    verdict = "negative" if truth else "positive"  # against the crowd, to see who wins
    label_correct(label=label, state=verdict, reason="known from the source", user=staff_user)
    _answer_all(engine, make_worker, dissent="")
    label.refresh_from_db()
    assert (label.state, label.corrected) == (verdict, True)
    # its question left the pool when it was corrected: no one was asked it
    assert not Answer.objects.filter(question__label=label).exists()
    assert Question.objects.filter(state="decided").count() == 30


def test_asking_for_more_reopens_the_question_and_unpins_the_label(decided, make_worker, staff_user):
    label = _a_positive()
    label_correct(label=label, state="negative", reason="looked wrong", user=staff_user)
    before = _answers_snapshot()
    label = label_correct(label=label, more_answers=2, reason="not sure after all: ask the crowd", user=staff_user)
    assert (label.state, label.corrected, label.decided_at) == ("pending", False, None)
    question = Question.objects.get(label=label)
    assert (question.state, question.needed, question.answers, question.decision) == ("open", 5, 3, "")
    assert _answers_snapshot() == before
    assert list(LabelCorrection.objects.filter(label=label).values_list("kind", "state_before", "state_after",
                                                                         "more_answers")) == [
        ("verdict", "positive", "negative", None), ("more_answers", "negative", "pending", 2)]
    _answer_all(decided, make_worker, names=("d", "e"), dissent="")
    label.refresh_from_db()
    question.refresh_from_db()
    assert (question.state, question.answers) == ("decided", 5)
    assert (label.state, label.corrected, label.yes_count, label.no_count) == ("positive", False, 4, 1)
    assert Answer.objects.filter(question=question).count() == 5  # the three old answers still count


def test_asking_for_more_on_a_label_never_asked_makes_its_question(decided, staff_user):
    source = Label.objects.select_related("video").first()
    other = decided["dataset"].actions.exclude(pk=source.action_id).first()
    imported = Label.objects.create(dataset=decided["dataset"], video=source.video, action=other, asked_action=other,
                                    source=Label.Source.IMPORT, state=Label.State.POSITIVE)
    label_correct(label=imported, more_answers=3, reason="check the imported label", user=staff_user)
    question = Question.objects.get(label=imported)
    assert (question.state, question.needed, question.answers, question.action_id) == ("open", 3, 0, other.pk)


@pytest.mark.parametrize("kwargs, message", [
    ({"state": "negative", "reason": "   "}, corrections.REASON_REQUIRED),
    ({"state": "negative", "reason": None}, corrections.REASON_REQUIRED),
    ({"state": "negative", "reason": "x" * 2001}, corrections.REASON_TOO_LONG),
    ({"state": "maybe", "reason": "r"}, corrections.BAD_STATE.format(state="'maybe'")),
    ({"state": "pending", "reason": "r"}, corrections.BAD_STATE.format(state="'pending'")),
    ({"more_answers": 0, "reason": "r"}, corrections.BAD_MORE_ANSWERS.format(value="0")),
    ({"more_answers": 21, "reason": "r"}, corrections.BAD_MORE_ANSWERS.format(value="21")),
    ({"more_answers": True, "reason": "r"}, corrections.BAD_MORE_ANSWERS.format(value="True")),
    ({"state": "negative", "more_answers": 2, "reason": "r"}, corrections.ONE_CORRECTION),
    ({"reason": "r"}, corrections.NO_CORRECTION),
])
def test_an_invalid_correction_changes_nothing(decided, staff_user, kwargs, message):
    label = _a_positive()
    with pytest.raises(DomainError) as exc:
        label_correct(label=label, user=staff_user, **kwargs)
    assert exc.value.message == message
    label.refresh_from_db()
    assert (label.state, label.corrected) == ("positive", False)
    assert not LabelCorrection.objects.exists()


def test_a_merged_label_cannot_be_corrected(decided, staff_user):
    label = _a_positive()
    Label.objects.filter(pk=label.pk).update(state=Label.State.MERGED)
    label.refresh_from_db()
    with pytest.raises(DomainError) as exc:
        label_correct(label=label, state="negative", reason="r", user=staff_user)
    assert exc.value.message == corrections.LABEL_MERGED


def test_bulk_correction_acts_on_the_browser_filter(decided, staff_user):
    dataset = decided["dataset"]
    negatives = set(Label.objects.filter(state="negative").values_list("pk", flat=True))
    merged = Label.objects.filter(state="negative").first()
    Label.objects.filter(pk=merged.pk).update(state=Label.State.MERGED)
    result = labels_correct(dataset=dataset, labels=label_filter(dataset=dataset, action="jumping", state="negative"),
                            state="positive", reason="the action was redefined to include hops", user=staff_user)
    assert (result.corrected, result.changed) == (len(negatives) - 1, len(negatives) - 1)
    assert set(Label.objects.filter(corrected=True).values_list("pk", flat=True)) == negatives - {merged.pk}
    assert Label.objects.get(pk=merged.pk).state == "merged"  # merged labels are left out
    assert set(LabelCorrection.objects.values_list("batch", flat=True)) == {result.batch}
    # a verdict equal to the current state pins the labels and is recorded, but changes nothing
    again = labels_correct(dataset=dataset, labels=label_filter(dataset=dataset, state="positive"),
                           state="positive", reason="all checked", user=staff_user)
    assert again.corrected == Label.objects.filter(state="positive").count() and again.changed == 0
    # a filter that selects nothing corrects nothing
    none = labels_correct(dataset=dataset, labels=label_filter(dataset=dataset, action="no-such-action"),
                          state="negative", reason="r", user=staff_user)
    assert (none.corrected, none.changed) == (0, 0)


def test_a_release_shows_the_corrected_provenance(decided, staff_user, tmp_path):
    dataset = decided["dataset"]
    label = _a_positive()
    label_correct(label=label, state="negative", reason="a hand wave", user=staff_user)
    source = Label.objects.exclude(pk=label.pk).select_related("video").first()
    other = dataset.actions.exclude(pk=source.action_id).first()
    Label.objects.create(dataset=dataset, video=source.video, action=other, asked_action=other,
                         source=Label.Source.IMPORT, state=Label.State.POSITIVE)
    release_export(dataset=dataset, out_dir=tmp_path / "r")
    with open(tmp_path / "r" / "labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0])[-2:] == ["source", "provenance"]
    by_pair = {(r["video"], r["action"]): r for r in rows}
    row = by_pair[(label.video.name, label.action.name)]
    assert (row["state"], row["source"], row["provenance"]) == ("negative", "initial", "corrected")
    assert by_pair[(source.video.name, other.name)]["provenance"] == "import"
    assert {r["provenance"] for r in rows} == {"crowd", "corrected", "import"}
    assert sum(r["provenance"] == "corrected" for r in rows) == 1
    with open(tmp_path / "r" / "train.csv", newline="") as f:
        train = {r["path"]: r for r in csv.DictReader(f)}
    listed = train.get(label.video.storage_key, {"labels": ""})
    assert "jumping" not in listed["labels"].split(";")  # the corrected negative is no positive any more
    assert "corrected" in (tmp_path / "r" / "DATASHEET.md").read_text()


def test_a_new_evaluation_split_does_not_reopen_a_corrected_label(decided, staff_user):
    from backend.releases.services import split_create

    dataset = decided["dataset"]
    label = _a_positive()
    label_correct(label=label, state="positive", reason="checked by eye", user=staff_user)
    positives = Label.objects.filter(state="positive").count()
    report = split_create(dataset=dataset, split="val", size=positives, seed=0)  # every video with a positive
    assert report["questions_reopened"] == positives - 1  # 3 answers < 5 for val: all but the corrected one
    label.refresh_from_db()
    assert (label.state, label.corrected) == ("positive", True)
    assert Question.objects.get(label=label).state == "decided"
