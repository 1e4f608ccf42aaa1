"""Video import: folders, manifests, S3; quarantine; idempotence; bad input changes nothing."""
from __future__ import annotations

import csv
import shutil

import boto3
import pytest
from django.core.files.storage import default_storage
from moto import mock_aws

from backend.common.errors import DomainError
from backend.labels.models import Label
from backend.labels.services import UNKNOWN_LABELS
from backend.videos import sources
from backend.videos.models import Video
from backend.videos.probe import ProbeError, probe_video
from backend.videos.services import video_import

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MMIT_IMPORT_BATCH_SIZE = 50


def test_folder_of_200_with_3_corrupt_gives_197_and_3_quarantined(dataset, clip_factory):
    folder = clip_factory(197, corrupt=3)
    calls = []
    report = video_import(dataset=dataset, source=str(folder), progress=lambda d, t: calls.append((d, t)))
    assert report.seen == 200
    assert report.imported == 197 and report.quarantined == 3
    assert Video.objects.filter(dataset=dataset, status=Video.Status.OK).count() == 197
    quarantined = Video.objects.filter(dataset=dataset, status=Video.Status.QUARANTINED)
    assert sorted(v.name for v in quarantined) == ["broken_000.mp4", "broken_001.mp4", "broken_002.mp4"]
    assert all(v.quarantine_reason for v in quarantined)
    assert quarantined.get(name="broken_001.mp4").quarantine_reason == "empty file"
    # batches of 50 -> progress reported per batch, ending at 200/200
    assert calls[-1] == (200, 200) and len(calls) == 4

    ok = Video.objects.filter(dataset=dataset, status=Video.Status.OK).first()
    assert ok.duration == pytest.approx(3.0, abs=0.2) and ok.fps == pytest.approx(8.0)
    assert (ok.width, ok.height) == (64, 64) and len(ok.checksum) == 64
    assert default_storage.exists(ok.storage_key)

    again = video_import(dataset=dataset, source=str(folder))
    assert again.imported == 0 and again.quarantined == 0 and again.already_imported == 200
    assert Video.objects.filter(dataset=dataset).count() == 200


def test_audio_track_detected(dataset, clip_factory):
    folder = clip_factory(12)
    video_import(dataset=dataset, source=str(folder))
    truth = {row["video"]: row["actions"].split(";") for row in csv.DictReader(open(folder / "truth.csv"))}
    for video in Video.objects.filter(dataset=dataset):
        heard = bool({"whistling", "drumming"} & set(truth[video.name]))
        assert video.has_audio == heard, video.name


def test_manifest_with_initial_labels_and_splits(dataset, clip_factory):
    folder = clip_factory(12)
    report = video_import(dataset=dataset, source=str(folder / "manifest.csv"))
    assert report.imported == 12 and report.labels_added == 12
    rows = list(csv.DictReader(open(folder / "manifest.csv")))
    for row in rows:
        video = Video.objects.get(dataset=dataset, name=row["path"])
        assert video.split == row["split"]
        label = Label.objects.get(video=video)
        assert label.action.name == row["labels"] and label.source == Label.Source.INITIAL
        assert label.state == Label.State.PENDING
    again = video_import(dataset=dataset, source=str(folder / "manifest.csv"))
    assert again.labels_added == 0 and Label.objects.count() == 12


def _write_manifest(path, header, rows):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _nothing_written(dataset):
    return not Video.objects.filter(dataset=dataset).exists() and not Label.objects.exists()


@pytest.mark.parametrize(
    "header,rows,message_part",
    [
        (["path", "labels"], [["clip_00000.mp4", "jumping"]], "missing column(s) split"),
        (["path", "split", "labels"], [["clip_00000.mp4", "training", "jumping"]], "unknown split 'training'"),
        (["path", "split", "labels"], [["clip_00000.mp4", "train", "jumping"], ["", "train", ""]], "empty path"),
        (["path", "split", "labels"], [["../../../../../../../../../etc/passwd", "train", ""]], "outside the allowed import roots"),
        (["path", "split", "labels"], [["clip_00000.mp4", "train", ""], ["clip_00001.mp4", "train", ""],
                                       ["./clip_00000.mp4", "val", "jumping"]], "clip_00000.mp4 is already listed on line 2"),
        # found by the manifest property test: a NUL made the path check raise ValueError
        (["path", "split", "labels"], [["clip_00000.mp4", "train", ""], ["clip\x00.mp4", "train", ""]],
         "clip\\x00.mp4' is not a valid path: it holds a NUL character."),
    ],
)
def test_bad_manifest_changes_nothing(dataset, clip_factory, tmp_path, header, rows, message_part):
    folder = clip_factory(12)
    work = tmp_path / "m"
    shutil.copytree(folder, work)
    manifest = _write_manifest(work / "bad.csv", header, rows)
    with pytest.raises(DomainError) as err:
        video_import(dataset=dataset, source=str(manifest))
    assert message_part in err.value.message
    assert _nothing_written(dataset)


