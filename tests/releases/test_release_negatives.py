"""Releases carry verified negatives: the `negatives` column of the split files, read back by `ml`."""
from __future__ import annotations

import csv

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backend.labels.models import Label
from backend.releases.services import release_export
from backend.videos.models import Video
from backend.vocabulary.models import Action

pytestmark = pytest.mark.django_db

# Per video, the state of its labels for the first five actions (None: no label at all).
PLAN = {
    0: ["positive", "negative", "pending", "ambiguous", "negative"],
    1: ["negative", "positive", "positive", None, None],
    2: ["negative", "negative", None, None, None],  # no positive: not listed in train.csv
    3: ["positive", None, None, None, None],  # no negative: an empty cell
    4: ["ambiguous", "positive", "negative", "negative", "negative"],  # val
    5: ["negative", "pending", "positive", None, "negative"],  # test
}
SPLITS = {4: "val", 5: "test"}


def make_videos(dataset, count: int, offset: int = 0):
    return Video.objects.bulk_create([
        Video(dataset=dataset, source=f"/x/n{i}.mp4", name=f"n{i}.mp4", storage_key=f"videos/n{i}.mp4",
              checksum=f"n{i}", split=SPLITS.get(i, "train"))
        for i in range(offset, offset + count)
    ])


def label_videos(dataset, videos, actions, plan):
    Label.objects.bulk_create([
        Label(dataset=dataset, video=video, action=action, asked_action=action, source="wordnet", state=state,
              yes_count=3 if state == "positive" else 0, no_count=3 if state == "negative" else 0)
        for video, states in zip(videos, plan, strict=True)
        for action, state in zip(actions, states, strict=True) if state is not None
    ])


@pytest.fixture
def three_state(dataset):
    actions = list(Action.objects.filter(dataset=dataset).order_by("name"))[:5]
    videos = make_videos(dataset, len(PLAN))
    label_videos(dataset, videos, actions, [PLAN[i] for i in range(len(PLAN))])
    return {"actions": actions, "videos": videos}


def _read(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def names(actions, plan_row, state):
    return ";".join(a.name for a, s in zip(actions, plan_row, strict=True) if s == state)


def test_split_files_carry_verified_negatives(dataset, three_state, tmp_path):
    release_export(dataset=dataset, out_dir=tmp_path / "r")
    actions = three_state["actions"]
    with open(tmp_path / "r" / "train.csv", newline="") as f:
        assert next(csv.reader(f)) == ["path", "labels", "negatives"]
    train = _read(tmp_path / "r" / "train.csv")
    assert [r["path"] for r in train] == ["videos/n0.mp4", "videos/n1.mp4", "videos/n3.mp4"]
    for row, i in zip(train, (0, 1, 3), strict=True):
        assert row["labels"] == names(actions, PLAN[i], "positive")
        assert row["negatives"] == names(actions, PLAN[i], "negative")  # pending and ambiguous are neither
    assert train[0]["negatives"] == f"{actions[1].name};{actions[4].name}"
    assert train[2]["negatives"] == ""
    val, test = _read(tmp_path / "r" / "val.csv"), _read(tmp_path / "r" / "test.csv")
    assert [(r["labels"], r["negatives"]) for r in val] == [(names(actions, PLAN[4], "positive"),
                                                             names(actions, PLAN[4], "negative"))]
    assert [(r["labels"], r["negatives"]) for r in test] == [(names(actions, PLAN[5], "positive"),
                                                              names(actions, PLAN[5], "negative"))]
    sheet = (tmp_path / "r" / "DATASHEET.md").read_text()
    assert "`path,labels,negatives`" in sheet and "--unlabelled ignore" in sheet


def test_ml_release_round_trips_the_negatives(dataset, three_state, tmp_path):
    from ml.data import video_targets
    from ml.release import load_release

    release_export(dataset=dataset, out_dir=tmp_path / "r")
    loaded = load_release(tmp_path / "r")
    actions = three_state["actions"]
    index = {a.name: loaded.vocabulary.index(a.name) for a in actions}
    expected = {f"videos/n{i}.mp4": PLAN[i] for i in PLAN}
    for split in ("train", "val", "test"):
        for video in loaded.split(split):
            plan_row = expected[video.path]
            assert video.labels == tuple(sorted(index[a.name] for a, s in zip(actions, plan_row) if s == "positive"))
            assert video.negatives == tuple(sorted(index[a.name] for a, s in zip(actions, plan_row)
                                                   if s == "negative"))
    first = loaded.split("train")[0]
    targets = video_targets(first, len(loaded.vocabulary), three_state=True)
    assert targets[index[actions[0].name]] == 1 and targets[index[actions[1].name]] == 0
    assert targets[index[actions[2].name]] == -1 and targets[index[actions[3].name]] == -1  # pending, ambiguous
    assert (targets == -1).sum() == len(loaded.vocabulary) - 3


def test_removed_actions_leave_the_negatives(dataset, three_state, tmp_path):
    actions = three_state["actions"]
    Action.objects.filter(pk=actions[1].pk).update(status=Action.Status.REMOVED)
    release_export(dataset=dataset, out_dir=tmp_path / "r")
    train = _read(tmp_path / "r" / "train.csv")
    assert train[0]["negatives"] == actions[4].name


def test_export_queries_do_not_grow_with_the_videos(dataset, three_state, tmp_path):
    """The labels are still streamed in one query (a server-side cursor on PostgreSQL)."""
    with CaptureQueriesContext(connection) as small:
        release_export(dataset=dataset, out_dir=tmp_path / "small")
    actions = three_state["actions"]
    more = make_videos(dataset, 60, offset=100)
    label_videos(dataset, more, actions, [PLAN[i % 4] for i in range(60)])
    with CaptureQueriesContext(connection) as large:
        release_export(dataset=dataset, out_dir=tmp_path / "large")
    assert len(_read(tmp_path / "large" / "train.csv")) == 3 + 45
    assert len(large.captured_queries) == len(small.captured_queries)
