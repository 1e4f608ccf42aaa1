"""Release export: content, statistics, determinism, crash safety, split management."""
from __future__ import annotations

import csv
import hashlib
import json

import pytest
from django.core.management import call_command

from backend.annotation.models import Question
from backend.annotation.services.questions import questions_for_labels
from backend.common.errors import DomainError
from backend.labels.models import Label
from backend.releases import export as export_module
from backend.releases.models import Release
from backend.releases.services import release_export, split_create
from backend.videos.models import Video
from backend.vocabulary.models import Action
from backend.vocabulary.services import action_merge

pytestmark = pytest.mark.django_db


@pytest.fixture
def labelled(dataset):
    """10 videos; labels decided by hand: video i has positives for the first (i % 4) actions."""
    actions = list(Action.objects.filter(dataset=dataset).order_by("name"))
    videos = Video.objects.bulk_create([
        Video(dataset=dataset, source=f"/x/v{i}.mp4", name=f"v{i}.mp4", storage_key=f"videos/v{i}.mp4",
              checksum=f"c{i}", split="train" if i < 8 else ("val" if i == 8 else "test"))
        for i in range(10)
    ])
    labels = []
    for i, v in enumerate(videos):
        for k, a in enumerate(actions[:4]):
            state = "positive" if k < i % 4 else "negative"
            source = "initial" if k == 0 else "wordnet"
            labels.append(Label(dataset=dataset, video=v, action=a, asked_action=a, source=source, state=state,
                                yes_count=3 if state == "positive" else 0, no_count=0 if state == "positive" else 3,
                                confidence=1.0))
        labels.append(Label(dataset=dataset, video=v, action=actions[5], asked_action=actions[5], source="model"))
    Label.objects.bulk_create(labels)
    return {"videos": videos, "actions": actions}


