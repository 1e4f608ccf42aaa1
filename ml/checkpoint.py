"""Checkpoints that rebuild their model alone, and exact-resume state.

A checkpoint is a dict saved with ``torch.save`` (plain containers, tensors and
numbers only, so ``torch.load(..., weights_only=True)`` reads it):

* ``builder`` / ``builder_kwargs``: the ``ml.models.BUILDERS`` name and keyword
  arguments (``pretrained_2d`` cleared: the weights are in ``model``);
* ``model``: the state dict; ``vocabulary``: the ``vocabulary.csv`` rows;
* ``clip``: the ``ClipSpec`` fields (frames, crop, modalities ...) for evaluation
  and prediction; ``loss``; ``class_weights``: ``(C,)`` list or ``None``;
* ``optimizer``, ``scheduler``, ``scaler``, ``rng``: training state;
* ``epoch`` (epochs completed), ``history`` (metrics per epoch), ``best``,
  ``config`` (the resolved command-line configuration).

Files are written to a temporary name and renamed, so an interrupted write
never leaves a truncated checkpoint.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ml.models import build_model
from ml.release import Vocabulary

__all__ = [
    "FORMAT",
    "capture_rng",
    "checkpoint_vocabulary",
    "load_checkpoint",
    "load_model",
    "restore_rng",
    "save_checkpoint",
    "unwrap",
]

FORMAT = 1

ERR_MISSING = "checkpoint {path} does not exist"
ERR_FORMAT = "{path} is not an ml checkpoint (no 'builder'/'model' entries)"


def unwrap(model: nn.Module) -> nn.Module:
    """The module inside a ``DistributedDataParallel`` wrapper (or the model itself)."""
    return model.module if hasattr(model, "module") else model


def save_checkpoint(path: Path | str, payload: dict[str, Any]) -> Path:
    """Write ``payload`` atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"format": FORMAT, **payload}, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(path: Path | str, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint.

    Raises:
        FileNotFoundError: when ``path`` does not exist.
        ValueError: when it is not a checkpoint of this package.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(ERR_MISSING.format(path=path))
    checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(checkpoint, dict) or "builder" not in checkpoint or "model" not in checkpoint:
        raise ValueError(ERR_FORMAT.format(path=path))
    return checkpoint


def load_model(
    path: Path | str, map_location: str | torch.device = "cpu"
) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the model of a checkpoint and load its weights.

    Returns:
        ``(model in eval mode, checkpoint dict)``.
    """
    checkpoint = load_checkpoint(path, map_location)
    model = build_model(checkpoint["builder"], **checkpoint["builder_kwargs"])
    model.load_state_dict(checkpoint["model"])
    return model.eval(), checkpoint


def checkpoint_vocabulary(checkpoint: dict[str, Any]) -> Vocabulary:
    """The vocabulary stored in a checkpoint."""
    return Vocabulary.from_records(checkpoint["vocabulary"])


def capture_rng() -> dict[str, Any]:
    """Global random states (torch, CUDA, numpy, random) as checkpoint-safe values."""
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]],
        "python": [random.getstate()[0], list(random.getstate()[1]), random.getstate()[2]],
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Inverse of ``capture_rng``."""
    torch.set_rng_state(state["torch"].cpu())
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
