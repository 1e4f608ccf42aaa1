"""I3D-R50 training throughput at 16x224x224 on a CUDA device, fed by each decoding path, side by side.

    python bench/ml_gpu_throughput.py [--batch-size 16 --steps 20 --workers 14 --clips 96 --repeat 12]
    python bench/ml_gpu_throughput.py --cpu-only      # per-clip CPU cost of each path, no GPU needed

Measured in one run, on the same synthetic 3 s clips (320x240, 30 fps, H.264):

1. GPU only: full-size I3D-R50 (292 classes, wLSEP loss, SGD, bf16 autocast) on
   random clips already on the GPU; clips/s of forward + backward + step.
2. For each path, the CPU cost of one clip (milliseconds of one core, decoding
   and augmenting in this process), then end to end: the training loop fed by
   ``--workers`` loader processes through one long epoch (the clips
   ``--repeat`` times), timed after its first ``workers + 2`` batches (the
   steady state of a real epoch); clips/s, its share of the GPU-only figure,
   and the share of wall time the loop waited for batches. Paths:

   * ``pyav``: today's loader, H.264 decoded with PyAV (the CPU default);
   * ``cache-jpeg``: the decoded-clip cache (``ml.clip_cache``), JPEG frames
     decoded by Pillow (libjpeg-turbo) in the loader processes;
   * ``cache-raw``: the same cache holding raw pixels, read from a memory map;
   * ``cache-jpeg-gpu``: the JPEG cache's bytes decoded on the GPU by nvJPEG
     (``torchvision.io.decode_jpeg(device="cuda")``; skipped without torchvision),
     cropped and flipped there.

   The cache's build cost (clips/s per core, once per release) and its size
   per clip are printed too.

A path keeps the GPU busy when its end-to-end figure is at least 90% of the
GPU-only one. ``--cpu-only`` (or a machine without CUDA) prints the per-clip
costs and the cache's build cost only.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DistributedSampler

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ml.clip_cache import ClipCache, build_clip_cache  # noqa: E402
from ml.data import ClipSpec, EpochSampler, VideoDataset, make_loader  # noqa: E402
from ml.losses import wlsep  # noqa: E402
from ml.models import i3d_r50  # noqa: E402
from ml.release import Video  # noqa: E402
from ml.synthetic import render_frames, write_clip  # noqa: E402
from ml.transforms import normalize_video  # noqa: E402

CLASSES = 292


def make_training_step(model: torch.nn.Module, dtype: torch.dtype):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    scaler = torch.amp.GradScaler("cuda", enabled=dtype == torch.float16)

    def step(video: torch.Tensor, targets: torch.Tensor) -> None:
        with torch.autocast("cuda", dtype=dtype):
            loss = wlsep(model(video), targets)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()

    return step


def random_targets(batch: int, device: torch.device) -> torch.Tensor:
    targets = torch.zeros(batch, CLASSES, device=device)
    targets[torch.arange(batch), torch.randint(0, CLASSES, (batch,))] = 1
    return targets


def gpu_only(step, batch: int, frames: int, steps: int, device: torch.device) -> float:
    video = torch.randn(batch, 3, frames, 224, 224, device=device).to(memory_format=torch.channels_last_3d)
    targets = random_targets(batch, device)
    for _ in range(5):
        step(video, targets)
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step(video, targets)
    torch.cuda.synchronize()
    return batch * steps / (time.perf_counter() - start)


class EncodedClips(torch.utils.data.Dataset):
    """The JPEG cache's bytes of each training clip, with its crop window: decoding is left to the GPU."""

    def __init__(self, videos: list[Video], cache: ClipCache, spec: ClipSpec) -> None:
        self.videos, self.cache, self.spec = videos, cache, spec

    def __len__(self) -> int:
        return len(self.videos)

    def __getitem__(self, key):
        epoch, index = key if isinstance(key, tuple) else (0, key)
        video = self.videos[index]
        rng = np.random.default_rng([0, epoch, index])
        blobs = self.cache.encoded(video.path, self.cache.positions(self.spec.num_frames, rng).tolist())
        height, width = (int(v) for v in self.cache.shapes[self.cache.rows[video.path]])
        crop = self.spec.crop
        window = (int(rng.integers(0, height - crop + 1)), int(rng.integers(0, width - crop + 1)),
                  bool(rng.random() < 0.5))
        return [torch.from_numpy(np.array(blob)) for blob in blobs], window, index


