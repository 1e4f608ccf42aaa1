"""Evaluate a checkpoint on release splits: ``python -m ml.evaluate``.

Example::

    python -m ml.evaluate --checkpoint runs/i3d/best.pt --release releases/v3 --split val test \\
        --out runs/i3d/eval-v3.json

Writes JSON ``{"checkpoint", "epoch", "splits": {split: {"top1", "top5",
"micro_map", "macro_map", "num_videos", "num_evaluated", "per_class_ap":
{action name: AP or null}}}}`` (``null`` for classes without positives in the
split) and prints the four metrics per split. Runs under ``torchrun`` too.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from ml import distributed
from ml.checkpoint import checkpoint_vocabulary, load_model
from ml.cli import cli_parser, default_workers
from ml.config import parse_with_config, write_json
from ml.data import ClipSpec, VideoDataset, make_loader
from ml.engine import Outputs, infer
from ml.metrics import evaluate, per_class_average_precision
from ml.release import SPLITS, ReleaseError, Vocabulary, load_release

__all__ = ["clip_spec_from_checkpoint", "evaluation_report", "main"]

log = logging.getLogger("ml.evaluate")

ERR_VOCABULARY = (
    "the release's vocabulary differs from the checkpoint's ({release} vs {saved} actions, "
    "first difference at index {index}); evaluate needs the same classes in the same order"
)
ERR_NO_SPLIT = "release {root} has none of the splits {splits}"


def evaluation_report(outputs: Outputs, vocabulary: Vocabulary, *, num_videos: int) -> dict[str, Any]:
    """Metrics, counts and per-class AP (keyed by action name) of one split.

    Args:
        outputs: the model's outputs over the split.
        vocabulary: the classes, in output order.
        num_videos: videos listed in the split (undecodable ones are not evaluated).
    """
    report: dict[str, Any] = {"num_videos": num_videos, "num_evaluated": int(len(outputs.indices))}
    if len(outputs.indices):
        report.update(evaluate(outputs.logits, outputs.targets))
        ap = per_class_average_precision(outputs.logits, outputs.targets)
    else:
        report.update(dict.fromkeys(("top1", "top5", "micro_map", "macro_map"), None))
        ap = [None] * len(vocabulary)
    report["per_class_ap"] = {name: (None if v is None or v != v else float(v))
                              for name, v in zip(vocabulary.names, ap, strict=True)}
    return report


def clip_spec_from_checkpoint(checkpoint: dict[str, Any]) -> ClipSpec:
    """The evaluation-time clip settings a model was trained with."""
    clip = dict(checkpoint["clip"])
    clip["modalities"] = tuple(clip["modalities"])
    return ClipSpec(**clip)


def build_parser() -> argparse.ArgumentParser:
    parser = cli_parser("python -m ml.evaluate", __doc__.split("\n")[0])
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--release", type=Path, required=True)
    parser.add_argument("--video-root", type=Path, help="directory for relative video paths")
    parser.add_argument("--split", nargs="+", choices=SPLITS, help="default: val and test (those present)")
    parser.add_argument("--out", type=Path, help="JSON report (default: eval.json beside the checkpoint)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--device", default="auto")
    parser.add_argument("--amp", choices=("off", "fp16", "bf16"), default="off")
    parser.add_argument("--no-progress", action="store_true")
    return parser


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Evaluate as configured; returns the report (rank 0 writes it)."""
    ctx = distributed.setup(args.device)
    try:
        model, checkpoint = load_model(args.checkpoint)
        model = model.to(ctx.device)
        vocabulary = checkpoint_vocabulary(checkpoint)
        release = load_release(args.release, video_root=args.video_root)
        if release.vocabulary.names != vocabulary.names:
            index = next((i for i, (a, b) in enumerate(zip(release.vocabulary.names, vocabulary.names))
                          if a != b), min(len(vocabulary), len(release.vocabulary)))
            raise ReleaseError(ERR_VOCABULARY.format(release=len(release.vocabulary), saved=len(vocabulary),
                                                     index=index))
        splits = args.split or [s for s in ("val", "test") if s in release.splits]
        if not splits:
            raise ReleaseError(ERR_NO_SPLIT.format(root=release.root, splits=["val", "test"]))
        spec = clip_spec_from_checkpoint(checkpoint)
        amp = {"off": None, "fp16": torch.float16, "bf16": torch.bfloat16}[args.amp]
        report: dict[str, Any] = {"checkpoint": str(args.checkpoint), "epoch": checkpoint.get("epoch"),
                                  "release": str(release.root), "splits": {}}
        for split in splits:
            videos = release.split(split)
            dataset = VideoDataset(videos, num_classes=len(vocabulary), spec=spec, train=False)
            loader = make_loader(dataset, batch_size=args.batch_size, shuffle=False, num_workers=args.workers,
                                 world_size=ctx.world_size, rank=ctx.rank)
            outputs = infer(model, loader, ctx=ctx, amp_dtype=amp, progress=not args.no_progress,
                            description=split)
            report["splits"][split] = evaluation_report(outputs, vocabulary, num_videos=len(videos))
        if ctx.is_main:
            out = args.out or args.checkpoint.parent / "eval.json"
            write_json(out, report)
            for split, result in report["splits"].items():
                summary = {k: result[k] for k in ("top1", "top5", "micro_map", "macro_map")}
                print(f"{split}: " + "  ".join(f"{k}={v:.4f}" if v is not None else f"{k}=n/a"
                                               for k, v in summary.items()))
        return report
    finally:
        distributed.teardown()


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parse_with_config(build_parser(), argv)
    try:
        run(args)
    except (ReleaseError, FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
