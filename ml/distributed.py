"""Process-group setup for ``torchrun`` and the few collectives the loops need.

``torchrun --nproc_per_node=N -m ml.train ...`` (add ``--nnodes``/``--rdzv-*``
for several machines) sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; without
them everything runs as a single process and the collectives are no-ops. The
backend is NCCL on CUDA and gloo on the CPU.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

__all__ = ["Context", "all_gather_cat", "all_reduce_sum", "barrier", "pick_device", "setup", "teardown"]

ERR_DEVICE = "unknown device {device!r}; use 'auto', 'cpu', 'cuda' or 'cuda:N'"
ERR_NO_CUDA = "--device {device} asked for CUDA, but torch.cuda.is_available() is False"


@dataclass(frozen=True)
class Context:
    """Where this process runs.

    Attributes:
        rank: global rank (0 writes files).
        world_size: number of processes.
        local_rank: rank on this machine (picks the GPU).
        device: the device for the model and batches.
    """

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def pick_device(device: str, local_rank: int) -> torch.device:
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        return torch.device("cpu")
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RuntimeError(ERR_NO_CUDA.format(device=device))
        return torch.device("cuda", local_rank) if device == "cuda" else torch.device(device)
    raise ValueError(ERR_DEVICE.format(device=device))


def setup(device: str = "auto") -> Context:
    """Join the process group when launched by ``torchrun``; pick the device.

    Args:
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.

    Returns:
        This process's context.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    chosen = pick_device(device, local_rank)
    if world_size > 1 and not dist.is_initialized():
        if chosen.type == "cuda":
            torch.cuda.set_device(chosen)
        dist.init_process_group(backend="nccl" if chosen.type == "cuda" else "gloo")
    return Context(rank=rank, world_size=world_size, local_rank=local_rank, device=chosen)


def teardown() -> None:
    """Leave the process group (if any)."""
    if dist.is_initialized():
        dist.destroy_process_group()


def barrier(ctx: Context) -> None:
    if ctx.distributed:
        dist.barrier()


def all_reduce_sum(tensor: torch.Tensor, ctx: Context) -> torch.Tensor:
    """Sum ``tensor`` over all processes (returned on its original device)."""
    if not ctx.distributed:
        return tensor
    work = tensor.to(ctx.device).clone()
    dist.all_reduce(work)
    return work.to(tensor.device)


def all_gather_cat(tensor: torch.Tensor, ctx: Context) -> torch.Tensor:
    """Concatenate each process's ``tensor`` along dim 0, in rank order.

    All processes must pass tensors of the same shape (the evaluation sampler
    pads the shards to equal length for this).
    """
    if not ctx.distributed:
        return tensor
    work = tensor.to(ctx.device).contiguous()
    parts = [torch.empty_like(work) for _ in range(ctx.world_size)]
    dist.all_gather(parts, work)
    return torch.cat(parts).to(tensor.device)
