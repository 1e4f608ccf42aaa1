"""``ml.motion_world``: a synthetic world where one frame does not name the action."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from ml import train as train_cli
from ml.metrics import per_class_average_precision
from ml.motion_world import (
    AUDIO_CLASSES,
    CLASSES,
    MOTION_CLASSES,
    class_frequencies,
    make_clip,
    render_motion,
    sample_labels,
    write_motion_release,
)
from ml.release import load_release

SEED = 0
SPLITS = {"train": 400, "test": 150}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_motion_release(tmp_path_factory.mktemp("motion") / "world", split_sizes=SPLITS, seed=SEED)


def _rows(release: Path, split: str) -> list[list[str]]:
    with open(release / f"{split}.csv", newline="") as handle:
        return [row["labels"].split(";") for row in csv.DictReader(handle)]


def test_vocabulary_and_groups(world: Path) -> None:
    groups = json.loads((world / "groups.json").read_text())
    assert len(CLASSES) >= 30
    assert set(groups["motion_only"]) | set(groups["audio_only"]) == set(CLASSES)
    assert not set(groups["motion_only"]) & set(groups["audio_only"])
    assert len(groups["audio_only"]) >= 4 and len(groups["motion_only"]) >= 15
    release = load_release(world)
    assert list(release.vocabulary.names) == list(CLASSES)
    assert {len(release.split("train")), len(release.split("test"))} == {400, 150}
    assert (world / "manifest.json").is_file() and len(list((world / "videos").glob("*.mp4"))) == 550


def test_long_tail(world: Path) -> None:
    weights = class_frequencies(len(CLASSES), seed=SEED)
    assert weights.max() / weights.min() >= 20
    counts = json.loads((world / "groups.json").read_text())["train_counts"]
    values = np.array(list(counts.values()))
    assert values.min() >= 1 and values.max() >= 20 * values.min()
    # The listed tail is the least frequent third by design.
    tail = json.loads((world / "groups.json").read_text())["tail"]
    order = np.argsort(weights)
    assert set(tail) == {CLASSES[i] for i in order[: len(tail)]}
    assert set(tail) & set(MOTION_CLASSES)  # the tail is not only sound


def test_co_occurrence(world: Path) -> None:
    rows = _rows(world, "train")
    assert max(len(r) for r in rows) == 2 and min(len(r) for r in rows) == 1
    two_objects = [r for r in rows if sum(label in MOTION_CLASSES for label in r) >= 2]
    with_sound = [r for r in rows if any(label in MOTION_CLASSES for label in r)
                  and any(label in AUDIO_CLASSES for label in r)]
    assert len(two_objects) > 40 and len(with_sound) > 20


def test_audio_only_classes_leave_the_frames_unchanged() -> None:
    index = {name: i for i, name in enumerate(CLASSES)}
    base = [index["move_left_fast"], index["grow"]]
    silent = make_clip(base, size=(32, 32), num_frames=8, fps=8, seed=(7,))
    for tone in AUDIO_CLASSES[:3]:
        clip = make_clip([*base, index[tone]], size=(32, 32), num_frames=8, fps=8, seed=(7,))
        np.testing.assert_array_equal(clip.frames, silent.frames)
        assert not np.array_equal(clip.audio, silent.audio)
    only_sound = make_clip([index[AUDIO_CLASSES[0]]], size=(32, 32), num_frames=8, fps=8, seed=(7,))
    assert only_sound.frames.max() < 40  # background noise only: no object at all


def test_motion_classes_share_appearance() -> None:
    """Per frame, objects of different classes look alike: one bright square, the same sizes and colours."""
    def lit(name: str) -> np.ndarray:
        frames = render_motion([name], size=(32, 32), num_frames=8, rng=np.random.default_rng(3))
        return (frames.max(axis=-1) >= 40).sum(axis=(1, 2))  # pixels of the square per frame

    for name in MOTION_CLASSES:
        assert lit(name).min() >= 25 and lit(name).max() <= 121  # sides 5..11
    left = render_motion(["move_left_slow"], size=(32, 32), num_frames=8, rng=np.random.default_rng(3))
    right = render_motion(["move_right_slow"], size=(32, 32), num_frames=8, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(left[0], right[0])  # same first frame, the motion alone differs
    assert not np.array_equal(left[-1], right[-1])


def test_deterministic_for_a_seed(tmp_path: Path) -> None:
    sizes = {"train": 6, "val": 2, "test": 2}
    one = write_motion_release(tmp_path / "one", split_sizes=sizes, seed=5)
    two = write_motion_release(tmp_path / "two", split_sizes=sizes, seed=5)
    other = write_motion_release(tmp_path / "other", split_sizes=sizes, seed=6)
    for name in ("train.csv", "val.csv", "test.csv", "groups.json", "vocabulary.csv"):
        assert (one / name).read_text() == (two / name).read_text()
    assert (one / "train.csv").read_text() != (other / "train.csv").read_text()
    a = make_clip([0, 30], size=(32, 32), num_frames=8, fps=8, seed=(1, 2))
    b = make_clip([0, 30], size=(32, 32), num_frames=8, fps=8, seed=(1, 2))
    np.testing.assert_array_equal(a.frames, b.frames)
    np.testing.assert_array_equal(a.audio, b.audio)
    rng_a, rng_b = np.random.default_rng(4), np.random.default_rng(4)
    weights = class_frequencies(len(CLASSES), seed=0)
    assert [sample_labels(rng_a, weights, 3) for _ in range(5)] == [sample_labels(rng_b, weights, 3) for _ in range(5)]


def test_single_frame_baseline_is_at_chance_on_motion(world: Path, tmp_path: Path) -> None:
    """I3D on one frame (its 2D ResNet) cannot tell the motion-only classes apart."""
    out = tmp_path / "frame"
    status = train_cli.main([
        "--release", str(world), "--out", str(out), "--model", "i3d_r50", "--loss", "bce",
        "--width", "8", "--depth", "1", "1", "1", "1", "--frames", "1", "--crop", "32", "--resize", "32",
        "--no-flip", "--epochs", "2", "--batch-size", "16", "--optimizer", "adamw", "--lr", "0.003",
        "--dropout", "0", "--workers", "0", "--seed", str(SEED), "--device", "cpu", "--no-progress",
    ])
    assert status == 0
    per_class = json.loads((out / "eval.json").read_text())["splits"]["test"]["per_class_ap"]
    model_ap = [per_class[name] for name in MOTION_CLASSES if per_class[name] is not None]
    # A random scorer on the same held-out labels: seeded uniform scores, averaged over draws.
    targets = np.zeros((SPLITS["test"], len(CLASSES)))
    for n, labels in enumerate(_rows(world, "test")):
        targets[n, [CLASSES.index(label) for label in labels]] = 1
    motion = [CLASSES.index(name) for name in MOTION_CLASSES if per_class[name] is not None]
    draws = [per_class_average_precision(np.random.default_rng(s).random(targets.shape), targets)[motion]
             for s in range(20)]
    random_ap = float(np.mean(draws))
    assert len(model_ap) >= 10
    assert abs(float(np.mean(model_ap)) - random_ap) < 0.1
