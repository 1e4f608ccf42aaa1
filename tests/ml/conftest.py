"""Fixtures for the ``ml`` tests: tiny synthetic releases written with PyAV.

Clips are 32x32, 8 frames at 4 fps (2 s), H.264; about half carry an AAC tone
track. Each class has its own colour (and tone), so a tiny model overfits the
training split within seconds on the CPU.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from ml.synthetic import write_release

NUM_CLASSES = 4

# Command-line options for a tiny, fast, deterministic video model (see the
# ``tiny_video`` fixture; test modules do not import conftest, whose module name
# is ambiguous once tests/conftest.py exists).
TINY_VIDEO = ["--width", "8", "--depth", "1", "1", "1", "1", "--frames", "4", "--crop", "32",
              "--resize", "32", "--workers", "0", "--dropout", "0", "--no-progress", "--device", "cpu"]


@pytest.fixture(scope="session")
def tiny_video() -> list[str]:
    """``python -m ml.train`` options for a tiny I3D/TSM on 4 frames of 32x32 on the CPU."""
    return list(TINY_VIDEO)


@pytest.fixture(scope="session")
def release_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic release: 4 classes, 16 train / 8 val / 4 test videos."""
    return write_release(
        tmp_path_factory.mktemp("release") / "synthetic",
        num_classes=NUM_CLASSES,
        split_sizes={"train": 16, "val": 8, "test": 4},
        size=(32, 32),
        num_frames=8,
        fps=4,
        audio_fraction=0.5,
        seed=0,
    )


@pytest.fixture(scope="session")
def corrupt_release(tmp_path_factory: pytest.TempPathFactory, release_dir: Path) -> Path:
    """The synthetic release plus one corrupt and one missing video in train and val."""
    root = tmp_path_factory.mktemp("corrupt") / "release"
    shutil.copytree(release_dir, root)
    media = root / "videos"
    (media / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    for split in ("train", "val"):
        with open(root / f"{split}.csv", "a", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["corrupt.mp4", "action_0"])
            writer.writerow([f"missing_{split}.mp4", "action_1"])
    return root


@pytest.fixture
def corrupt_clip(tmp_path: Path) -> Path:
    """A file with an MP4 extension that holds garbage."""
    path = tmp_path / "garbage.mp4"
    path.write_bytes(b"not a video at all" * 100)
    return path
