"""Ranked top-k actions per video: ``python -m ml.predict``.

Examples::

    python -m ml.predict --checkpoint runs/i3d/best.pt --release releases/v3 --out predictions.csv
    python -m ml.predict --checkpoint runs/i3d/best.pt --videos new.csv --video-root /media \\
        --out predictions.csv --top-k 10

Output CSV, header ``path,rank,action,score``: for every decodable video its
``top-k`` actions, ``rank`` from 1, ``action`` the vocabulary ``name`` (from the
checkpoint), ``score`` the sigmoid probability. ``path`` is the video's path
exactly as written in the input CSV (the platform's "model top-1" candidate
source reads this file). Videos come from the release splits (``--split``,
default all present; a path listed twice is predicted once) or from a plain
CSV with a ``path`` column (``--videos``; relative paths against
``--video-root``, else the CSV's directory). Undecodable videos are logged and
left out. Rows are written as batches finish, so memory stays flat on large
lists. Runs in one process (shard the list to use several GPUs).
"""

from __future__ import annotations

import argparse
import csv
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import torch
from tqdm import tqdm

from ml import distributed
from ml.checkpoint import checkpoint_vocabulary, load_model
from ml.cli import cli_parser, default_workers
from ml.config import parse_with_config
from ml.data import VideoDataset, make_loader
from ml.engine import autocast, model_inputs
from ml.evaluate import clip_spec_from_checkpoint
from ml.release import SPLITS, ReleaseError, Video, load_release, read_video_list

__all__ = ["main", "predict_videos"]

log = logging.getLogger("ml.predict")

HEADER = ("path", "rank", "action", "score")

ERR_SOURCE = "give --release (with optional --split) or --videos, not both"
ERR_NO_VIDEOS = "no videos to predict: {source} lists none"
ERR_TOP_K = "--top-k must be at least 1; got {k}"


def predict_videos(
    videos: Sequence[Video],
    *,
    checkpoint: Path | str,
    out: Path | str,
    top_k: int = 5,
    batch_size: int = 8,
    workers: int = 4,
    device: str = "auto",
    amp: torch.dtype | None = None,
    progress: bool = True,
) -> int:
    """Write the top-k predictions of ``videos`` to ``out``.

    Args:
        videos: the videos (their ``path`` is written as given).
        checkpoint: a checkpoint of ``ml.train``.
        out: the CSV to write.
        top_k: actions per video (at most the vocabulary size).
        batch_size, workers: loader settings.
        device: ``auto``, ``cpu``, ``cuda`` ...
        amp: autocast dtype or ``None``.
        progress: show a progress bar.

    Returns:
        The number of videos predicted (undecodable ones are skipped).
    """
    if top_k < 1:
        raise ValueError(ERR_TOP_K.format(k=top_k))
    target = distributed.pick_device(device, 0)
    model, saved = load_model(checkpoint)
    model = model.to(target)
    vocabulary = checkpoint_vocabulary(saved)
    k = min(top_k, len(vocabulary))
    dataset = VideoDataset(videos, num_classes=len(vocabulary), spec=clip_spec_from_checkpoint(saved), train=False)
    loader = make_loader(dataset, batch_size=batch_size, shuffle=False, num_workers=workers)
    written = 0
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "w", newline="") as handle, torch.no_grad():
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for batch in tqdm(loader, desc="predict", disable=not progress, dynamic_ncols=True):
            inputs = model_inputs(model, batch, target)
            with autocast(target, amp):
                scores = torch.sigmoid(model(*inputs).float()).cpu()
            top_scores, top_classes = scores.topk(k, dim=1)
            for row, index in enumerate(batch["index"].tolist()):
                if not batch["valid"][row]:
                    continue
                path = videos[index].path
                writer.writerows(
                    (path, rank + 1, vocabulary.names[c], f"{s:.6g}")
                    for rank, (c, s) in enumerate(zip(top_classes[row].tolist(), top_scores[row].tolist()))
                )
                written += 1
    tmp.replace(out)
    return written


def build_parser() -> argparse.ArgumentParser:
    parser = cli_parser("python -m ml.predict", __doc__.split("\n")[0])
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--release", type=Path, help="release directory")
    parser.add_argument("--split", nargs="+", choices=SPLITS, help="release splits (default: all present)")
    parser.add_argument("--videos", type=Path, help="CSV with a 'path' column, instead of --release")
    parser.add_argument("--video-root", type=Path, help="directory for relative video paths")
    parser.add_argument("--out", type=Path, required=True, help="predictions CSV")
    parser.add_argument("--top-k", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--device", default="auto")
    parser.add_argument("--amp", choices=("off", "fp16", "bf16"), default="off")
    parser.add_argument("--no-progress", action="store_true")
    return parser


def _videos(args: argparse.Namespace) -> list[Video]:
    if (args.release is None) == (args.videos is None):
        raise ReleaseError(ERR_SOURCE)
    if args.videos is not None:
        videos = list(read_video_list(args.videos, base=args.video_root or args.videos.parent))
        source = args.videos
    else:
        release = load_release(args.release, video_root=args.video_root)
        splits = args.split or [s for s in SPLITS if s in release.splits]
        seen: set[str] = set()
        videos = []
        for split in splits:
            for video in release.split(split):
                if video.path not in seen:
                    seen.add(video.path)
                    videos.append(video)
        source = args.release
    if not videos:
        raise ReleaseError(ERR_NO_VIDEOS.format(source=source))
    return videos


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parse_with_config(build_parser(), argv)
    try:
        videos = _videos(args)
        amp = {"off": None, "fp16": torch.float16, "bf16": torch.bfloat16}[args.amp]
        count = predict_videos(videos, checkpoint=args.checkpoint, out=args.out, top_k=args.top_k,
                               batch_size=args.batch_size, workers=args.workers, device=args.device,
                               amp=amp, progress=not args.no_progress)
    except (ReleaseError, FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    log.info("wrote %d of %d videos to %s", count, len(videos), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
