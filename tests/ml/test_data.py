"""Decoding, augmentation and the Dataset/DataLoader over a release."""

from __future__ import annotations

import logging
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from ml import decode
from ml.data import ClipSpec, VideoDataset, make_loader
from ml.decode import decode_clip, sample_indices, scaled_size
from ml.release import load_release
from ml.synthetic import render_frames, write_clip
from ml.transforms import ClipTransform, normalize_video

SPEC = ClipSpec(modalities=("video", "audio"), num_frames=4, crop=24, resize=28)


def clips_by_audio(release_dir: Path) -> tuple[Path, Path]:
    with_audio = without = None
    for path in sorted((release_dir / "videos").glob("*.mp4")):
        with av.open(str(path)) as container:
            if container.streams.audio:
                with_audio = with_audio or path
            else:
                without = without or path
    assert with_audio and without
    return with_audio, without


def test_sample_indices_spread_over_the_clip():
    assert sample_indices(16, 4).tolist() == [2, 6, 10, 14]  # segment centres
    rng = np.random.default_rng(0)
    for _ in range(20):
        idx = sample_indices(90, 16, rng.random(16))
        segment = np.floor(np.arange(16) * 90 / 16)
        assert ((idx >= segment) & (idx < segment + 90 / 16 + 1)).all()
    assert sample_indices(3, 8).tolist() == [0, 0, 0, 1, 1, 2, 2, 2]  # short clips repeat frames


def test_scaled_size_keeps_aspect():
    assert scaled_size(320, 240, 120) == (160, 120)
    assert scaled_size(240, 320, 120) == (120, 160)
    assert scaled_size(64, 48, None) == (64, 48)


def test_decode_frames_and_audio(release_dir: Path):
    with_audio, without = clips_by_audio(release_dir)
    clip = decode_clip(with_audio, num_frames=5, short_side=16, audio_samples=22050 * 3)
    assert clip.frames.shape == (5, 16, 16, 3) and clip.frames.dtype == np.uint8
    assert clip.has_audio and clip.audio.shape == (66150,) and clip.audio.dtype == np.float32
    assert np.abs(clip.audio[:22050]).max() > 0.1  # the tone
    assert not clip.audio[-11025:].any()  # a 2 s clip zero-padded to 3 s
    silent = decode_clip(without, num_frames=None, audio_samples=1000)
    assert silent.frames is None and not silent.has_audio
    assert silent.audio.shape == (1000,) and not silent.audio.any()


def test_frames_are_the_chosen_ones(tmp_path: Path):
    # Frame t is filled with grey level 20 t, so decoded values reveal the indices.
    frames = np.stack([np.full((16, 16, 3), 20 * t, np.uint8) for t in range(10)])
    path = write_clip(tmp_path / "ramp.mp4", frames, fps=10)
    clip = decode_clip(path, num_frames=5)
    levels = clip.frames.reshape(5, -1).mean(axis=1) / 20
    np.testing.assert_allclose(levels, sample_indices(10, 5), atol=0.3)


@pytest.mark.parametrize("reported", [0, 40])
def test_wrong_or_unknown_frame_count(monkeypatch, tmp_path: Path, reported: int):
    frames = np.stack([np.full((16, 16, 3), 20 * t, np.uint8) for t in range(10)])
    path = write_clip(tmp_path / "ramp.mp4", frames, fps=10)
    monkeypatch.setattr(decode, "_frame_count", lambda stream, container: reported)
    clip = decode_clip(path, num_frames=5)
    levels = clip.frames.reshape(5, -1).mean(axis=1) / 20
    np.testing.assert_allclose(levels, sample_indices(10, 5), atol=0.3)


def test_corrupt_file_raises_in_decoder(corrupt_clip: Path):
    with pytest.raises(Exception):  # noqa: B017 - PyAV's error class varies by failure
        decode_clip(corrupt_clip, num_frames=4)


def test_transform_eval_and_train():
    frames = np.zeros((2, 30, 40, 3), np.uint8)
    frames[:, :, :20] = 255  # left half white
    evaluation = ClipTransform(crop=20, resize=30, train=False)
    out = evaluation(frames, None)
    assert out.shape == (3, 2, 20, 20) and out.dtype == torch.uint8
    # centre crop columns 10..30: first half white, then black
    assert out[:, :, :, :10].min() == 255 and out[:, :, :, 10:].max() == 0
    training = ClipTransform(crop=20, resize=30, train=True)
    flips = {int(training(frames, np.random.default_rng(s))[0, 0, 0, 0]) for s in range(20)}
    assert flips == {0, 255}  # random crops and flips change the content
    with pytest.raises(ValueError, match="crop 20 is larger"):
        evaluation(frames[:, :10], None)


