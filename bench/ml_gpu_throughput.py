"""I3D-R50 training throughput at 16x224x224 with AMP on a CUDA device, and loader headroom.

    python bench/ml_gpu_throughput.py [--batch-size 16 --steps 20 --workers 12 --clips 96]

Three measurements, all in this run (about 2-4 minutes on one H100):

1. GPU only: full-size I3D-R50 (292 classes, wLSEP loss, SGD) on random clips
   already on the GPU; clips/s of forward + backward + step, after warm-up.
2. Loader only: ``ml.data`` decoding and augmenting synthetic 3 s clips
   (320x240, 30 fps, H.264) into 16x224x224 batches with ``--workers``
   processes; clips/s, no GPU work.
3. End to end: the training loop fed by that loader; clips/s, and the share of
   wall time the loop waited for batches.

The loader keeps the GPU busy when end-to-end throughput is close to the
GPU-only figure (and the waiting share is small); otherwise add workers or
decode at lower resolution. Exits with a message when CUDA is not available;
step 2 and 3 are skipped when PyAV is missing.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ml.losses import wlsep  # noqa: E402
from ml.models import i3d_r50  # noqa: E402

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--amp", choices=("bf16", "fp16"), default="bf16")
    parser.add_argument("--workers", type=int, default=max(1, min(12, (os.cpu_count() or 2) - 2)))
    parser.add_argument("--clips", type=int, default=96, help="synthetic clips for the loader")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("bench/ml_gpu_throughput.py needs a CUDA device; torch.cuda.is_available() is False")
    device = torch.device("cuda")
    dtype = torch.bfloat16 if args.amp == "bf16" else torch.float16
    torch.backends.cudnn.benchmark = True
    model = i3d_r50(num_classes=CLASSES).to(device).to(memory_format=torch.channels_last_3d).train()
    step = make_training_step(model, dtype)
    print(f"device: {torch.cuda.get_device_name(device)}, torch {torch.__version__}, AMP {args.amp}, "
          f"batch {args.batch_size} x {args.frames}x224x224, I3D-R50 with {CLASSES} classes")
    rate_gpu = gpu_only(step, args.batch_size, args.frames, args.steps, device)
    print(f"1. GPU only:   {rate_gpu:8.1f} clips/s")

    try:
        from ml.data import ClipSpec, VideoDataset, make_loader
        from ml.release import Video
        from ml.synthetic import render_frames, write_clip
        from ml.transforms import normalize_video
    except ImportError as error:  # PyAV missing on this machine
        print(f"2-3 skipped: {error}")
        return
    import numpy as np

    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(0)
        videos = []
        for i in range(args.clips):
            frames = render_frames([i % 8], num_classes=8, size=(240, 320), num_frames=90, rng=rng)
            path = write_clip(Path(tmp) / f"clip_{i:03d}.mp4", frames, fps=30)
            videos.append(Video(path=path.name, file=path, labels=(i % CLASSES,)))
        spec = ClipSpec(modalities=("video",), num_frames=args.frames, crop=224, resize=256)
        dataset = VideoDataset(videos, num_classes=CLASSES, spec=spec, train=True)
        loader = make_loader(dataset, batch_size=args.batch_size, shuffle=True, num_workers=args.workers,
                             pin_memory=True)
        next(iter(loader))  # start the (persistent) workers
        start, seen = time.perf_counter(), 0
        for epoch in range(2):
            loader.sampler.set_epoch(epoch)
            for batch in loader:
                seen += len(batch["index"])
        rate_loader = seen / (time.perf_counter() - start)
        print(f"2. loader only: {rate_loader:7.1f} clips/s ({args.workers} workers)")

        start, seen, waiting = time.perf_counter(), 0, 0.0
        for epoch in range(2, 4):
            loader.sampler.set_epoch(epoch)
            batches = iter(loader)
            while True:
                asked = time.perf_counter()
                try:
                    batch = next(batches)
                except StopIteration:
                    break
                waiting += time.perf_counter() - asked
                video = normalize_video(batch["video"].to(device, non_blocking=True))
                video = video.to(memory_format=torch.channels_last_3d)
                step(video, batch["targets"].to(device, non_blocking=True))
                seen += len(batch["index"])
        torch.cuda.synchronize()
        elapsed = time.perf_counter() - start
        rate_e2e = seen / elapsed
    print(f"3. end to end: {rate_e2e:8.1f} clips/s = {rate_e2e / rate_gpu:.0%} of GPU only; "
          f"waited for data {waiting / elapsed:.0%} of the time")
    verdict = "keeps the GPU busy" if rate_e2e >= 0.9 * rate_gpu else "does NOT keep the GPU busy"
    print(f"the loader {verdict} with {args.workers} workers")


if __name__ == "__main__":
    main()
