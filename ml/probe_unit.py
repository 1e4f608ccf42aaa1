"""Which actions one unit drives (Section 7.2.2): ``python -m ml.probe_unit``.

Example::

    python -m ml.probe_unit --checkpoint runs/i3d/best.pt --unit 684 --top 5

Sets the pooled feature ``--unit`` (0-based, as in ``units.csv`` of
``ml.netdissect``) to 1 and every other feature and the classifier's bias to 0,
and prints the ``--top`` actions by the resulting logit (``rank,action,logit``);
``--json FILE`` also writes them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from ml.cli import cli_parser
from ml.config import parse_with_config, write_json
from ml.interpret.loading import load_interpretable
from ml.interpret.probe import probe_unit

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    parser = cli_parser("python -m ml.probe_unit", __doc__.split("\n")[0])
    parser.add_argument("--checkpoint", type=Path, required=True, help="ml checkpoint or torchvision ResNet file")
    parser.add_argument("--unit", type=int, required=True, help="feature index (0-based)")
    parser.add_argument("--top", type=int, default=5, help="actions to list")
    parser.add_argument("--json", type=Path, help="also write the list as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    args = parse_with_config(build_parser(), argv)
    try:
        loaded = load_interpretable(args.checkpoint)
        ranked = probe_unit(loaded.model.classifier, unit=args.unit, top=args.top)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    rows = [{"rank": rank, "action": loaded.class_names[c], "index": c, "logit": logit}
            for rank, (c, logit) in enumerate(ranked, start=1)]
    print("rank,action,logit")
    for row in rows:
        print(f"{row['rank']},{row['action']},{row['logit']:.6g}")
    if args.json is not None:
        write_json(args.json, {"checkpoint": str(args.checkpoint), "unit": args.unit, "actions": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
