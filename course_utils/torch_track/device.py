"""Where the computation runs: pick a device, seed everything, and set the speed switches.

Nothing in the course calls ``.cuda()``: every tensor and model goes ``.to(device)`` with the device this
module picks, so the same notebook runs on a laptop CPU, an Apple GPU (MPS) or an NVIDIA GPU (CUDA).

- ``get_device(prefer="auto")``: CUDA if available, else Apple MPS, else CPU.
- ``seed_everything(seed)``: seeds Python, NumPy and torch (CPU and every GPU) in one call.
- ``autocast(device, enabled=None)``: bf16 mixed precision on CUDA (on by default there), a no-op elsewhere.
- ``prepare_model(model, device, channels_last=None, compile=False)``: move a model to its device,
  in channels_last memory format on CUDA (faster convolutions on tensor cores), optionally ``torch.compile``.
- ``describe_device(device)``: a one-line human description ("cuda:0 (NVIDIA H100 80GB HBM3)").
"""

from __future__ import annotations

import contextlib
import os
import random

import numpy as np
import torch

from course_utils._validate import one_of

DEVICE_CHOICES = ("auto", "cuda", "mps", "cpu")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def get_device(prefer: str = "auto") -> torch.device:
    """Return the best available ``torch.device``: CUDA, then Apple MPS, then CPU.

    prefer: "auto" (the order above), or "cuda" / "mps" / "cpu" to ask for one; asking for a device that is
    not available raises ValueError saying which ones are. Under ``torchrun`` each process on a CUDA machine
    gets its own GPU (``cuda:LOCAL_RANK``).
    """
    one_of("get_device", "prefer", prefer, DEVICE_CHOICES)
    available = {"cuda": torch.cuda.is_available(), "mps": _mps_available(), "cpu": True}
    if prefer == "auto":
        prefer = next(name for name in ("cuda", "mps", "cpu") if available[name])
    elif not available[prefer]:
        have = [name for name, ok in available.items() if ok]
        raise ValueError(f"get_device: prefer must be a device available on this machine, one of {have}, "
                         f"got {prefer!r}")
    if prefer == "cuda":
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return torch.device(prefer)


def describe_device(device: torch.device | str) -> str:
    """One line naming the device, e.g. "cuda:0 (NVIDIA H100 80GB HBM3)" or "cpu (8 threads)"."""
    device = torch.device(device)
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads)"
    return str(device)


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python's ``random``, NumPy and torch (CPU and all GPUs) so that a run can be repeated.

    deterministic=True also asks torch for deterministic kernels (slower on GPUs, sometimes unsupported).
    """
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool):
        raise TypeError(f"seed_everything: seed must be an int, got {type(seed).__name__} {seed!r}")
    random.seed(int(seed))
    np.random.seed(int(seed) % 2**32)
    torch.manual_seed(int(seed))  # also seeds every CUDA device
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False


def autocast(device: torch.device | str, enabled: bool | None = None, dtype: torch.dtype = torch.bfloat16):
    """Mixed-precision context: bf16 autocast on CUDA (default on), nothing on CPU/MPS (default off).

    bf16 keeps float32's exponent range, so unlike fp16 it needs no loss scaling.
    Use as ``with autocast(device): loss = loss_fn(model(x), y)``.
    """
    device = torch.device(device)
    if enabled is None:
        enabled = device.type == "cuda"
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def prepare_model(model: torch.nn.Module, device: torch.device | str, channels_last: bool | None = None,
                  compile: bool = False) -> torch.nn.Module:
    """Move ``model`` to ``device``; channels_last memory format on CUDA by default; optional torch.compile.

    Returns the (possibly compiled) model. Inputs should then be moved with ``to_device(x, device, ...)``.
    """
    device = torch.device(device)
    if channels_last is None:
        channels_last = device.type == "cuda"
    model = model.to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    if compile:
        model = torch.compile(model)
    return model


def to_device(x: torch.Tensor, device: torch.device | str, channels_last: bool = False) -> torch.Tensor:
    """Move a batch of images (N, C, H, W) to ``device`` (non-blocking), in channels_last format if asked."""
    x = x.to(device, non_blocking=True)
    if channels_last and x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    return x
