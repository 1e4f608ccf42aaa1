"""Import at Moments scale: a manifest imported as a job of chunks that several workers share.

Each chunk is one Celery task (``mmit.videos.import_chunk``) over rows [low, high) of the source; a
replay finds its chunk done, a chunk killed mid-way runs again without adding anything twice, the
job's progress moves a chunk at a time and the last chunk done finishes it. ``--enqueue`` queues
such a job from the command line, ``--in-place`` references the files where they are.
"""
from __future__ import annotations

import csv
import io
from contextlib import redirect_stderr, redirect_stdout

import boto3
import pytest
from django.core.management import call_command, execute_from_command_line
from moto import mock_aws

from backend.common.models import Job
from backend.labels.models import Label, LabelImport
from backend.videos import services, sources
from backend.videos.models import ImportChunk, Video
from backend.videos.services import (
    CHUNKS_PROGRESS,
    IMPORT_CHUNK_TASK,
    video_import,
    video_import_chunk_run,
    video_import_job_run,
    video_import_start,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _small_chunks(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MMIT_IMPORT_CHUNK_ROWS = 5
    settings.MMIT_IMPORT_BATCH_SIZE = 2


def _manifest(folder) -> str:
    return str(folder / "manifest.csv")


class Queue:
    """The tasks the code sends, recorded (``sent_tasks``) when their transaction commits, and run
    by hand as a worker would run them."""

    def __init__(self, sent: list, capture) -> None:
        self.sent, self._capture = sent, capture

    def committed(self):
        return self._capture(execute=True)

    def start(self, dataset, manifest, **kwargs) -> Job:
        with self.committed():
            job = video_import_start(dataset=dataset, source=manifest, **kwargs)
        return Job.objects.get(pk=job.pk)

    def run_first(self, job: Job) -> list[int]:
        """Run the job's first task; returns the chunk ids it handed to other workers."""
        name, args, kwargs = self.sent.pop(0)
        assert name == "mmit.videos.import_videos" and args[0] == str(job.id)
        with self.committed():
            video_import_job_run(job_id=args[0], dataset_id=args[1], source=args[2], split=args[3], **kwargs)
        handed = [args for name, args, _ in self.sent if name == IMPORT_CHUNK_TASK]
        self.sent.clear()
        assert all(job_id == str(job.id) for job_id, _ in handed)
        return [chunk_id for _, chunk_id in handed]


@pytest.fixture
def queue(sent_tasks, django_capture_on_commit_callbacks) -> Queue:
    return Queue(sent_tasks, django_capture_on_commit_callbacks)


def test_a_manifest_is_split_into_chunks_whose_tasks_finish_the_job(queue, dataset, clip_factory, sent_tasks):
    folder = clip_factory(12)
    job = queue.start(dataset, _manifest(folder))
    assert (job.params["files"], job.params["chunk_rows"], job.params["chunks"]) == (12, 5, 3)
    assert not ImportChunk.objects.exists() and not Video.objects.exists()  # nothing before a worker runs

    handed = queue.run_first(job)
    chunks = list(ImportChunk.objects.filter(job=job).values_list("low", "high", "done"))
    assert chunks == [(0, 5, True), (5, 10, False), (10, 12, False)]  # the first one done by the planner
    assert handed == list(ImportChunk.objects.filter(job=job, done=False).values_list("id", flat=True))
    job.refresh_from_db()
    assert job.status == Job.Status.RUNNING and (job.done, job.total) == (5, 12)
    assert job.message == CHUNKS_PROGRESS.format(done=1, total=3, rows_done=5, rows=12)
    assert Video.objects.filter(dataset=dataset).count() == 5

    assert video_import_chunk_run(chunk_id=handed[1]) is True  # workers take chunks in any order
    job.refresh_from_db()
    assert job.status == Job.Status.RUNNING and (job.done, job.total) == (7, 12)
    assert job.message == CHUNKS_PROGRESS.format(done=2, total=3, rows_done=7, rows=12)

    assert video_import_chunk_run(chunk_id=handed[0]) is True  # the last one finishes the job
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED and (job.done, job.total) == (12, 12) and job.fraction == 1.0
    assert job.result["seen"] == 12 and job.result["imported"] == 12 and job.result["chunks"] == 3
    assert job.result["labels_added"] == 12 and job.result["labels_trusted"] is False
    assert Video.objects.filter(dataset=dataset, status=Video.Status.OK).count() == 12
    names = {row["path"] for row in csv.DictReader(open(folder / "manifest.csv"))}
    assert set(Video.objects.values_list("name", flat=True)) == names
    assert Label.objects.filter(source=Label.Source.INITIAL, state=Label.State.PENDING).count() == 12


def test_a_replayed_chunk_or_job_does_nothing_twice(queue, dataset, clip_factory, sent_tasks):
    folder = clip_factory(12)
    job = queue.start(dataset, _manifest(folder))
    message = sent_tasks[0]
    for chunk_id in queue.run_first(job):
        video_import_chunk_run(chunk_id=chunk_id)
    job.refresh_from_db()
    finished = (job.status, job.result, job.finished_at, job.attempts)
    assert job.status == Job.Status.SUCCEEDED

    for chunk in ImportChunk.objects.filter(job=job):
        assert video_import_chunk_run(chunk_id=chunk.pk) is False
    _, args, kwargs = message  # the job's own task delivered again
    with queue.committed():
        video_import_job_run(job_id=args[0], dataset_id=args[1], source=args[2], split=args[3], **kwargs)
    assert sent_tasks == []
    job.refresh_from_db()
    assert (job.status, job.result, job.finished_at, job.attempts) == finished
    assert ImportChunk.objects.filter(job=job).count() == 3
    assert Video.objects.count() == 12 and Label.objects.count() == 12


def test_a_chunk_killed_mid_way_runs_again_without_duplicates(queue, dataset, clip_factory, sent_tasks, monkeypatch):
    folder = clip_factory(12)
    job = queue.start(dataset, _manifest(folder))
    real_probe, probed = services.probe_video, []

    def probe_then_die(path):
        probed.append(path)
        if len(probed) == 5:  # the first two batches of two are committed; the worker dies in the third
            raise SystemExit("worker killed")
        return real_probe(path)

    monkeypatch.setattr(services, "probe_video", probe_then_die)
    with pytest.raises(SystemExit):
        queue.run_first(job)
    sent_tasks.clear()  # the chunks it had handed out are still to do
    first = ImportChunk.objects.get(job=job, low=0)
    assert not first.done and Video.objects.count() == 4 and Label.objects.count() == 4
    job.refresh_from_db()
    assert job.status == Job.Status.RUNNING

    monkeypatch.setattr(services, "probe_video", real_probe)
    sent_tasks.append(("mmit.videos.import_videos", (str(job.id), dataset.id, _manifest(folder), None), {}))
    handed = queue.run_first(job)  # redelivered: hands the other chunks out again, redoes the first
    first.refresh_from_db()
    assert first.done and first.report["already_imported"] == 4 and first.report["imported"] == 1
    for chunk_id in handed:
        video_import_chunk_run(chunk_id=chunk_id)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED and job.attempts == 2
    assert job.result["imported"] + job.result["already_imported"] == 12
    assert Video.objects.count() == 12 and Label.objects.count() == 12  # nothing twice


def test_the_trust_flag_travels_through_the_chunks(queue, dataset, clip_factory, staff_user, sent_tasks):
    folder = clip_factory(12)
    job = queue.start(dataset, _manifest(folder), user=staff_user, trust_labels=True, via="api")
    assert sent_tasks[0][2] == {"trust_labels": True}
    for chunk_id in queue.run_first(job):
        assert sent_tasks == []
        video_import_chunk_run(chunk_id=chunk_id)  # a chunk's message is only (job, chunk)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED and job.result["labels_trusted"] is True
    assert job.result["labels_added"] == 12
    labels = Label.objects.filter(dataset=dataset)
    assert labels.count() == 12
    assert set(labels.values_list("source", "state")) == {(Label.Source.IMPORT, Label.State.POSITIVE)}
    # the chunks share the job's provenance row: one job, door and user for every label
    records = LabelImport.objects.all()
    assert records.count() == 1 and records.get().labels_added == 12
    assert {(r.job_id, r.via, r.imported_by_id) for r in records} == {(job.pk, "api", staff_user.pk)}
    assert not labels.filter(imported_from__isnull=True).exists()


def test_an_untrusted_job_through_the_api_runs_with_eager_workers(staff_client, dataset, clip_factory, eager_tasks,
                                                                  django_capture_on_commit_callbacks):
    folder = clip_factory(12)
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(f"/api/datasets/{dataset.name}/imports/", {"source": _manifest(folder)},
                                     format="json")
    assert response.status_code == 202
    job = Job.objects.get(pk=response.json()["id"])
    assert job.status == Job.Status.SUCCEEDED and job.result["imported"] == 12 and job.result["chunks"] == 3
    assert ImportChunk.objects.filter(job=job, done=True).count() == 3
    assert set(Label.objects.values_list("source", flat=True)) == {Label.Source.INITIAL}


def test_enqueue_prints_the_job_and_where_to_follow_it(queue, dataset, clip_factory, sent_tasks, settings):
    settings.SITE_URL = "http://mmit.example"
    folder = clip_factory(12)
    out = io.StringIO()
    with queue.committed():
        call_command("import_videos", _manifest(folder), "--dataset", dataset.name, "--enqueue", "--trust-labels",
                     "--no-progress", stdout=out)
    job = Job.objects.get()
    text = out.getvalue()
    assert f"queued as job {job.id}" in text and f"http://mmit.example/api/jobs/{job.id}/" in text
    assert "12 files" in text and "3 chunk(s) of up to 5 rows" in text
    assert sent_tasks == [("mmit.videos.import_videos", (str(job.id), dataset.id, _manifest(folder), None),
                           {"trust_labels": True})]
    assert not Video.objects.exists()  # this process imported nothing

    for chunk_id in queue.run_first(job):
        video_import_chunk_run(chunk_id=chunk_id)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED and Video.objects.count() == 12
    assert {r.via for r in LabelImport.objects.all()} == {"command"}
    assert {r.imported_by_name for r in LabelImport.objects.all()} == {job.params.get("user_name", "")}


def test_without_enqueue_the_command_imports_in_its_own_process(dataset, clip_factory, sent_tasks):
    out = io.StringIO()
    call_command("import_videos", _manifest(clip_factory(12)), "--dataset", dataset.name, "--no-progress", stdout=out)
    assert "12 files: 12 imported" in out.getvalue()
    assert sent_tasks == [] and not Job.objects.exists() and Video.objects.count() == 12


@pytest.mark.parametrize("enqueue", [False, True])
def test_in_place_references_local_files_without_copying(dataset, clip_factory, settings, tmp_path, enqueue,
                                                         eager_tasks, django_capture_on_commit_callbacks):
    folder = clip_factory(12)
    args = [str(folder), "--dataset", dataset.name, "--in-place", "--no-progress"] + (["--enqueue"] if enqueue else [])
    with django_capture_on_commit_callbacks(execute=True):
        call_command("import_videos", *args, stdout=io.StringIO())
    videos = Video.objects.filter(dataset=dataset, status=Video.Status.OK)
    assert videos.count() == 12
    for video in videos:
        assert video.storage_key == video.source and video.source.startswith(str(folder))
        assert len(video.checksum) == 64 and video.duration  # probed all the same
    assert not (tmp_path / "media").exists() or not any((tmp_path / "media").rglob("*.mp4"))
    if enqueue:
        job = Job.objects.get()
        assert job.params["in_place"] is True and job.status == Job.Status.SUCCEEDED


def test_in_place_under_the_media_root_uses_its_key(dataset, clip_factory, settings):
    folder = clip_factory(12)
    settings.MEDIA_ROOT = folder.parent
    video_import(dataset=dataset, source=str(folder), in_place=True)
    video = Video.objects.filter(status=Video.Status.OK).first()
    assert video.storage_key == f"{folder.name}/{video.name}"


@mock_aws
def test_in_place_references_s3_objects_without_copying(dataset, clip_factory, settings):
    folder = clip_factory(12)
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="clips")
    for path in sorted(folder.glob("clip_0000[0-2].mp4")):
        s3.upload_file(str(path), "clips", f"raw/{path.name}")
    report = video_import(dataset=dataset, source="s3://clips/raw/", in_place=True)
    assert report.imported == 3
    assert set(Video.objects.values_list("storage_key", flat=True)) == {
        f"s3://clips/raw/clip_0000{i}.mp4" for i in range(3)}
    assert s3.list_objects_v2(Bucket="clips")["KeyCount"] == 3  # nothing copied
    assert not (settings.MEDIA_ROOT).exists() or not any(settings.MEDIA_ROOT.rglob("*.mp4"))

    settings.AWS_STORAGE_BUCKET_NAME = "clips"  # the media bucket itself: the object's key is the media key
    assert services.in_place_key("s3://clips/raw/clip_00000.mp4") == "raw/clip_00000.mp4"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("enqueue", [False, True])
def test_bad_input_exits_1_with_nothing_written(dataset, clip_factory, tmp_path, settings, enqueue, sent_tasks):
    settings.MMIT_IMPORT_ROOTS = [tmp_path, clip_factory(12)]
    folder = clip_factory(12)
    bad = tmp_path / "bad.csv"
    rows = list(csv.DictReader(open(folder / "manifest.csv")))
    with open(bad, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "split", "labels"])
        for i, row in enumerate(rows):
            writer.writerow([str(folder / row["path"]), "holdout" if i == 9 else row["split"], row["labels"]])
    out, err = io.StringIO(), io.StringIO()
    argv = ["manage.py", "import_videos", str(bad), "--dataset", dataset.name] + (["--enqueue"] if enqueue else [])
    with redirect_stdout(out), redirect_stderr(err), pytest.raises(SystemExit) as exit_info:
        execute_from_command_line(argv)
    assert exit_info.value.code == 1
    assert err.getvalue().strip() == "CommandError: " + sources.MANIFEST_BAD_ROW.format(
        path=bad, line=11, problem="unknown split 'holdout' (expected train, val or test)")
    assert not Job.objects.exists() and sent_tasks == []
    assert not Video.objects.exists() and not Label.objects.exists() and not ImportChunk.objects.exists()


