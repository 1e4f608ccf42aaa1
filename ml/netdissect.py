"""Network Dissection with action concepts: ``python -m ml.netdissect``.

Examples::

    # block 4 of a trained model on Broden merged with the Action Regions export
    # (Table 5: Broden alone, the actions alone and both, in one run; Fig. 11)
    python -m ml.netdissect --checkpoint runs/i3d/best.pt --layer layer4 \\
        --broden data/broden1_224 exports/action_regions --names broden action_regions --out dissect/i3d

    # every block of a 2D ResNet-50 (Fig. 7)
    python -m ml.netdissect --checkpoint resnet50_mit.pth --layer layer1 layer2 layer3 layer4 \\
        --broden data/broden1_224 --out dissect/resnet

Several ``--broden`` directories are merged (label numbers of the later ones
renumbered after the earlier ones) and dissected as one view per directory
plus one for all of them, the last and main view. Writes ``units.csv``,
``summary.json``, ``report.html`` with each unit's top images and mask, and the
Table 5 / Fig. 7 / Fig. 9 / Fig. 11 charts and JSON (see ``ml.interpret.report``).
Video models see every image as a clip of identical frames. See
``ml.interpret.netdissect`` for the method and ``ml.interpret.quantile`` for the
threshold's error bound.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from ml import distributed
from ml.cli import cli_parser, default_workers
from ml.config import parse_with_config
from ml.interpret.activations import resolve_layer
from ml.interpret.broden import BrodenError, load_broden
from ml.interpret.loading import load_interpretable
from ml.interpret.netdissect import DEFAULT_IOU_THRESHOLD, DEFAULT_QUANTILE, dissect
from ml.interpret.probe import top_actions_per_unit
from ml.interpret.report import write_report

__all__ = ["main"]

log = logging.getLogger("ml.netdissect")

ERR_NAMES = "--names needs one name per --broden directory ({count}); got {names}"


def build_parser() -> argparse.ArgumentParser:
    parser = cli_parser("python -m ml.netdissect", __doc__.split("\n")[0])
    parser.add_argument("--checkpoint", type=Path, required=True, help="ml checkpoint or torchvision ResNet file")
    parser.add_argument("--layer", nargs="+", default=["layer4"], help="layers to dissect (e.g. layer1 .. layer4)")
    parser.add_argument("--broden", type=Path, nargs="+", required=True, help="Broden-format directories")
    parser.add_argument("--names", nargs="+", help="a name per --broden directory (default: directory names)")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--categories", nargs="+", help="categories to use (default: all)")
    parser.add_argument("--split", nargs="+", help="index.csv splits to use (default: all)")
    parser.add_argument("--quantile", type=float, default=DEFAULT_QUANTILE, help="top quantile of the thresholds")
    parser.add_argument("--iou-threshold", type=float, default=DEFAULT_IOU_THRESHOLD)
    parser.add_argument("--image-size", type=int, help="side of the images fed (default: index.csv's ih, iw)")
    parser.add_argument("--frames", type=int, help="frames per clip for video models (default: the checkpoint's)")
    parser.add_argument("--max-images", type=int, help="use only the first N images (smoke runs)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--device", default="auto")
    parser.add_argument("--bins", type=int, default=1024, help="histogram bins per unit (threshold precision)")
    parser.add_argument("--top-images", type=int, default=4, help="top images per unit in the report")
    parser.add_argument("--no-progress", action="store_true")
    return parser


def run(args: argparse.Namespace) -> dict[str, Path]:
    """Dissect as configured and write the outputs; returns them."""
    if args.names is not None and len(args.names) != len(args.broden):
        raise ValueError(ERR_NAMES.format(count=len(args.broden), names=args.names))
    device = distributed.pick_device(args.device, 0)
    loaded = load_interpretable(args.checkpoint, map_location=device)
    dataset = load_broden(args.broden, names=args.names, categories=args.categories, splits=args.split)
    if args.max_images is not None:
        dataset = dataset.select(dataset.images[: args.max_images])
    size = (args.image_size, args.image_size) if args.image_size else None
    log.info("dissecting %s of %s on %d images (%s)", ", ".join(args.layer), args.checkpoint, len(dataset),
             " + ".join(dataset.sources))
    args.out.mkdir(parents=True, exist_ok=True)
    result = dissect(loaded.model, dataset, layers=args.layer, num_frames=args.frames or loaded.num_frames,
                     quantile=args.quantile, iou_threshold=args.iou_threshold, image_size=size,
                     batch_size=args.batch_size, workers=args.workers, device=device, bins=args.bins,
                     top_images=args.top_images, thumbnails=args.out, progress=not args.no_progress)
    # Units of the block feeding the classifier: list the actions each one drives (Section 7.2.2).
    unit_actions = {}
    width = loaded.model.classifier.in_features
    for layer in result.layers:
        units = result.result(layer).units
        if resolve_layer(loaded.model, layer).endswith("layer4") and units <= width:
            ranked = top_actions_per_unit(loaded.model.classifier, units=units, top=3)
            unit_actions[layer] = [[loaded.class_names[c] for c in row] for row in ranked]
    return write_report(result, args.out, model_name=args.checkpoint.name, unit_actions=unit_actions)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parse_with_config(build_parser(), argv)
    try:
        files = run(args)
    except (BrodenError, FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    log.info("wrote %s", ", ".join(sorted(p.name for p in files.values())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
