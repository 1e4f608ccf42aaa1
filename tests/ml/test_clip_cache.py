"""The decoded-clip cache: built once, read back as the PyAV path would decode, used by training."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ml import clip_cache
from ml import train as train_cli
from ml.clip_cache import ClipCache, build_clip_cache
from ml.data import ClipSpec, VideoDataset
from ml.decode import decode_clip
from ml.release import load_release

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def release(release_dir: Path):
    return load_release(release_dir)


@pytest.fixture(scope="module")
def caches(release, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    videos = [(v.path, v.file) for v in release.split("train")]
    out = {}
    for fmt in ("raw", "jpeg"):
        root = tmp_path_factory.mktemp(f"cache-{fmt}")
        summary = build_clip_cache(videos, root, frames=8, short_side=32, fmt=fmt)
        assert summary["videos"] == len(videos) and summary["skipped"] == []
        out[fmt] = root
    return out


def test_raw_cache_holds_exactly_the_frames_pyav_decodes(release, caches):
    cache = ClipCache.open(caches["raw"])
    video = release.split("train")[0]
    expected = decode_clip(video.file, num_frames=8, short_side=32).frames
    assert np.array_equal(cache.read(video.path, 8), expected)
    # Four frames out of eight cached: the centres of four segments of the cached ones.
    assert np.array_equal(cache.read(video.path, 4), expected[[1, 3, 5, 7]])


def test_jpeg_cache_is_close_to_the_decoded_frames_and_smaller(release, caches):
    raw, jpeg = ClipCache.open(caches["raw"]), ClipCache.open(caches["jpeg"])
    video = release.split("train")[3]
    exact = raw.read(video.path, 8).astype(np.int16)
    lossy = jpeg.read(video.path, 8).astype(np.int16)
    assert lossy.shape == exact.shape
    assert np.abs(lossy - exact).mean() < 12
    assert jpeg.index[-1] < raw.index[-1]


def test_training_random_frames_stay_inside_their_segments(caches, release):
    cache = ClipCache.open(caches["raw"])
    rng = np.random.default_rng(3)
    for _ in range(20):
        positions = cache.positions(4, rng)
        assert [p // 2 for p in positions.tolist()] == [0, 1, 2, 3]


def test_dataset_reads_the_cache_and_falls_back_to_pyav(release, caches, tmp_path):
    videos = release.split("train")
    spec = ClipSpec(modalities=("video",), num_frames=4, crop=32, resize=32)
    plain = VideoDataset(videos, num_classes=4, spec=spec, train=False)
    cached = VideoDataset(videos, num_classes=4, spec=spec, train=False, cache=ClipCache.open(caches["raw"]))
    for index in (0, 5):
        a, b = plain[index], cached[index]
        assert b["valid"] and torch.equal(a["targets"], b["targets"])
        # Evaluation: segment centres of 4 from 8 cached frames vs 4 decoded directly, same shape and dtype.
        assert b["video"].shape == a["video"].shape == (3, 4, 32, 32) and b["video"].dtype == torch.uint8
    # A cache built on part of the videos: the others are decoded as before.
    partial = tmp_path / "partial"
    build_clip_cache([(videos[0].path, videos[0].file)], partial, frames=8, short_side=32, fmt="raw")
    mixed = VideoDataset(videos, num_classes=4, spec=spec, train=True, cache=ClipCache.open(partial))
    assert videos[1].path not in mixed.cache
    assert torch.equal(mixed[(2, 1)]["video"], plain.__class__(videos, num_classes=4, spec=spec, train=True)[(2, 1)]
                       ["video"])


def test_unreadable_videos_are_left_to_the_loader(tmp_path, corrupt_clip, release):
    video = release.split("train")[0]
    summary = build_clip_cache([("bad.mp4", corrupt_clip), (video.path, video.file)], tmp_path / "c",
                               frames=4, short_side=32, fmt="jpeg", workers=2)
    assert summary["skipped"] == ["bad.mp4"] and summary["videos"] == 1
    cache = ClipCache.open(tmp_path / "c")
    assert "bad.mp4" not in cache and video.path in cache
    assert cache.read(video.path, 4).shape == (4, 32, 32, 3)


def test_cli_builds_a_cache_that_training_reads(release_dir, tmp_path, tiny_video, capsys):
    out = tmp_path / "cache"
    assert clip_cache.main([str(release_dir), "--out", str(out), "--frames", "8", "--short-side", "32",
                            "--workers", "1"]) == 0
    assert "cached 24 videos" in capsys.readouterr().out
    meta = json.loads((out / "cache.json").read_text())
    assert meta["format"] == "jpeg" and len(meta["paths"]) == 24  # train + val
    run = tmp_path / "run"
    status = train_cli.main(["--release", str(release_dir), "--out", str(run), *tiny_video, "--model", "i3d_r50",
                             "--epochs", "1", "--batch-size", "4", "--clip-cache", str(out)])
    assert status == 0 and (run / "checkpoint.pt").is_file()


def test_training_refuses_a_cache_smaller_than_the_crop(release_dir, tmp_path, tiny_video, caches):
    args = [a if a != "32" else "48" for a in tiny_video]  # crop and resize 48 > the cache's 32
    with pytest.raises(SystemExit, match="short side of 32 px, smaller than the crop 48"):
        train_cli.main(["--release", str(release_dir), "--out", str(tmp_path / "r"), *args, "--model", "i3d_r50",
                        "--epochs", "1", "--clip-cache", str(caches["raw"])])
    with pytest.raises(SystemExit, match="is not a clip cache"):
        train_cli.main(["--release", str(release_dir), "--out", str(tmp_path / "r2"), *tiny_video,
                        "--model", "i3d_r50", "--epochs", "1", "--clip-cache", str(tmp_path)])


def test_help_shows_defaults():
    result = subprocess.run([sys.executable, "-m", "ml.clip_cache", "--help"], cwd=REPO, capture_output=True,
                            text=True, check=True)
    assert "(default: 32)" in result.stdout and "(default: jpeg)" in result.stdout