def test_a_large_manifest_is_streamed_chunk_by_chunk(tmp_path, monkeypatch):
    manifest = tmp_path / "big.csv"
    with open(manifest, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "split", "labels"])
        writer.writerows([f"clips/{i:06d}.mp4", "train", ""] for i in range(30_000))
    src = sources.open_source(str(manifest))
    monkeypatch.setattr(sources.ManifestSource, "items", lambda self: pytest.fail("the manifest was loaded whole"))
    assert src.scan(lambda items: pytest.fail("no labels to check")) == (30_000, False)
    chunk = list(src.iter_items(12_000, 12_003))
    assert [(i.name, i.line) for i in chunk] == [(f"{n:06d}.mp4", n + 2) for n in range(12_000, 12_003)]
    assert list(src.iter_items(29_999, 40_000))[0].name == "029999.mp4"

    with open(manifest, "a", newline="") as f:  # a file listed twice, far apart, is named with both lines
        csv.writer(f).writerow(["clips/000007.mp4", "val", ""])
    with pytest.raises(sources.DomainError) as err:
        sources.open_source(str(manifest)).scan(lambda items: None)
    assert err.value.message == sources.MANIFEST_BAD_ROW.format(
        path=manifest, line=30_002, problem=f"{tmp_path / 'clips' / '000007.mp4'} is already listed on line 9")
