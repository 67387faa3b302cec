"""The PyTorch track: train real CNNs on real data sets, on a laptop CPU, a GPU, or several GPUs.

Modules (one idea each):

- ``device``:      ``get_device()`` (CUDA, then Apple MPS, then CPU), ``seed_everything(seed)``, bf16 autocast,
                   channels_last and ``torch.compile`` switches.
- ``data``:        ``make_loaders(name, ...)`` for digits / shapes / mnist / fashion / cifar10 with offline
                   fallback, and the lecture's training tips as switches (normalise, augment, balanced, shuffle).
- ``download``:    the checksum-verifying downloader; ``formats``: IDX and CIFAR-10 file readers.
- ``models``:      ``build_model(name, ...)``: lenet, vgg, resnet20, resnet18; ``init_weights`` (kaiming vs badly
                   scaled); ``replace_head`` for fine-tuning.
- ``train``:       ``fit(...)`` (history, ``on_epoch_end``, early stopping, checkpoints), ``evaluate``,
                   ``fine_tune``.
- ``adversarial``: ``fgsm(model, x, y, eps, targeted=False)``: the fast gradient sign method (notebook 09).
- ``distributed``: DistributedDataParallel under ``torchrun`` (gloo on CPU, nccl on CUDA).
- ``bench``:       ``python -m course_tools.bench.torch_track`` (CPU: LeNet on digits; ``--gpu``: ResNet speed).

The command line: ``python -m course_utils.train --dataset digits --model lenet --epochs 5``.
"""

from course_utils.history import HISTORY_KEYS, append_epoch, new_history

from .adversarial import fgsm
from .data import DATASETS, Loaders, load_arrays, make_loaders
from .device import autocast, describe_device, get_device, prepare_model, seed_everything
from .models import MODELS, build_model, init_weights, replace_head
from .train import evaluate, fine_tune, fit, load_checkpoint, save_checkpoint

__all__ = [
    "DATASETS", "HISTORY_KEYS", "MODELS", "Loaders", "append_epoch", "autocast", "build_model",
    "describe_device", "evaluate", "fgsm", "fine_tune", "fit", "get_device", "init_weights",
    "load_arrays", "load_checkpoint", "make_loaders", "new_history", "prepare_model", "replace_head",
    "save_checkpoint", "seed_everything",
]
