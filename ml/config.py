"""Command-line configuration: argparse, optionally seeded from a YAML file.

Used by the command-line tools only; library functions take explicit
arguments. ``--config FILE.yaml`` holds ``option: value`` pairs named like the
long options (``batch-size`` or ``batch_size``); flags given on the command
line override the file. The resolved configuration is saved beside every
checkpoint (``config.json``).
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

__all__ = ["jsonable", "parse_with_config", "write_json"]

ERR_CONFIG_KEYS = "{file}: unknown option(s) {keys}; valid options are the long flags of --help"
ERR_CONFIG_TYPE = "{file} must hold a mapping of option names to values"


def parse_with_config(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse ``argv`` with defaults taken from ``--config FILE.yaml`` when given.

    Raises:
        SystemExit: (through ``parser.error``) on an unreadable file or unknown keys.
    """
    parser.add_argument("--config", type=Path, help="YAML file of option: value defaults")
    first, _ = parser.parse_known_args(argv)
    if first.config is not None:
        try:
            values = yaml.safe_load(first.config.read_text()) or {}
        except (OSError, yaml.YAMLError) as error:
            parser.error(f"cannot read --config {first.config}: {error}")
        if not isinstance(values, dict):
            parser.error(ERR_CONFIG_TYPE.format(file=first.config))
        known = {action.dest for action in parser._actions}
        defaults = {str(k).replace("-", "_"): v for k, v in values.items()}
        unknown = sorted(k for k in defaults if k not in known)
        if unknown:
            parser.error(ERR_CONFIG_KEYS.format(file=first.config, keys=unknown))
        parser.set_defaults(**defaults)
    return parser.parse_args(argv)


def jsonable(value: Any) -> Any:
    """Paths to strings, tuples to lists, NaN/inf to ``None`` (strict JSON), recursively."""
    if isinstance(value, argparse.Namespace):
        value = vars(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: Path, value: Any) -> Path:
    """Write strict JSON (``NaN`` becomes ``null``) atomically."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(jsonable(value), indent=2, allow_nan=False) + "\n")
    tmp.replace(path)
    return path
