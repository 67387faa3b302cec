"""The training loop: one readable ``fit`` with validation every epoch, history, early stopping, checkpoints.

>>> from course_utils.torch_track.data import make_loaders
>>> from course_utils.torch_track.models import lenet
>>> data = make_loaders("digits", batch_size=64, image_size=28)
>>> model = lenet(num_classes=data.num_classes, in_channels=data.in_channels)
>>> history = fit(model, data.train, data.val, epochs=2, progress=False, verbose=False)
>>> history["epoch"], sorted(history)
([1.0, 2.0], ['epoch', 'train_acc', 'train_loss', 'val_acc', 'val_loss'])
>>> history["val_acc"][-1] > 0.5                         # chance is 0.1
True

``history`` is the course's shared format (``course_utils.history``): a dict with the keys "epoch",
"train_loss", "train_acc", "val_loss" and "val_acc", each a list of floats with one entry per finished epoch.
``on_epoch_end(history)`` is called after every epoch (``TrainingDashboard().update`` draws live curves from it);
``on_batch_end(model, loss)`` after every optimizer step (the batch's gradients are still in ``.grad``).

Arrays or tensors already in memory: wrap them with ``data.tensor_loader(X, y, batch_size, shuffle=True)``.

This is the course's one PyTorch training loop: ``course_utils.registration.train`` (lesson 1),
the benchmarks and the command line (``python -m course_utils.train``) all call it.

What happens in one epoch (``train_one_epoch``): for every batch, move it to the device, compute the loss
(under bf16 autocast on CUDA), backpropagate, take an optimizer step. Then ``evaluate`` measures the loss and
accuracy on the validation set with gradients off. Every epoch starts from its own seed (``seed + epoch``),
so a run resumed from a checkpoint continues exactly as the uninterrupted run would have.

Early stopping: ``patience=k`` stops after k epochs without a lower validation loss and (``restore_best``)
puts back the weights of the best epoch. Checkpoints: ``checkpoint="run.pt"`` saves model, optimizer, history
and early-stopping state after every epoch; ``resume=True`` continues from it. Fine-tuning: ``fine_tune``.
Under ``torchrun`` (see ``distributed``) losses and accuracies are summed over all processes, only rank 0
shows progress bars, prints and writes checkpoints.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn as nn
from tqdm.auto import tqdm

from course_utils._validate import int_param, one_of
from course_utils.history import HISTORY_KEYS, append_epoch, new_history

from .device import autocast, get_device, seed_everything, to_device
from .models import Classifier, replace_head

__all__ = ["HISTORY_KEYS", "evaluate", "fine_tune", "fit", "load_checkpoint", "new_history", "save_checkpoint",
           "train_one_epoch", "unwrap"]


def unwrap(model: nn.Module) -> nn.Module:
    """The plain model inside a DistributedDataParallel and/or torch.compile wrapper."""
    model = getattr(model, "_orig_mod", model)  # torch.compile
    return getattr(model, "module", model)  # DistributedDataParallel


def _is_main() -> bool:
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def _sum_over_processes(*values: float) -> list[float]:
    """Sum numbers over all torchrun processes (identity when not distributed)."""
    if not (dist.is_available() and dist.is_initialized()):
        return list(values)
    device = "cuda" if dist.get_backend() == "nccl" else "cpu"
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def _channels_last(model: nn.Module) -> bool:
    p = next(unwrap(model).parameters(), None)
    return p is not None and p.dim() == 4 and p.is_contiguous(memory_format=torch.channels_last) and \
        not p.is_contiguous()


def _zeros(k: int, device: torch.device) -> torch.Tensor:
    return torch.zeros(k, device=device, dtype=torch.float32 if device.type == "mps" else torch.float64)


@torch.no_grad()
def evaluate(model: nn.Module, loader, device=None, loss_fn=None, amp: bool | None = None) -> tuple[float, float]:
    """Mean loss and accuracy of ``model`` over every batch of ``loader`` (gradients off, eval mode).

    Returns (loss, accuracy) as floats; accuracy in [0, 1]. Under torchrun the sums cover all processes.
    """
    device = torch.device(device) if device is not None else next(model.parameters()).device
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    cl = _channels_last(model)
    model.eval()
    sums, n = _zeros(2, device), 0  # [loss sum, correct]: kept on the device, read once at the end
    for x, y in loader:
        x, y = to_device(x, device, cl), y.to(device, non_blocking=True)
        with autocast(device, amp):
            logits = model(x)
        sums[0] += loss_fn(logits.float(), y).detach() * len(y)
        sums[1] += (logits.argmax(1) == y).sum()
        n += len(y)
    loss_sum, correct, n = _sum_over_processes(*sums.tolist(), n)
    if n == 0:
        raise ValueError("evaluate: the loader yielded no samples")
    return loss_sum / n, correct / n


def train_one_epoch(model: nn.Module, loader, optimizer, device, loss_fn=None, amp: bool | None = None,
                    progress: bool = True, desc: str = "train", scheduler=None,
                    on_batch_end=None) -> tuple[float, float, float]:
    """One pass over ``loader`` with an optimizer step (and a ``scheduler`` step, if any) per batch.

    ``on_batch_end(model, loss)`` (optional) is called after every step with the batch's mean loss as a float;
    the batch's gradients are still in the parameters' ``.grad`` then (e.g. to record gradient norms).

    Returns (mean training loss, training accuracy, images per second), measured on the fly while the
    weights change (so slightly worse than an evaluation after the epoch).
    """
    device = torch.device(device)
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    cl = _channels_last(model)
    model.train()
    sums, n, start = _zeros(2, device), 0, time.perf_counter()  # [loss sum, correct] stay on the device:
    bar = tqdm(loader, desc=desc, leave=False, disable=not (progress and _is_main()))  # no GPU wait per batch
    for i, (x, y) in enumerate(bar):
        x, y = to_device(x, device, cl), y.to(device, non_blocking=True)
        with autocast(device, amp):
            logits = model(x)
            loss = loss_fn(logits.float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        if on_batch_end is not None:
            on_batch_end(model, loss.item())
        sums[0] += loss.detach() * len(y)
        sums[1] += (logits.argmax(1) == y).sum()
        n += len(y)
        if not bar.disable and i % 10 == 0:
            loss_sum, correct = sums.tolist()
            bar.set_postfix(loss=f"{loss_sum / n:.3f}", acc=f"{correct / n:.3f}")
    loss_sum, correct = sums.tolist()  # waits for the device to finish
    seconds = time.perf_counter() - start
    loss_sum, correct, n = _sum_over_processes(loss_sum, correct, n)
    return loss_sum / n, correct / n, n / max(seconds, 1e-9)


def save_checkpoint(path, model, optimizer, history, state=None, scheduler=None) -> None:
    """Write model, optimizer (and scheduler) state, history and extra ``state`` (a dict) to ``path``.

    Only rank 0 writes under torchrun; the others wait for it."""
    if _is_main():
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        torch.save({"model": unwrap(model).state_dict(), "optimizer": optimizer.state_dict(),
                    "history": history, "state": state or {},
                    "scheduler": scheduler.state_dict() if scheduler is not None else None}, tmp)
        tmp.replace(path)  # never leave a half-written checkpoint behind
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def load_checkpoint(path, model, optimizer=None, scheduler=None) -> dict:
    """Load a checkpoint written by ``save_checkpoint`` into ``model`` (optimizer, scheduler); return its dict."""
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    unwrap(model).load_state_dict(ckpt["model"])
    if optimizer is not None:
        optimizer.load_state_dict(ckpt["optimizer"])
    if scheduler is not None and ckpt.get("scheduler") is not None:
        scheduler.load_state_dict(ckpt["scheduler"])
    return ckpt


def fit(model: nn.Module, train_loader, val_loader, epochs: int = 10, optimizer=None, lr: float = 1e-3,
        schedule: str | None = None, device=None, loss_fn=None, seed: int = 0, on_epoch_end=None,
        patience: int | None = None, restore_best: bool = True, checkpoint: str | Path | None = None,
        resume: bool = False, amp: bool | None = None, progress: bool = True,
        verbose: bool = True, on_batch_end=None) -> dict[str, list[float]]:
    """Train ``model`` for up to ``epochs`` epochs, validating after each; return the history.

    optimizer: any torch optimizer over the model's parameters (default: Adam with ``lr`` over the trainable
    ones); schedule: None (constant learning rate) or "onecycle" (warm up to ``lr``, then anneal to ~0 over
    all epochs, stepped every batch); device: default ``get_device()``; amp: bf16 autocast (default: on for CUDA only);
    on_epoch_end: ``callable(history)`` after every epoch; on_batch_end: ``callable(model, loss)`` after every
    optimizer step (see ``train_one_epoch``); patience: early-stopping patience in epochs
    (None = never stop early); restore_best: with early stopping, end with the best epoch's weights;
    checkpoint / resume: save after every epoch / continue from that file if it exists.
    Batches: x (B, C, H, W), y (B,) int64 labels. Raises ValueError for epochs or patience < 1 or an unknown
    schedule; TypeError for a non-integer epochs or patience.
    """
    int_param("fit", "epochs", epochs, 1)
    if patience is not None:
        int_param("fit", "patience", patience, 1)
    one_of("fit", "schedule", schedule, (None, "onecycle"))
    device = torch.device(device) if device is not None else get_device()
    if not isinstance(model, nn.parallel.DistributedDataParallel):
        model.to(device)
    if optimizer is None:
        optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    scheduler = None
    if schedule == "onecycle":
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=[g["lr"] for g in optimizer.param_groups], epochs=epochs,
            steps_per_epoch=len(train_loader))
    history, state = new_history(), {"best_val_loss": float("inf"), "best_weights": None, "bad_epochs": 0}
    if resume and checkpoint is not None and Path(checkpoint).exists():
        ckpt = load_checkpoint(checkpoint, model, optimizer, scheduler)
        history, state = ckpt["history"], ckpt["state"]
        if verbose and _is_main():
            print(f"resumed from {checkpoint} after epoch {len(history['epoch'])}")

    for epoch in range(len(history["epoch"]), epochs):
        seed_everything(seed + epoch)  # this epoch's shuffling, augmentation and dropout depend on it alone
        if hasattr(train_loader.sampler, "set_epoch"):
            train_loader.sampler.set_epoch(epoch)  # DistributedSampler: a new shuffle every epoch
        train_loss, train_acc, speed = train_one_epoch(model, train_loader, optimizer, device, loss_fn, amp,
                                                       progress, f"epoch {epoch + 1}/{epochs}", scheduler,
                                                       on_batch_end)
        val_loss, val_acc = evaluate(model, val_loader, device, loss_fn, amp)
        append_epoch(history, epoch=float(epoch + 1), train_loss=float(train_loss), train_acc=float(train_acc),
                     val_loss=float(val_loss), val_acc=float(val_acc))
        if verbose and _is_main():
            print(f"epoch {epoch + 1:3d}/{epochs}  train loss {train_loss:.4f} acc {train_acc:.4f}  "
                  f"val loss {val_loss:.4f} acc {val_acc:.4f}  ({speed:,.0f} images/s)")

        if val_loss < state["best_val_loss"]:
            state.update(best_val_loss=val_loss, bad_epochs=0,
                         best_weights=copy.deepcopy(unwrap(model).state_dict()) if patience else None)
        else:
            state["bad_epochs"] += 1
        stop = patience is not None and state["bad_epochs"] >= patience
        if checkpoint is not None:
            save_checkpoint(checkpoint, model, optimizer, history, state, scheduler)
        if on_epoch_end is not None:
            on_epoch_end(history)
        if stop:
            if verbose and _is_main():
                print(f"early stopping: no lower validation loss for {patience} epochs")
            break
    if patience is not None and restore_best and state["best_weights"] is not None:
        unwrap(model).load_state_dict(state["best_weights"])
    return history


def fine_tune(model: Classifier, train_loader, val_loader, num_classes: int, epochs: int = 5,
              freeze_body: bool = True, lr: float = 1e-3, **fit_kwargs) -> dict[str, list[float]]:
    """Fine-tune a pre-trained model on a new task: replace its head, then train (only the head by default).

    ``model`` holds weights learned on another data set (e.g. ``load_checkpoint("shapes.pt", model)``) for
    inputs of the same shape. Returns the history of ``fit``.
    """
    replace_head(model, num_classes, freeze_body=freeze_body)
    params = [p for p in model.parameters() if p.requires_grad]
    return fit(model, train_loader, val_loader, epochs=epochs, optimizer=torch.optim.Adam(params, lr=lr),
               **fit_kwargs)
