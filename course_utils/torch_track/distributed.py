"""Several processes, one model: DistributedDataParallel (DDP) for when a class outgrows one machine.

Launch any training script with ``torchrun --standalone --nproc_per_node=N script.py`` (or ``-m module``):
torchrun starts N copies and tells each one its ``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE`` through
environment variables. Each copy then

1. joins the process group (``setup``): backend "nccl" when it has a GPU (one GPU per process), "gloo" on CPU;
2. wraps its model in DDP (``wrap``): after every ``backward`` the gradients are averaged over all processes,
   so all copies take the same step and keep identical weights;
3. reads only its own share of the training data (``DistributedSampler``, see ``data.make_loaders(...,
   distributed=True)``): N processes see N different batches per step, N times the throughput;
4. prints (``print0``) and saves checkpoints only on rank 0, so the output reads like a single run.

Without torchrun (``WORLD_SIZE`` unset) ``setup`` returns a single-process ``DistInfo`` and nothing changes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn as nn

from .device import get_device


@dataclass
class DistInfo:
    """Where this process stands: rank (0..world_size-1), local_rank (index on this machine), device, backend."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    backend: str | None  # None when not distributed

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.backend is not None


def setup(device: str = "auto") -> DistInfo:
    """Join the torchrun process group if there is one; return this process's ``DistInfo``.

    device: as for ``get_device`` ("auto" picks CUDA if present). On CUDA each process takes GPU LOCAL_RANK
    and the "nccl" backend; on CPU (and MPS, which has no collective backend) "gloo" on the CPU.
    """
    world_size = int(os.environ.get("WORLD_SIZE", 1))
    rank, local_rank = int(os.environ.get("RANK", 0)), int(os.environ.get("LOCAL_RANK", 0))
    dev = get_device(device)
    if world_size == 1:
        return DistInfo(0, 1, 0, dev, None)
    if dev.type == "cuda":
        torch.cuda.set_device(local_rank)
        dev, backend = torch.device("cuda", local_rank), "nccl"
    else:
        dev, backend = torch.device("cpu"), "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, rank=rank, world_size=world_size)
    return DistInfo(rank, world_size, local_rank, dev, backend)


def cleanup() -> None:
    """Leave the process group (call once at the end of a torchrun script)."""
    if dist.is_available() and dist.is_initialized():
        # every rank reaches this point before any tears its group down: a rank that destroys gloo's
        # group while another still talks to it can abort at exit on a busy machine
        dist.barrier()
        dist.destroy_process_group()


def wrap(model: nn.Module, info: DistInfo) -> nn.Module:
    """Move ``model`` to ``info.device`` and, when distributed, wrap it in DistributedDataParallel."""
    model = model.to(info.device)
    if not info.distributed:
        return model
    device_ids = [info.device.index] if info.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)


def print0(*args, **kwargs) -> None:
    """``print`` on rank 0 only (everywhere when not distributed)."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0:
        print(*args, **kwargs, flush=True)


def gather(obj) -> list:
    """Collect one picklable object from every process: a list indexed by rank ([obj] when not distributed)."""
    if not (dist.is_available() and dist.is_initialized()):
        return [obj]
    out = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def weights_checksum(model: nn.Module) -> float:
    """Sum of every parameter as a float64 number: equal on all ranks when DDP kept the copies in sync."""
    with torch.no_grad():
        return float(sum(p.detach().double().sum().item() for p in model.parameters()))