def test_unknown_label_changes_nothing(dataset, clip_factory, tmp_path):
    folder = clip_factory(12)
    manifest = _write_manifest(folder / "unknown_label.csv", ["path", "split", "labels"],
                               [["clip_00000.mp4", "train", "jumping"], ["clip_00001.mp4", "val", "moonwalking"]])
    with pytest.raises(DomainError) as err:
        video_import(dataset=dataset, source=str(manifest))
    assert err.value.message == UNKNOWN_LABELS.format(names="'moonwalking'", line=3)
    assert _nothing_written(dataset)


def test_source_outside_roots_and_missing(dataset, settings, tmp_path):
    settings.MMIT_IMPORT_ROOTS = [tmp_path / "allowed"]
    (tmp_path / "allowed").mkdir()
    with pytest.raises(DomainError, match="outside the allowed import roots"):
        video_import(dataset=dataset, source="/etc")
    with pytest.raises(DomainError, match="outside the allowed import roots"):
        video_import(dataset=dataset, source=str(tmp_path / "allowed" / ".." / "elsewhere"))
    with pytest.raises(DomainError, match="does not exist"):
        video_import(dataset=dataset, source=str(tmp_path / "allowed" / "nothing-here"))
    with pytest.raises(DomainError, match="Unknown split"):
        video_import(dataset=dataset, source=str(tmp_path / "allowed"), split="dev")
    assert _nothing_written(dataset)


def test_symlink_escaping_roots_is_refused(dataset, settings, tmp_path):
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (allowed / "escape").symlink_to("/etc")
    settings.MMIT_IMPORT_ROOTS = [allowed]
    with pytest.raises(DomainError, match="outside the allowed import roots"):
        video_import(dataset=dataset, source=str(allowed / "escape"))


def test_truncated_file_is_quarantined(tmp_path, clip_factory):
    folder = clip_factory(12)
    data = (folder / "clip_00003.mp4").read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 3])
    with pytest.raises(ProbeError):
        probe_video(cut)
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video")
    with pytest.raises(ProbeError):
        probe_video(text)


def test_duplicate_content_is_quarantined_once(dataset, clip_factory, tmp_path):
    folder = clip_factory(12)
    work = tmp_path / "dups"
    work.mkdir()
    shutil.copy(folder / "clip_00000.mp4", work / "a.mp4")
    shutil.copy(folder / "clip_00000.mp4", work / "b.mp4")
    report = video_import(dataset=dataset, source=str(work))
    assert report.imported == 1 and report.quarantined == 1
    assert "duplicate content of a.mp4" in Video.objects.get(name="b.mp4").quarantine_reason


@mock_aws
def test_s3_prefix_import_and_missing_prefix(dataset, clip_factory):
    folder = clip_factory(12)
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="clips")
    for path in sorted(folder.glob("clip_0000[0-4].mp4")):
        s3.upload_file(str(path), "clips", f"raw/batch1/{path.name}")
    s3.put_object(Bucket="clips", Key="raw/batch1/readme.txt", Body=b"not a video")
    s3.put_object(Bucket="clips", Key="raw/batch1/broken.mp4", Body=b"garbage")
    report = video_import(dataset=dataset, source="s3://clips/raw/batch1/")
    assert report.seen == 6 and report.imported == 5 and report.quarantined == 1
    assert Video.objects.filter(source__startswith="s3://clips/raw/batch1/").count() == 6
    assert video_import(dataset=dataset, source="s3://clips/raw/batch1/").already_imported == 6

    with pytest.raises(DomainError) as err:
        video_import(dataset=dataset, source="s3://clips/raw/nothing/")
    assert err.value.message == sources.S3_PREFIX_EMPTY.format(uri="s3://clips/raw/nothing/")
    with pytest.raises(DomainError, match="does not exist"):
        video_import(dataset=dataset, source="s3://no-such-bucket/x/")
    with pytest.raises(DomainError, match="Invalid S3 URI"):
        video_import(dataset=dataset, source="s3:///x")


@mock_aws
def test_media_on_s3_storage(dataset, clip_factory, settings):
    folder = clip_factory(12)
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="media")
    settings.AWS_STORAGE_BUCKET_NAME = "media"
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "storages.backends.s3.S3Storage"}}
    from django.core.files.storage import storages

    storages._storages.pop("default", None)
    default_storage._wrapped = storages["default"]  # re-resolve the lazy default after the override
    try:
        video_import(dataset=dataset, source=str(folder))
        key = Video.objects.filter(dataset=dataset).first().storage_key
        head = boto3.client("s3", region_name="us-east-1").head_object(Bucket="media", Key=key)
        assert head["ContentLength"] > 0
    finally:
        storages._storages.pop("default", None)
        from django.utils.functional import empty

        default_storage._wrapped = empty
