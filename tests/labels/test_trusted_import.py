"""Trusted start: a manifest's labels imported as already verified (``--trust-labels``).

Without the flag a manifest's labels stay pending questions, as before; with it they are verified
positives with source ``import`` and their provenance, never asked, and they seed candidate rounds
and appear in releases like any verified label.
"""
from __future__ import annotations

import csv
import io
import json
import shutil

import pytest
from django.core.management import CommandError, call_command

from backend.annotation.models import Question
from backend.annotation.services.questions import questions_for_labels
from backend.candidates.models import Relation
from backend.candidates.policy import RoundPolicy
from backend.candidates.services import candidate_round_run
from backend.common.models import Job
from backend.labels.models import Label, LabelImport
from backend.releases.services import release_export
from backend.videos.models import Video
from backend.videos.services import ImportOrigin, video_import
from backend.vocabulary.services import vocabulary_load

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _small_batches(settings):
    settings.MMIT_IMPORT_BATCH_SIZE = 5  # several batches: one provenance row for the whole import


def _manifest_rows(folder) -> list[dict]:
    return list(csv.DictReader(open(folder / "manifest.csv")))


def _write_manifest(path, rows) -> str:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "split", "labels"])
        writer.writerows(rows)
    return str(path)


def _import_command(*args) -> str:
    out = io.StringIO()
    call_command("import_videos", *args, "--no-progress", stdout=out)
    return out.getvalue()


def _nothing_written(dataset) -> bool:
    return not (Video.objects.filter(dataset=dataset).exists() or Label.objects.exists()
                or LabelImport.objects.exists() or Question.objects.exists())


# --- the command ---------------------------------------------------------------------------


def test_command_without_the_flag_keeps_labels_pending_questions(dataset, clip_factory):
    folder = clip_factory(12)
    out = _import_command(str(folder / "manifest.csv"), "--dataset", dataset.name)
    assert "12 initial labels added" in out
    labels = Label.objects.filter(dataset=dataset)
    assert labels.count() == 12
    assert set(labels.values_list("source", "state")) == {(Label.Source.INITIAL, Label.State.PENDING)}
    assert not LabelImport.objects.exists() and not labels.filter(imported_from__isnull=False).exists()
    assert questions_for_labels(dataset=dataset) == 12  # each one asked, as before


def test_command_with_the_flag_records_verified_positives_with_provenance(dataset, clip_factory):
    folder = clip_factory(12)
    manifest = str(folder / "manifest.csv")
    out = _import_command(manifest, "--dataset", dataset.name, "--trust-labels")
    assert "12 verified labels (trusted, source import) added" in out

    record = LabelImport.objects.get()
    assert record.dataset == dataset and record.manifest == manifest and record.via == LabelImport.Via.COMMAND
    assert record.imported_by is None and record.job is None and record.labels_added == 12
    assert record.imported_at is not None
    labels = Label.objects.filter(dataset=dataset)
    for row in _manifest_rows(folder):
        label = labels.get(video__name=row["path"])
        assert label.action.name == row["labels"] and label.asked_action == label.action
        assert (label.source, label.state) == (Label.Source.IMPORT, Label.State.POSITIVE)
        assert label.imported_from == record and label.decided_at is not None
        assert (label.yes_count, label.no_count, label.round) == (0, 0, 0)
    # never asked: no question now, none when the pending labels are queued
    assert not Question.objects.exists()
    assert questions_for_labels(dataset=dataset) == 0 and not Question.objects.exists()

    # a re-run adds nothing twice and records no new provenance
    again = json.loads(_import_command(manifest, "--dataset", dataset.name, "--trust-labels", "--json"))
    assert again["labels_added"] == 0 and again["already_imported"] == 12 and again["labels_trusted"] is True
    assert Label.objects.count() == 12 and LabelImport.objects.count() == 1


def test_trusted_import_keeps_a_pair_that_has_a_label_already(dataset, clip_factory):
    folder = clip_factory(12)
    rows = _manifest_rows(folder)
    video_import(dataset=dataset, source=str(folder / "manifest.csv"))  # pending initial labels
    # the same clips again with their label and one more, trusted this time
    extra = "jumping"
    manifest = _write_manifest(folder / "more.csv", [[r["path"], r["split"], f"{r['labels']};{extra}"]
                                                     for r in rows if r["labels"] != extra][:3])
    report = video_import(dataset=dataset, source=manifest, trust_labels=True,
                          origin=ImportOrigin(via="command", user_name="someone"))
    assert report.labels_added == 3
    assert Label.objects.filter(source=Label.Source.INITIAL, state=Label.State.PENDING).count() == 12
    trusted = Label.objects.filter(source=Label.Source.IMPORT)
    assert trusted.count() == 3 and set(trusted.values_list("action__name", "state")) == {(extra, "positive")}
    assert LabelImport.objects.get().imported_by_name == "someone"


