"""``Dataset`` and ``DataLoader`` over the videos of a release.

Each item is a dict:

* ``"video"``: ``(3, T, crop, crop)`` uint8 (video models; ``ml.engine`` moves it
  to the device and normalises it there, see ``ml.transforms``),
* ``"audio"``: ``(1, L)`` float32 mono waveform at 22,050 Hz (audio models),
* ``"targets"``: ``(C,)`` float32 multi-hot labels; a dataset built with
  ``three_state=True`` marks the classes that are neither a verified positive nor a
  verified negative of the video -1 (unknown, see ``ml.losses``) instead of 0,
* ``"index"``: the video's position in the split,
* ``"valid"``: False when the file could not be decoded (or has no audio while
  audio is required); such an item holds zeros and the training and evaluation
  loops leave it out. A corrupt or missing file is logged (once per file) and
  skipped, never a crash; keeping the batch shape fixed keeps every rank of a
  distributed run in step.

Randomness (frame offsets, scale, crop, flip) comes from a generator seeded with
``(seed, epoch, index)``: the same clip gets the same augmentation whatever the
number of loader workers or processes, which makes distributed runs match a
single process and resumed runs match uninterrupted ones. The epoch reaches the
workers through the sampler (``EpochSampler`` yields ``(epoch, index)`` keys), so
persistent workers stay correct.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler

from ml.clip_cache import ClipCache
from ml.decode import decode_clip
from ml.losses import UNKNOWN
from ml.release import Video
from ml.transforms import ClipTransform

__all__ = ["AUDIO_RATE", "ClipSpec", "EpochSampler", "VideoDataset", "make_loader", "video_targets"]

log = logging.getLogger(__name__)

AUDIO_RATE = 22050
MODALITIES = ("video", "audio")

ERR_MODALITY = "unknown modality {name!r}; choose from {choices}"


@dataclass(frozen=True)
class ClipSpec:
    """What to decode from each video.

    Attributes:
        modalities: any of ``"video"``, ``"audio"``.
        num_frames: ``T`` (16 for I3D, 8 segments for TSM).
        crop: output side in pixels.
        resize: short side before cropping (default ``crop * 8 / 7``, 256 for 224).
        audio_seconds: waveform length (3 s clips).
        sample_rate: audio rate in Hz.
        flip: horizontal flips in training.
        require_audio: mark clips without an audio stream invalid (the paper
            trains and evaluates its audio models on videos with audio only);
            otherwise they get a silent (zero) waveform.
    """

    modalities: tuple[str, ...] = ("video",)
    num_frames: int = 16
    crop: int = 224
    resize: int | None = None
    audio_seconds: float = 3.0
    sample_rate: int = AUDIO_RATE
    flip: bool = True
    require_audio: bool = False

    def __post_init__(self) -> None:
        for name in self.modalities:
            if name not in MODALITIES:
                raise ValueError(ERR_MODALITY.format(name=name, choices=list(MODALITIES)))

    @property
    def audio_samples(self) -> int:
        return int(round(self.audio_seconds * self.sample_rate))

    @property
    def short_side(self) -> int:
        return self.resize if self.resize is not None else int(round(self.crop * 8 / 7))


def video_targets(video: Video, num_classes: int, *, three_state: bool = False) -> np.ndarray:
    """The ``(C,)`` float32 targets of one video.

    Args:
        video: its verified positives (``labels``) and negatives (``negatives``).
        num_classes: ``C``.
        three_state: 1 positive, 0 verified negative, -1 (``ml.losses.UNKNOWN``) any
            other class; when False, 1 positive and 0 every other class.
    """
    out = np.full(num_classes, UNKNOWN if three_state else 0.0, dtype=np.float32)
    out[list(video.negatives)] = 0.0
    out[list(video.labels)] = 1.0
    return out


class VideoDataset(Dataset):
    """Decoded, augmented clips of a list of videos.

    Args:
        videos: the split's videos.
        num_classes: ``C``.
        spec: what to decode.
        train: random augmentation when True.
        seed: base of the per-item random generators.
        three_state: targets -1 for classes neither verified positive nor verified
            negative (``python -m ml.train --unlabelled ignore`` or ``weight=A``); the
            metrics take two-state targets, so evaluation datasets leave this False.
        cache: a decoded-clip cache (``ml.clip_cache``) to read frames from instead
            of decoding with PyAV; videos it lacks, and audio, are decoded as before.
    """

    def __init__(
        self, videos: Sequence[Video], *, num_classes: int, spec: ClipSpec, train: bool, seed: int = 0,
        three_state: bool = False, cache: ClipCache | None = None,
    ) -> None:
        self.videos = list(videos)
        self.cache = cache
        self.num_classes = num_classes
        self.spec = spec
        self.train = train
        self.seed = seed
        self.three_state = three_state
        self.transform = ClipTransform(
            crop=spec.crop, resize=spec.short_side, train=train, flip=spec.flip
        )
        self._reported: set[str] = set()

    def __len__(self) -> int:
        return len(self.videos)

    def targets(self) -> np.ndarray:
        """``(N, C)`` float32 targets of all videos (see ``video_targets``)."""
        out = np.zeros((len(self.videos), self.num_classes), dtype=np.float32)
        for row, video in enumerate(self.videos):
            out[row] = video_targets(video, self.num_classes, three_state=self.three_state)
        return out

    def _empty(self) -> dict[str, torch.Tensor]:
        item: dict[str, torch.Tensor] = {}
        if "video" in self.spec.modalities:
            size = self.spec.crop
            item["video"] = torch.zeros(3, self.spec.num_frames, size, size, dtype=torch.uint8)
        if "audio" in self.spec.modalities:
            item["audio"] = torch.zeros(1, self.spec.audio_samples)
        return item

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, torch.Tensor | int | bool]:
        epoch, index = key if isinstance(key, tuple) else (0, key)
        video = self.videos[index]
        targets = torch.from_numpy(video_targets(video, self.num_classes, three_state=self.three_state))
        rng = np.random.default_rng([self.seed, epoch, index]) if self.train else None
        wants_video = "video" in self.spec.modalities
        try:
            item: dict = {}
            if wants_video and self.cache is not None and video.path in self.cache:
                item["video"] = self.transform(self.cache.read(video.path, self.spec.num_frames, rng), rng)
                wants_video = False
                if "audio" not in self.spec.modalities:
                    item.update(targets=targets, index=index, valid=True)
                    return item
            clip = decode_clip(
                video.file,
                num_frames=self.spec.num_frames if wants_video else None,
                short_side=self.transform.short_side(rng) if wants_video else None,
                rng=rng,
                audio_samples=self.spec.audio_samples if "audio" in self.spec.modalities else None,
                sample_rate=self.spec.sample_rate,
            )
            if wants_video:
                item["video"] = self.transform(clip.frames, rng)
            if clip.audio is not None:
                item["audio"] = torch.from_numpy(clip.audio).unsqueeze(0)
            valid = clip.has_audio or not self.spec.require_audio
        except Exception as error:  # noqa: BLE001 - any unreadable file is skipped, never fatal
            if video.path not in self._reported:
                self._reported.add(video.path)
                log.warning("skipping unreadable video %s (%s): %s", video.path, type(error).__name__, error)
            item, valid = self._empty(), False
        item.update(targets=targets, index=index, valid=valid)
        return item


class EpochSampler(Sampler):
    """Yields ``(epoch, index)`` keys from a ``DistributedSampler``.

    A ``DistributedSampler`` is used in single-process runs too (one replica):
    its seeded per-epoch permutation is what makes a run on W processes see the
    same samples per step as a run on one.

    Args:
        base: the index sampler.
    """

    def __init__(self, base: DistributedSampler) -> None:
        self.base = base
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.base.set_epoch(epoch)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return ((self.epoch, index) for index in self.base)

    def __len__(self) -> int:
        return len(self.base)


def make_loader(
    dataset: VideoDataset,
    *,
    batch_size: int,
    shuffle: bool,
    num_workers: int,
    seed: int = 0,
    world_size: int = 1,
    rank: int = 0,
    pin_memory: bool = False,
) -> DataLoader:
    """A loader over ``dataset`` sharded across ``world_size`` processes.

    Args:
        dataset: the clips.
        batch_size: clips per step on this process.
        shuffle: reshuffle each epoch (call ``loader.sampler.set_epoch``).
        num_workers: decoding processes (0: decode in this process).
        seed: shuffling seed, shared by all ranks.
        world_size: number of processes.
        rank: this process.
        pin_memory: page-locked batches for fast copies to the GPU.

    Returns:
        A ``DataLoader`` whose ``sampler`` is an ``EpochSampler``. Without
        shuffling, ranks get interleaved shards padded to equal length (the
        padding repeats videos; gather by ``index`` to drop them).
    """
    base = DistributedSampler(
        dataset, num_replicas=world_size, rank=rank, shuffle=shuffle, seed=seed, drop_last=False
    )
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=EpochSampler(base),
        num_workers=num_workers,
        pin_memory=pin_memory,
        persistent_workers=num_workers > 0,
        prefetch_factor=4 if num_workers > 0 else None,
        drop_last=False,
    )
