"""Reading release directories, and the errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ml.release import (
    ERR_NO_VOCABULARY,
    ReleaseError,
    Vocabulary,
    load_release,
    read_video_list,
)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    root = tmp_path / "rel"
    write(root / "vocabulary.csv",
          "index,name,display_name\n1,ice+skating,ice skating\n0,ascending/rising,ascending\n")
    write(root / "train.csv", "path,labels\na.mp4,ascending/rising;ice+skating\nsub/b.mp4,\n/abs/c.mp4,ice+skating\n")
    write(root / "val.csv", "path,labels\n")  # header only: an empty split
    return root


def test_synthetic_release_loads(release_dir: Path):
    release = load_release(release_dir)
    assert len(release.vocabulary) == 4
    assert {k: len(v) for k, v in release.splits.items()} == {"train": 16, "val": 8, "test": 4}
    assert release.media_root == release_dir / "videos"  # manifest media_root, relative
    assert all(v.file.is_file() for v in release.split("train"))
    assert all(v.labels for v in release.split("train"))


def test_vocabulary_order_labels_and_paths(tiny: Path):
    release = load_release(tiny)
    assert release.vocabulary.names == ("ascending/rising", "ice+skating")
    assert release.vocabulary.display_names == ("ascending", "ice skating")
    train = release.split("train")
    assert [v.path for v in train] == ["a.mp4", "sub/b.mp4", "/abs/c.mp4"]
    assert [v.labels for v in train] == [(0, 1), (), (1,)]
    assert train[0].file == tiny / "a.mp4"  # no manifest: relative to the release
    assert train[2].file == Path("/abs/c.mp4")
    assert "val" not in release.splits and "test" not in release.splits
    with pytest.raises(ReleaseError, match="has no val.csv, or it lists no videos"):
        release.split("val")
    assert Vocabulary.from_records(release.vocabulary.to_records()) == release.vocabulary


def test_media_root_and_video_root_override(tiny: Path, tmp_path: Path):
    write(tiny / "manifest.json", json.dumps({"dataset": "x", "media_root": "/data/media", "files": {}}))
    assert load_release(tiny).split("train")[1].file == Path("/data/media/sub/b.mp4")
    other = tmp_path / "elsewhere"
    assert load_release(tiny, video_root=other).split("train")[0].file == other / "a.mp4"


def test_missing_directory_and_vocabulary(tmp_path: Path):
    with pytest.raises(ReleaseError, match="does not exist"):
        load_release(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ReleaseError, match="has no vocabulary.csv") as info:
        load_release(tmp_path / "empty")
    assert str(info.value) == ERR_NO_VOCABULARY.format(root=tmp_path / "empty")


def test_unknown_actions_are_named_with_their_lines(tiny: Path):
    write(tiny / "train.csv", "path,labels\na.mp4,ascending/rising;skiing\nb.mp4,flying\n")
    with pytest.raises(ReleaseError) as info:
        load_release(tiny)
    message = str(info.value)
    assert "train.csv" in message and "2 label(s) not in vocabulary.csv" in message
    assert "'skiing' (line 2)" in message and "'flying' (line 3)" in message


@pytest.mark.parametrize(
    ("vocabulary", "match"),
    [
        ("index,name\n0,a\n", r"expected the columns \['index', 'name', 'display_name'\]"),
        ("index,name,display_name\n0,a,A\n2,b,B\n", r"indices must be 0..1"),
        ("index,name,display_name\nx,a,A\n", "index 'x' is not an integer"),
        ("index,name,display_name\n0,a,A\n1,a,B\n", "action 'a' already on line 2"),
        ("index,name,display_name\n", "lists no actions"),
    ],
)
def test_bad_vocabulary(tiny: Path, vocabulary: str, match: str):
    write(tiny / "vocabulary.csv", vocabulary)
    with pytest.raises(ReleaseError, match=match):
        load_release(tiny)


def test_bad_split_header_and_empty_path(tiny: Path):
    write(tiny / "test.csv", "video,actions\na.mp4,x\n")
    with pytest.raises(ReleaseError, match=r"test.csv: expected the columns \['path', 'labels'\]"):
        load_release(tiny)
    write(tiny / "test.csv", "path,labels\n ,ice+skating\n")
    with pytest.raises(ReleaseError, match="line 2: empty path"):
        load_release(tiny)


def test_empty_file_is_an_empty_split(tiny: Path):
    write(tiny / "test.csv", "")
    assert "test" not in load_release(tiny).splits


def test_plain_video_list(tmp_path: Path):
    listing = write(tmp_path / "list.csv", "path\nx.mp4\n/abs/y.mp4\n")
    videos = read_video_list(listing, base=tmp_path / "media")
    assert [(v.path, v.file, v.labels) for v in videos] == [
        ("x.mp4", tmp_path / "media" / "x.mp4", ()),
        ("/abs/y.mp4", Path("/abs/y.mp4"), ()),
    ]
    with pytest.raises(ReleaseError, match=r"expected the columns \['path'\]"):
        read_video_list(write(tmp_path / "bad.csv", "file\nx\n"), base=tmp_path)