@pytest.mark.parametrize("rows,message", [
    ([["clip_00000.mp4", "train", "jumping"], ["clip_00001.mp4", "val", "moonwalking"]], "moonwalking"),
    ([["clip_00000.mp4", "training", "jumping"]], "unknown split 'training'"),
    ([["clip_00000.mp4", "train", "jumping"], ["../../../../../../../etc/passwd", "train", ""]],
     "outside the allowed import roots"),
])
def test_a_bad_manifest_with_the_flag_changes_nothing(dataset, clip_factory, tmp_path, rows, message):
    work = tmp_path / "clips"
    shutil.copytree(clip_factory(12), work)
    manifest = _write_manifest(work / "bad.csv", rows)
    with pytest.raises(CommandError) as err:
        _import_command(manifest, "--dataset", dataset.name, "--trust-labels")
    assert message in str(err.value)
    assert _nothing_written(dataset)


# --- the API and the admin -----------------------------------------------------------------


def test_api_import_with_and_without_trusting_the_labels(staff_client, staff_user, dataset, clip_factory, eager_tasks,
                                                         django_capture_on_commit_callbacks):
    folder = clip_factory(12)
    rows = _manifest_rows(folder)
    first = _write_manifest(folder / "first_half.csv", [[r["path"], r["split"], r["labels"]] for r in rows[:6]])
    second = _write_manifest(folder / "second_half.csv", [[r["path"], r["split"], r["labels"]] for r in rows[6:]])
    url = f"/api/datasets/{dataset.name}/imports/"

    with django_capture_on_commit_callbacks(execute=True):
        plain = staff_client.post(url, {"source": first}, format="json")
    assert plain.status_code == 202
    job = Job.objects.get(pk=plain.json()["id"])
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.result["labels_added"] == 6 and job.result["labels_trusted"] is False
    assert "trust_labels" not in job.params
    assert set(Label.objects.values_list("source", "state")) == {("initial", "pending")}

    with django_capture_on_commit_callbacks(execute=True):
        trusted = staff_client.post(url, {"source": second, "trust_labels": True}, format="json")
    assert trusted.status_code == 202
    job = Job.objects.get(pk=trusted.json()["id"])
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.result["labels_added"] == 6 and job.result["labels_trusted"] is True
    assert job.params["trust_labels"] is True
    record = LabelImport.objects.get()
    assert (record.manifest, record.via, record.imported_by, record.imported_by_name, record.job) == (
        second, "api", staff_user, staff_user.username, job)
    imported = Label.objects.filter(source=Label.Source.IMPORT)
    assert imported.count() == 6 and set(imported.values_list("state", "imported_from")) == {("positive", record.pk)}
    assert set(imported.values_list("video__name", flat=True)) == {r["path"] for r in rows[6:]}
    assert questions_for_labels(dataset=dataset) == 6  # only the untrusted half is asked


def test_api_trusted_import_of_an_unknown_action_is_refused_and_stores_nothing(staff_client, dataset, clip_factory,
                                                                               sent_tasks):
    folder = clip_factory(12)
    manifest = _write_manifest(folder / "unknown_trusted.csv", [["clip_00000.mp4", "train", "moonwalking"]])
    response = staff_client.post(f"/api/datasets/{dataset.name}/imports/",
                                 {"source": manifest, "trust_labels": True}, format="json")
    assert response.status_code == 400 and "moonwalking" in str(response.json())
    assert not Job.objects.exists() and sent_tasks == [] and _nothing_written(dataset)


def test_admin_import_form_offers_the_choice(client, staff_user, dataset, clip_factory, eager_tasks,
                                             django_capture_on_commit_callbacks):
    client.force_login(staff_user)
    url = f"/admin/videos/dataset/{dataset.pk}/import/"
    page = client.get(url)
    assert page.status_code == 200 and b'name="trust_labels"' in page.content
    changelist = client.post("/admin/videos/dataset/", {"action": "import_videos", "_selected_action": [dataset.pk]})
    assert changelist.status_code == 302 and changelist.url.endswith(f"/{dataset.pk}/import/")

    folder = clip_factory(12)
    with django_capture_on_commit_callbacks(execute=True):
        ok = client.post(url, {"source": str(folder / "manifest.csv"), "trust_labels": "on"})
    assert ok.status_code == 302
    job = Job.objects.get(kind="import_videos")
    assert job.status == Job.Status.SUCCEEDED, job.error
    record = LabelImport.objects.get()
    assert (record.via, record.imported_by, record.job) == ("admin", staff_user, job)
    assert Label.objects.filter(source="import", state="positive", imported_from=record).count() == 12
    assert not Question.objects.exists()
    # the provenance shows in the admin
    assert client.get("/admin/labels/labelimport/").status_code == 200
    assert client.get(f"/admin/labels/labelimport/{record.pk}/change/").status_code == 200