def _collate_encoded(items):
    return [blob for blobs, _, _ in items for blob in blobs], [w for _, w, _ in items], [i for _, _, i in items]


def gpu_decode_batch(batch, frames: int, crop: int, device: torch.device) -> torch.Tensor:
    from torchvision.io import decode_jpeg

    blobs, windows, _ = batch
    images = decode_jpeg(blobs, device=device)
    clips = []
    for clip, (top, left, flip) in enumerate(windows):
        frames_ = torch.stack(images[clip * frames:(clip + 1) * frames], dim=1)  # (3, T, H, W)
        window = frames_[:, :, top:top + crop, left:left + crop]
        clips.append(window.flip(-1) if flip else window)
    return torch.stack(clips)


def cpu_cost_ms(dataset, count: int) -> float:
    """Milliseconds of one core per clip, items built in this process."""
    count = min(count, len(dataset))
    dataset[0]  # warm up (imports, first file open)
    start = time.process_time()
    for index in range(count):
        dataset[(1, index)]
    return (time.process_time() - start) / count * 1000


def end_to_end(loader, step, device, warmup: int, gpu_batch=None) -> tuple[float, float]:
    """(clips/s, share of wall time waiting for batches) in the steady state of one long epoch.

    The first ``warmup`` batches (the loader processes starting and filling their queues) are not timed:
    a real epoch holds thousands of batches, so its start costs nothing measurable.
    """
    seen, waiting, start = 0, 0.0, None
    batches = iter(loader)
    for number in range(len(loader)):
        if number == warmup:
            torch.cuda.synchronize()
            start, seen, waiting = time.perf_counter(), 0, 0.0
        asked = time.perf_counter()
        batch = next(batches)
        if gpu_batch is not None:
            video = gpu_batch(batch)
            count = len(batch[2])
            targets = random_targets(count, device)
        else:
            video = batch["video"].to(device, non_blocking=True)
            count = len(batch["index"])
            targets = batch["targets"].to(device, non_blocking=True)
        waiting += time.perf_counter() - asked
        video = normalize_video(video).to(memory_format=torch.channels_last_3d)
        step(video, targets)
        seen += count
    torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    return seen / elapsed, waiting / elapsed