def test_normalize_video_uses_imagenet_statistics():
    video = torch.full((1, 3, 2, 4, 4), 255, dtype=torch.uint8)
    video[:, :, :, :, 2:] = 0
    out = normalize_video(video)
    assert out.dtype == torch.float32 and out.shape == video.shape
    assert out[0, 0, 0, 0, 0].item() == pytest.approx((1 - 0.485) / 0.229, rel=1e-5)
    assert out[0, 2, 1, 3, 3].item() == pytest.approx((0 - 0.406) / 0.225, rel=1e-5)
    assert normalize_video(out) is out  # float input: already normalised


def test_dataset_items(release_dir: Path):
    release = load_release(release_dir)
    dataset = VideoDataset(release.split("val"), num_classes=4, spec=SPEC, train=False)
    item = dataset[0]
    assert item["video"].shape == (3, 4, 24, 24) and item["video"].dtype == torch.uint8
    assert item["audio"].shape == (1, 66150) and item["audio"].dtype == torch.float32
    assert item["valid"] is True and item["index"] == 0
    assert item["targets"].tolist() == dataset.targets()[0].tolist()
    assert torch.equal(dataset[0]["video"], dataset[0]["video"])  # evaluation is deterministic


def test_augmentation_depends_on_seed_epoch_and_index_only(release_dir: Path):
    videos = load_release(release_dir).split("train")
    dataset = VideoDataset(videos, num_classes=4, spec=SPEC, train=True, seed=3)
    again = VideoDataset(videos, num_classes=4, spec=SPEC, train=True, seed=3)
    assert torch.equal(dataset[(2, 5)]["video"], again[(2, 5)]["video"])
    assert any(not torch.equal(dataset[(0, i)]["video"], dataset[(1, i)]["video"]) for i in range(4))


def test_loader_workers_do_not_change_batches(release_dir: Path):
    videos = load_release(release_dir).split("train")
    batches = []
    for workers in (0, 2):
        dataset = VideoDataset(videos, num_classes=4, spec=SPEC, train=True, seed=1)
        loader = make_loader(dataset, batch_size=4, shuffle=True, num_workers=workers, seed=1)
        loader.sampler.set_epoch(3)
        batches.append(next(iter(loader)))
    assert torch.equal(batches[0]["index"], batches[1]["index"])
    assert torch.equal(batches[0]["video"], batches[1]["video"])
    assert torch.equal(batches[0]["audio"], batches[1]["audio"])


def test_distributed_shards_cover_the_split(release_dir: Path):
    videos = load_release(release_dir).split("val")
    dataset = VideoDataset(videos, num_classes=4, spec=ClipSpec(num_frames=2, crop=16, resize=16), train=False)
    seen = []
    for rank in range(3):
        loader = make_loader(dataset, batch_size=2, shuffle=False, num_workers=0, world_size=3, rank=rank)
        seen += [int(i) for batch in loader for i in batch["index"]]
    assert sorted(set(seen)) == list(range(len(videos)))
    assert len(seen) == 9  # 8 videos padded to a multiple of 3


def test_corrupt_and_missing_files_are_logged_and_skipped(corrupt_release: Path, caplog):
    release = load_release(corrupt_release)
    videos = release.split("train")
    dataset = VideoDataset(videos, num_classes=4, spec=SPEC, train=True)
    with caplog.at_level(logging.WARNING, logger="ml.data"):
        items = [dataset[i] for i in range(len(videos))]
        dataset[len(videos) - 1]  # a second failure of the same file is not logged again
    bad = [v.path for v, item in zip(videos, items, strict=True) if not item["valid"]]
    assert bad == ["corrupt.mp4", "missing_train.mp4"]
    broken = items[-1]
    assert broken["video"].shape == (3, 4, 24, 24) and not broken["video"].any()
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert any("corrupt.mp4" in m for m in messages) and any("missing_train.mp4" in m for m in messages)


def test_require_audio_marks_silent_clips_invalid(release_dir: Path):
    videos = load_release(release_dir).split("train")
    spec = ClipSpec(modalities=("audio",), require_audio=True)
    dataset = VideoDataset(videos, num_classes=4, spec=spec, train=False)
    valid = [dataset[i]["valid"] for i in range(len(videos))]
    assert True in valid and False in valid


def test_unknown_modality():
    with pytest.raises(ValueError, match="unknown modality 'depth'"):
        ClipSpec(modalities=("depth",))


def test_synthetic_frames_show_label_colours():
    frames = render_frames([1], num_classes=4, size=(32, 32), num_frames=3, rng=np.random.default_rng(0))
    assert frames.shape == (3, 32, 32, 3)
    assert (frames == np.array([127, 255, 0], np.uint8)).all(axis=-1).sum() > 50  # class 1 of 4: hue 0.25
