"""``ml.motion_world.hide_positives``: an incomplete crowd's view of fully labelled videos."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from ml.motion_world import CLASSES, class_frequencies, hide_positives, hide_release_positives, sample_labels
from ml.release import load_release

NUM_CLASSES = 31


def _truth(count: int, seed: int = 0) -> list[list[int]]:
    rng = np.random.default_rng(seed)
    weights = class_frequencies(NUM_CLASSES, seed=seed)
    return [sample_labels(rng, weights, 3) for _ in range(count)]


def test_hiding_is_deterministic_for_a_seed():
    truth = _truth(200)
    first = hide_positives(truth, 0.5, num_classes=NUM_CLASSES, asked=5, seed=3)
    assert first == hide_positives(truth, 0.5, num_classes=NUM_CLASSES, asked=5, seed=3)
    assert first != hide_positives(truth, 0.5, num_classes=NUM_CLASSES, asked=5, seed=4)


@pytest.mark.parametrize("fraction", [0.0, 0.25, 0.5, 0.8, 1.0])
def test_the_fraction_of_hidden_positives_is_respected(fraction: float):
    truth = _truth(300)
    views = hide_positives(truth, fraction, num_classes=NUM_CLASSES, asked=5, seed=1)
    positives = sum(len(row) for row in truth)
    hidden = sum(len(view.hidden) for view in views)
    assert hidden == round(fraction * positives)
    for row, view in zip(truth, views):
        # Every true positive is either visible or hidden, never both.
        assert sorted(view.labels + view.hidden) == sorted(row)
        assert not set(view.labels) & set(view.hidden)


def test_hidden_positives_are_never_negatives():
    truth = _truth(300)
    views = hide_positives(truth, 0.5, num_classes=NUM_CLASSES, asked=NUM_CLASSES, seed=2)
    for row, view in zip(truth, views):
        # Asked about every class, the crowd's negatives are exactly the true negatives.
        assert not set(view.negatives) & set(row)
        assert not set(view.negatives) & set(view.hidden)
        assert set(view.negatives) == set(range(NUM_CLASSES)) - set(row)
    few = hide_positives(truth, 0.5, num_classes=NUM_CLASSES, asked=4, seed=2)
    assert all(len(view.negatives) == 4 and not set(view.negatives) & set(row) for row, view in zip(truth, few))


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="fraction"):
        hide_positives([[0]], 1.5, num_classes=2, asked=1)
    with pytest.raises(ValueError, match="asked"):
        hide_positives([[0]], 0.5, num_classes=2, asked=-1)


def test_release_split_is_rewritten_with_negatives(tmp_path: Path):
    root = tmp_path / "rel"
    root.mkdir()
    with open(root / "vocabulary.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["index", "name", "display_name"])
        writer.writerows([i, name, name] for i, name in enumerate(CLASSES))
    truth = _truth(120, seed=5)
    for split in ("train", "test"):
        with open(root / f"{split}.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["path", "labels"])
            writer.writerows([f"{split}_{n}.mp4", ";".join(CLASSES[c] for c in row)] for n, row in enumerate(truth))
    test_before = (root / "test.csv").read_text()
    stats = hide_release_positives(root, 0.5, asked=5, seed=7)
    assert stats["videos"] == 120 and stats["hidden"] == round(0.5 * stats["positives"])
    views = hide_positives(truth, 0.5, num_classes=len(CLASSES), asked=5, seed=7)
    assert stats["dropped"] == sum(not view.labels for view in views) > 0
    release = load_release(root)
    kept = release.split("train")
    assert len(kept) == 120 - stats["dropped"]
    by_path = {f"train_{n}.mp4": (row, view) for n, (row, view) in enumerate(zip(truth, views))}
    for video in kept:
        row, view = by_path[video.path]
        assert video.labels == view.labels and video.labels  # every listed video keeps a positive
        assert video.negatives == view.negatives and not set(video.negatives) & set(row)
    assert stats["hidden_kept"] == sum(len(by_path[v.path][1].hidden) for v in kept)
    assert (root / "test.csv").read_text() == test_before  # held-out splits keep their full truth
    assert (root / "train_truth.csv").exists()