def _read(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_release_files_and_statistics(dataset, labelled, tmp_path):
    release = release_export(dataset=dataset, out_dir=tmp_path / "r1")
    out = tmp_path / "r1"
    names = {p.name for p in out.iterdir()}
    assert names == {"labels.csv", "train.csv", "val.csv", "test.csv", "vocabulary.csv", "stats.json",
                     "label_distribution.png", "labels_per_video.png", "DATASHEET.md", "manifest.json"}
    vocab = _read(out / "vocabulary.csv")
    assert [r["index"] for r in vocab] == [str(i) for i in range(12)]
    labels = _read(out / "labels.csv")
    assert list(labels[0]) == ["video", "path", "split", "action", "state", "yes", "no", "confidence", "source",
                               "provenance"]
    assert len(labels) == 40  # pending (never decided) pairs are not in the release
    train = _read(out / "train.csv")
    # videos with at least one positive: i % 4 != 0 among 0..7
    assert [r["path"] for r in train] == [f"videos/v{i}.mp4" for i in range(8) if i % 4]
    a = labelled["actions"]
    assert train[2]["labels"] == ";".join(x.name for x in a[:3])  # v3 has 3 positives
    stats = json.loads((out / "stats.json").read_text())
    assert stats["labels"] == sum(i % 4 for i in range(10)) == 13
    assert stats["videos"] == 7 and stats["videos_2plus"] == 4 and stats["videos_3plus"] == 2
    assert stats["per_class"][a[0].name] == 7 and stats["per_class"][a[2].name] == 2
    assert stats["splits"]["val"]["videos"] == 0 and stats["splits"]["test"]["labels"] == 1
    assert stats["harvest_by_source"]["initial"] == {"asked": 10, "yes": 7, "rate": 0.7}
    manifest = json.loads((out / "manifest.json").read_text())
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest
    assert release.version == 1 and release.content_hash == manifest["content_hash"]
    sheet = (out / "DATASHEET.md").read_text()
    assert "Known gaps" in sheet and "13 verified positive action labels" in sheet


def test_exporting_twice_gives_identical_files(dataset, labelled, tmp_path):
    release_export(dataset=dataset, out_dir=tmp_path / "a")
    release_export(dataset=dataset, out_dir=tmp_path / "b")
    for p in (tmp_path / "a").iterdir():
        assert p.read_bytes() == (tmp_path / "b" / p.name).read_bytes(), p.name
    # default location: an unchanged dataset does not make a new version
    first = release_export(dataset=dataset)
    again = release_export(dataset=dataset)
    assert first.pk == again.pk
    Label.objects.filter(state="negative").first().__class__.objects.filter(
        pk=Label.objects.filter(state="negative").first().pk).update(state="positive")
    third = release_export(dataset=dataset)
    assert third.version == first.version + 1


def test_merge_shows_in_release_and_datasheet(dataset, labelled, tmp_path):
    a = labelled["actions"]
    action_merge(source=a[1], target=a[0])
    release_export(dataset=dataset, out_dir=tmp_path / "m")
    vocab = [r["name"] for r in _read(tmp_path / "m" / "vocabulary.csv")]
    assert a[1].name not in vocab and len(vocab) == 11
    assert f"{a[1].name} -> {a[0].name}" in (tmp_path / "m" / "DATASHEET.md").read_text()


def test_crash_leaves_previous_release_and_rerun_completes(dataset, labelled, tmp_path, monkeypatch):
    out = tmp_path / "r"
    release_export(dataset=dataset, out_dir=out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def boom(*a, **k):
        raise RuntimeError("killed")

    monkeypatch.setattr(export_module, "_datasheet", boom)
    with pytest.raises(RuntimeError):
        release_export(dataset=dataset, out_dir=out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert (tmp_path / "r.partial").exists()
    monkeypatch.undo()
    release_export(dataset=dataset, out_dir=out)
    assert not (tmp_path / "r.partial").exists()
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_split_create_raises_redundancy_and_keeps_splits_disjoint(dataset, labelled):
    questions_for_labels(dataset=dataset)
    before = set(Video.objects.filter(dataset=dataset, split="val").values_list("id", flat=True))
    # pretend the train questions were decided with 3 answers
    Question.objects.update(state="decided", answers=3, needed=3, decision="positive")
    result = split_create(dataset=dataset, split="val", size=3, seed=1)
    assert result["videos"] == 3
    moved = set(Video.objects.filter(dataset=dataset, split="val").values_list("id", flat=True)) - before
    assert len(moved) == 3
    reopened = Question.objects.filter(video_id__in=moved)
    assert all(q.state == "open" and q.needed == 5 and q.split == "val" for q in reopened)
    assert Video.objects.filter(dataset=dataset).count() == 10  # no video duplicated
    with pytest.raises(DomainError, match="available"):
        split_create(dataset=dataset, split="test", size=100)
    with pytest.raises(DomainError):
        split_create(dataset=dataset, split="train", size=1)


def test_export_command(dataset, labelled, tmp_path, capsys):
    call_command("export_release", "--dataset", "synthetic", "--out", str(tmp_path / "c"))
    assert "13 labels" in capsys.readouterr().out
    assert Release.objects.count() == 1


def test_ml_reads_the_release(dataset, labelled, tmp_path):
    """The release is exactly what the ml package reads."""
    from ml.release import load_release

    release_export(dataset=dataset, out_dir=tmp_path / "ml")
    loaded = load_release(tmp_path / "ml")
    assert len(loaded.vocabulary) == 12
    assert len(loaded.splits["train"]) == 6


def test_export_through_the_api_as_a_job(staff_client, dataset, labelled, settings, tmp_path, eager_tasks,
                                         django_capture_on_commit_callbacks):
    from backend.common.models import Job

    settings.VAR_DIR = tmp_path
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post("/api/datasets/synthetic/releases/")
    assert response.status_code == 202
    job = Job.objects.get(pk=response.json()["id"])
    assert job.status == "succeeded" and job.result["version"] == 1
    listed = staff_client.get("/api/datasets/synthetic/releases/").json()["results"]
    assert listed[0]["version"] == 1 and listed[0]["stats"]["labels"] == 13