def test_admin_import_without_the_choice_sends_the_same_task_as_before(client, staff_user, dataset, clip_factory,
                                                                       sent_tasks, django_capture_on_commit_callbacks):
    client.force_login(staff_user)
    url = f"/admin/videos/dataset/{dataset.pk}/import/"
    manifest = str(clip_factory(12) / "manifest.csv")
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url, {"source": manifest}).status_code == 302
    plain = Job.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url, {"source": manifest, "trust_labels": "on"}).status_code == 302
    trusted = Job.objects.exclude(pk=plain.pk).get()
    assert sent_tasks == [
        ("mmit.videos.import_videos", (str(plain.id), dataset.id, manifest, None), {}),
        ("mmit.videos.import_videos", (str(trusted.id), dataset.id, manifest, None), {"trust_labels": True}),
    ]
    bad = client.post(url, {"source": "/etc", "trust_labels": "on"})
    assert bad.status_code == 200 and b"outside the allowed import roots" in bad.content
    assert Job.objects.count() == 2 and not Label.objects.exists()


# --- releases and candidate rounds ---------------------------------------------------------


def test_a_release_lists_trusted_labels_as_positives_with_source_import(dataset, clip_factory, tmp_path):
    folder = clip_factory(12)
    rows = _manifest_rows(folder)
    video_import(dataset=dataset, source=str(folder / "manifest.csv"), trust_labels=True)
    release_export(dataset=dataset, out_dir=tmp_path / "r1")
    out = tmp_path / "r1"
    labels = list(csv.DictReader(open(out / "labels.csv")))
    assert len(labels) == 12
    assert {(r["state"], r["source"]) for r in labels} == {("positive", "import")}
    by_name = {r["video"]: r["action"] for r in labels}
    assert by_name == {r["path"]: r["labels"] for r in rows}
    listed = {}
    for split in ("train", "val", "test"):
        for r in csv.DictReader(open(out / f"{split}.csv")):
            listed[r["path"]] = r["labels"]
    keys = dict(Video.objects.filter(dataset=dataset).values_list("name", "storage_key"))
    assert listed == {keys[r["path"]]: r["labels"] for r in rows}
    stats = json.loads((out / "stats.json").read_text())
    assert stats["labels"] == 12 and stats["harvest_by_source"] == {"import": {"asked": 12, "yes": 12, "rate": 1.0}}
    assert sum(stats["single_label_baseline"].values()) == 12  # the imported label is the video's one label
    sheet = (out / "DATASHEET.md").read_text()
    assert "12 verified positive action labels" in sheet and "- import: 12 labels verified before the import" in sheet


def test_the_label_browser_filters_by_the_import_source(client, staff_user, dataset, clip_factory):
    video_import(dataset=dataset, source=str(clip_factory(12) / "manifest.csv"), trust_labels=True)
    client.force_login(staff_user)
    page = client.get(f"/dashboard/{dataset.name}/labels/?source=import&state=positive")
    assert page.status_code == 200
    body = page.content.decode()
    assert "<option selected>import</option>" in body and "12 labels match" in body
    overview = client.get(f"/dashboard/{dataset.name}/")
    assert overview.status_code == 200


CHAIN = ("running", "sprinting", "jogging", "racing", "competing", "jumping")


def test_a_candidate_round_proposes_from_trusted_labels(db, clip_factory, settings, tmp_path):
    from backend.videos.services import dataset_create

    settings.MMIT_CACHE_DIR = tmp_path / "cache"
    settings.MMIT_VECTORS_PATH = None
    chain = dataset_create(name="chain")
    vocabulary_load(dataset=chain, names=list(CHAIN))
    folder = clip_factory(12)
    manifest = _write_manifest(folder / "running.csv",
                               [[r["path"], "train", "running"] for r in _manifest_rows(folder)])
    video_import(dataset=chain, source=manifest, trust_labels=True)
    assert Label.objects.filter(dataset=chain, source="import", state="positive").count() == 12

    first = candidate_round_run(dataset=chain, sources=["wordnet"], policy=RoundPolicy.from_settings(per_video_cap=10))
    assert first.proposed == 36
    pilots = set(Relation.objects.filter(dataset=chain).values_list("from_action__name", "to_action__name"))
    assert pilots == {("running", "jogging"), ("running", "racing"), ("running", "sprinting")}
    proposed = Label.objects.filter(dataset=chain, round=1)
    assert proposed.count() == 36 and set(proposed.values_list("source", "state")) == {("wordnet", "pending")}
    assert set(proposed.values_list("video__name", flat=True)) == set(
        Video.objects.filter(dataset=chain).values_list("name", flat=True))
    # the proposals are asked; the trusted labels are not
    assert Question.objects.filter(dataset=chain).count() == 36
    assert not Question.objects.filter(label__source="import").exists()