def make_clips(folder: Path, count: int) -> list[Video]:
    rng = np.random.default_rng(0)
    videos = []
    for i in range(count):
        frames = render_frames([i % 8], num_classes=8, size=(240, 320), num_frames=90, rng=rng)
        path = write_clip(folder / f"clip_{i:03d}.mp4", frames, fps=30)
        videos.append(Video(path=path.name, file=path, labels=(i % CLASSES,)))
    return videos


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--steps", type=int, default=20, help="timed steps of the GPU-only figure")
    parser.add_argument("--amp", choices=("bf16", "fp16"), default="bf16")
    parser.add_argument("--workers", type=int, default=max(1, min(14, (os.cpu_count() or 2) - 2)),
                        help="loader processes")
    parser.add_argument("--clips", type=int, default=96, help="synthetic clips")
    parser.add_argument("--repeat", type=int, default=12,
                        help="the epoch passes over the clips this many times (a long epoch: its steady state)")
    parser.add_argument("--cache-frames", type=int, default=32, help="frames kept per clip in the cache")
    parser.add_argument("--paths", nargs="+", default=["pyav", "cache-jpeg", "cache-raw", "cache-jpeg-gpu"])
    parser.add_argument("--cpu-only", action="store_true", help="per-clip CPU costs only")
    args = parser.parse_args()
    cuda = torch.cuda.is_available() and not args.cpu_only
    spec = ClipSpec(modalities=("video",), num_frames=args.frames, crop=224, resize=256)
    print(f"torch {torch.__version__}, {os.cpu_count()} cores, {args.workers} loader processes, "
          f"{args.clips} clips of 3 s 320x240 H.264, batch {args.batch_size} x {args.frames}x224x224")
    rate_gpu = None
    if cuda:
        device = torch.device("cuda")
        dtype = torch.bfloat16 if args.amp == "bf16" else torch.float16
        torch.backends.cudnn.benchmark = True
        model = i3d_r50(num_classes=CLASSES).to(device).to(memory_format=torch.channels_last_3d).train()
        step = make_training_step(model, dtype)
        print(f"device: {torch.cuda.get_device_name(device)}, AMP {args.amp}, I3D-R50 with {CLASSES} classes")
        rate_gpu = gpu_only(step, args.batch_size, args.frames, args.steps, device)
        print(f"GPU only: {rate_gpu:8.1f} clips/s")

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        videos = make_clips(Path(tmp), args.clips)
        print(f"wrote {len(videos)} clips in {time.perf_counter() - started:.1f} s")
        caches: dict[str, ClipCache] = {}
        for fmt in ("jpeg", "raw"):
            if not any(p.startswith(f"cache-{fmt}") for p in args.paths):
                continue
            cpu = time.process_time()
            summary = build_clip_cache([(v.path, v.file) for v in videos], Path(tmp) / f"cache-{fmt}",
                                       frames=args.cache_frames, short_side=256, fmt=fmt)
            per_clip = (time.process_time() - cpu) / len(videos) * 1000
            print(f"cache {fmt}: built at {per_clip:.1f} ms of one core per clip "
                  f"({1000 / per_clip:.1f} clips/s per core), {summary['bytes'] / len(videos) / 1e6:.2f} MB per clip "
                  f"({args.cache_frames} frames at short side 256)")
            caches[fmt] = ClipCache.open(Path(tmp) / f"cache-{fmt}")

        for path in args.paths:
            epoch = videos * args.repeat
            warmup = args.workers + 2
            if path == "cache-jpeg-gpu":
                try:
                    import torchvision.io  # noqa: F401
                except Exception as error:  # noqa: BLE001 - torchvision is optional here
                    print(f"{path}: skipped ({type(error).__name__}: {error})")
                    continue
                dataset = EncodedClips(epoch, caches["jpeg"], spec)
            else:
                cache = caches.get(path.removeprefix("cache-")) if path.startswith("cache-") else None
                dataset = VideoDataset(epoch, num_classes=CLASSES, spec=spec, train=True, cache=cache)
            cost = cpu_cost_ms(dataset, 24)
            row = {"path": path, "cpu_ms": cost}
            line = f"{path:15s} CPU {cost:6.1f} ms/clip ({1000 / cost:6.1f} clips/s per core)"
            if cuda:
                if path == "cache-jpeg-gpu":
                    loader = torch.utils.data.DataLoader(
                        dataset, batch_size=args.batch_size, num_workers=args.workers, persistent_workers=True,
                        sampler=EpochSampler(DistributedSampler(dataset, num_replicas=1, rank=0, shuffle=True)),
                        collate_fn=_collate_encoded, prefetch_factor=4)
                    rate, waited = end_to_end(loader, step, device, warmup,
                                              gpu_batch=lambda b: gpu_decode_batch(b, args.frames, 224, device))
                else:
                    loader = make_loader(dataset, batch_size=args.batch_size, shuffle=True,
                                         num_workers=args.workers, pin_memory=True)
                    rate, waited = end_to_end(loader, step, device, warmup)
                del loader
                row.update(rate=rate, waited=waited)
                line += (f" | end to end {rate:7.1f} clips/s = {rate / rate_gpu:4.0%} of GPU only, "
                         f"waited {waited:4.0%}")
            print(line, flush=True)
            rows.append(row)
    if cuda:
        best = max(rows, key=lambda r: r.get("rate", 0))
        verdict = "keeps" if best["rate"] >= 0.9 * rate_gpu else "does NOT keep"
        print(f"best path: {best['path']} at {best['rate'] / rate_gpu:.0%} of GPU only: it {verdict} the GPU busy "
              f"(target 90%) with {args.workers} loader processes on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
