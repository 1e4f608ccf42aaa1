"""Training and inference loops shared by the command-line tools.

Both loops work on one process or under ``torchrun``: batches carry a ``valid``
mask (undecodable clips are left out of the loss and of the outputs), the
model is called with the batch entries named by its ``modalities``, and
inference gathers every rank's outputs and drops the sampler's padding.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from ml.checkpoint import unwrap
from ml.distributed import Context, all_gather_cat, all_reduce_sum
from ml.losses import LossFn
from ml.transforms import normalize_video

__all__ = ["Outputs", "autocast", "infer", "model_inputs", "train_one_epoch"]

ERR_NO_VALID = "no clip of the epoch could be decoded; see the warnings above"


def autocast(device: torch.device, dtype: torch.dtype | None):
    """Autocast context for ``dtype`` (``None``: full precision)."""
    if dtype is None:
        return nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def model_inputs(model: nn.Module, batch: dict, device: torch.device) -> list[Tensor]:
    """The batch entries ``model`` takes, on ``device``; uint8 video normalised there."""
    inputs = []
    for name in unwrap(model).modalities:
        tensor = batch[name].to(device, non_blocking=True)
        inputs.append(normalize_video(tensor) if name == "video" else tensor)
    return inputs


def train_one_epoch(
    model: nn.Module,
    loader: DataLoader,
    *,
    loss_fn: LossFn,
    class_weights: Tensor | None,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    scaler: torch.amp.GradScaler,
    ctx: Context,
    amp_dtype: torch.dtype | None,
    progress: bool = True,
    description: str = "train",
    on_step: Callable[[int], None] | None = None,
) -> float:
    """One pass over ``loader`` with a scheduler step per batch.

    Args:
        model: the (possibly DDP-wrapped) model, in train mode.
        loader: batches from ``ml.data.make_loader``.
        loss_fn: one of ``ml.losses``.
        class_weights: ``(C,)`` on ``ctx.device`` or ``None``.
        optimizer, scheduler, scaler: the optimisation state.
        ctx: the process context.
        amp_dtype: autocast dtype or ``None``.
        progress: show a progress bar (rank 0 only).
        description: progress bar label.
        on_step: called with the step index after each optimiser step.

    Returns:
        The mean training loss over all valid clips of all ranks.

    Raises:
        RuntimeError: when no clip of the epoch could be decoded.
    """
    model.train()
    # loss * clips and clips, accumulated on the device: no host sync per step.
    totals = torch.zeros(2, dtype=torch.float64, device=ctx.device)
    bar = tqdm(loader, desc=description, disable=not (progress and ctx.is_main), leave=False,
               dynamic_ncols=True)
    for step, batch in enumerate(bar):
        valid = batch["valid"]
        count = int(valid.sum())  # a CPU tensor: no device sync
        targets = batch["targets"].to(ctx.device, non_blocking=True)
        with autocast(ctx.device, amp_dtype):
            logits = model(*model_inputs(model, batch, ctx.device))
        if count == len(valid):
            loss = loss_fn(logits, targets, class_weights)
        elif count:
            keep = valid.to(ctx.device)
            loss = loss_fn(logits[keep], targets[keep], class_weights)
        else:  # keep every rank's backward (and DDP's all-reduce) in step
            loss = logits.sum() * 0.0
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        totals[0] += loss.detach().double() * count
        totals[1] += count
        if bar.disable is False and step % 10 == 0 and count:
            bar.set_postfix(loss=f"{loss.item():.4f}")
        if on_step is not None:
            on_step(step)
    totals = all_reduce_sum(totals, ctx).cpu()
    if totals[1] == 0:
        raise RuntimeError(ERR_NO_VALID)
    return float(totals[0] / totals[1])


@dataclass(frozen=True)
class Outputs:
    """Model outputs over a split, in split order, undecodable clips removed.

    Attributes:
        indices: ``(N,)`` positions of the videos in the split.
        logits: ``(N, C)`` float32 raw scores.
        targets: ``(N, C)`` float32 labels.
    """

    indices: np.ndarray
    logits: np.ndarray
    targets: np.ndarray

    @property
    def probabilities(self) -> np.ndarray:
        """``(N, C)`` sigmoid of the logits."""
        return 1.0 / (1.0 + np.exp(-self.logits))


@torch.no_grad()
def infer(
    model: nn.Module,
    loader: DataLoader,
    *,
    ctx: Context,
    amp_dtype: torch.dtype | None,
    progress: bool = True,
    description: str = "eval",
    on_step: Callable[[int], None] | None = None,
) -> Outputs:
    """Run the model over a non-shuffled loader and gather all ranks' outputs.

    Args:
        model: the model (a DDP wrapper is looked through).
        loader: batches from ``ml.data.make_loader(..., shuffle=False)``.
        ctx: the process context.
        amp_dtype: autocast dtype or ``None``.
        progress: show a progress bar (rank 0 only).
        description: progress bar label.
        on_step: called with the batch index after each batch.

    Returns:
        The outputs of every valid clip, once each, sorted by index (same on all ranks).
    """
    # The bare module: a DDP wrapper's forward would broadcast buffers, a
    # collective that inference does not need.
    net = unwrap(model).eval()
    indices, logits, targets, valid = [], [], [], []
    bar = tqdm(loader, desc=description, disable=not (progress and ctx.is_main), leave=False,
               dynamic_ncols=True)
    for step, batch in enumerate(bar):
        with autocast(ctx.device, amp_dtype):
            out = net(*model_inputs(net, batch, ctx.device))
        logits.append(out.float().cpu())
        indices.append(batch["index"].long())
        targets.append(batch["targets"].float())
        valid.append(batch["valid"].bool())
        if on_step is not None:
            on_step(step)
    num_classes = loader.dataset.num_classes
    local = [
        torch.cat(indices) if indices else torch.zeros(0, dtype=torch.long),
        torch.cat(logits) if logits else torch.zeros(0, num_classes),
        torch.cat(targets) if targets else torch.zeros(0, num_classes),
        torch.cat(valid) if valid else torch.zeros(0, dtype=torch.bool),
    ]
    gathered = [all_gather_cat(t, ctx) for t in local]
    index, score, target, ok = (t.numpy() for t in gathered)
    # Drop undecodable clips, then the sampler's padding (repeats of early indices).
    index, score, target = index[ok], score[ok], target[ok]
    index, first = np.unique(index, return_index=True)
    return Outputs(indices=index, logits=score[first].astype(np.float32), targets=target[first])
