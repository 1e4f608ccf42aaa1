"""Multi-label class activation maps of an image or a video: ``python -m ml.mcam``.

Examples::

    python -m ml.mcam --checkpoint runs/i3d/best.pt --video clip.mp4 --out clip_mcam.png --top-k 3
    python -m ml.mcam --checkpoint runs/tsm/best.pt --image frame.jpg --out frame_mcam.png \\
        --threshold 1e-4 --similarity 0.1 --floor 0.2 --json frame_mcam.json

Maps the ``--top-k`` classes (those with a probability of at least
``--min-score``; the best one always), suppresses pixels where two classes
whose maps' cosine distance is at least ``--threshold`` have values within
``--similarity`` of each other (both at least ``--floor``), combines them by
per-pixel maximum, smooths with a 5x5 Gaussian and draws the frame as in Fig. 6
of the paper (see ``ml.interpret.mcam`` for the exact rules). Frames are scaled
so their shorter side is the model's training crop (``--size`` overrides).
Video models map the time-averaged features onto the middle frame, or with
``--temporal frames`` every temporal step onto its own frame (a strip).
``--json`` writes the classes, names, scores and pairwise cosine distances.
Checkpoints of ``ml.train`` (I3D, TSM, fusion) and torchvision-format 2D
ResNet files are accepted; audio-only models have no map.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import av
import numpy as np
import torch

from ml import distributed
from ml.cli import cli_parser
from ml.config import parse_with_config, write_json
from ml.decode import DecodeError
from ml.interpret.inputs import load_image, load_video, model_inputs
from ml.interpret.loading import load_interpretable
from ml.interpret.mcam import (
    DEFAULT_FLOOR,
    DEFAULT_SIMILARITY,
    DEFAULT_THRESHOLD,
    ERR_NO_SPATIAL,
    multi_label_cam,
)
from ml.interpret.render import render_mcam

__all__ = ["main", "run"]

log = logging.getLogger("ml.mcam")

ERR_SOURCE = "give exactly one of --video and --image"


def build_parser() -> argparse.ArgumentParser:
    parser = cli_parser("python -m ml.mcam", __doc__.split("\n")[0])
    parser.add_argument("--checkpoint", type=Path, required=True, help="ml checkpoint or torchvision ResNet file")
    parser.add_argument("--video", type=Path)
    parser.add_argument("--image", type=Path)
    parser.add_argument("--out", type=Path, required=True, help="PNG to write")
    parser.add_argument("--top-k", type=int, default=3)
    parser.add_argument("--min-score", type=float, default=0.0, help="smallest probability mapped (after the first)")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD, help="cosine-distance threshold")
    parser.add_argument("--similarity", type=float, default=DEFAULT_SIMILARITY, help="'similar values' tolerance")
    parser.add_argument("--floor", type=float, default=DEFAULT_FLOOR, help="smallest value a class uses")
    parser.add_argument("--temporal", choices=("mean", "frames"), default="mean")
    parser.add_argument("--size", type=int, help="shorter side of the frames (default: the training crop)")
    parser.add_argument("--json", type=Path, help="also write classes, scores and distances as JSON")
    parser.add_argument("--device", default="cpu")
    return parser


def run(args: argparse.Namespace) -> dict:
    """Compute, draw and save; returns the JSON summary."""
    if (args.video is None) == (args.image is None):
        raise ValueError(ERR_SOURCE)
    device = distributed.pick_device(args.device, 0)
    loaded = load_interpretable(args.checkpoint, map_location=device)
    if loaded.modalities == ("audio",):
        raise ValueError(ERR_NO_SPATIAL.format(name=loaded.builder))
    short_side = args.size or loaded.crop
    if args.image is not None:
        media = load_image(args.image, short_side=short_side)
    else:
        media = load_video(args.video, num_frames=loaded.num_frames or 1, short_side=short_side,
                           audio_samples=loaded.audio_samples)
    inputs, frames = model_inputs(media, loaded, device=device)
    result = multi_label_cam(loaded.model, inputs, size=frames.shape[1:3], top_k=args.top_k,
                             min_score=args.min_score, threshold=args.threshold, similarity=args.similarity,
                             floor=args.floor, temporal=args.temporal)
    names = [loaded.display_names[c] for c in result.classes]
    if result.smoothed.ndim == 3:  # one tile per temporal step: the frame at the centre of its span
        steps = result.smoothed.shape[0]
        shown = frames[((np.arange(steps) + 0.5) * len(frames) / steps).astype(int)]
    else:
        shown = frames[len(frames) // 2]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    render_mcam(shown, result, names).save(args.out)
    summary = {
        "checkpoint": str(args.checkpoint), "input": str(args.video or args.image), "out": str(args.out),
        "classes": [loaded.class_names[c] for c in result.classes], "display_names": names,
        "scores": [float(s) for s in result.scores], "threshold": result.threshold,
        "similarity": result.similarity, "floor": result.floor, "temporal": args.temporal,
        "cosine_distances": result.distances.double().cpu().numpy().round(6).tolist(),
        "pixels_owned": [int((result.owner == k).sum()) for k in range(len(result.classes))],
    }
    if args.json is not None:
        write_json(args.json, summary)
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parse_with_config(build_parser(), argv)
    try:
        with torch.no_grad():
            summary = run(args)
    except (FileNotFoundError, ValueError, OSError, DecodeError, av.error.FFmpegError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    log.info("wrote %s: %s", args.out, ", ".join(f"{n} {s:.2f}" for n, s in
                                                 zip(summary["display_names"], summary["scores"], strict=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
