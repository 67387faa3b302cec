"""Train a CNN from the command line, on one CPU/GPU or on several processes with torchrun.

    python -m course_utils.train --dataset digits --model lenet --epochs 5
    python -m course_utils.train --dataset cifar10 --model resnet20 --epochs 30 --augment flip,crop
    torchrun --standalone --nproc_per_node=2 -m course_utils.train --dataset digits --model lenet --epochs 5

Prints the device, the data (and whether it fell back to bundled data because it is offline), one line per
epoch, and at the end ``validation accuracy: 0.9xxx``. Under torchrun only rank 0 prints; it also reports
which ranks took part and whether their weights ended identical (they must, with DistributedDataParallel).
"""

from __future__ import annotations

import argparse
import sys

import torch

from course_utils.counting import count_params
from course_utils.torch_track import distributed as ddp
from course_utils.torch_track.data import AUGMENTATIONS, DATASETS, IMAGE_SIZE, make_loaders
from course_utils.torch_track.device import DEVICE_CHOICES, describe_device, prepare_model, seed_everything
from course_utils.torch_track.models import (
    INIT_SCHEMES,
    INPUT_SIZE,
    MIN_INPUT_SIZE,
    MODELS,
    build_model,
)
from course_utils.torch_track.train import evaluate, fit


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m course_utils.train", description=__doc__.split("\n")[0])
    p.add_argument("--dataset", choices=DATASETS, default="digits")
    p.add_argument("--model", choices=MODELS, default="lenet")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=64, help="per process under torchrun")
    p.add_argument("--lr", type=float, default=3e-3, help="(peak) learning rate of Adam")
    p.add_argument("--schedule", choices=("onecycle", "none"), default="onecycle")
    p.add_argument("--image-size", type=int, default=None,
                   help="resize images to this size (default: the data set's, or the model's if too small)")
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--limit", type=int, default=None, help="use at most this many training images")
    tips = p.add_argument_group("training tips (lecture slide 50)")
    tips.add_argument("--no-normalize", action="store_true", help="do not standardise the inputs")
    tips.add_argument("--augment", default="", help=f"comma-separated subset of {','.join(AUGMENTATIONS)}")
    tips.add_argument("--balanced", action="store_true", help="class-balanced sampling")
    tips.add_argument("--no-shuffle", action="store_true", help="do not shuffle the training set")
    tips.add_argument("--sort-by-label", action="store_true", help="order the training set by label")
    tips.add_argument("--init", choices=INIT_SCHEMES, default="kaiming")
    p.add_argument("--patience", type=int, default=None, help="early-stopping patience in epochs")
    p.add_argument("--checkpoint", default=None, help="save a checkpoint here after every epoch")
    p.add_argument("--resume", action="store_true", help="continue from --checkpoint if it exists")
    p.add_argument("--device", choices=DEVICE_CHOICES, default="auto")
    p.add_argument("--no-amp", action="store_true", help="no bf16 autocast on CUDA")
    p.add_argument("--compile", action="store_true", help="torch.compile the model")
    p.add_argument("--data-dir", default=None, help="cache folder for downloaded data sets")
    p.add_argument("--no-download", action="store_true", help="never download; fall back to bundled data")
    p.add_argument("--threads", type=int, default=None, help="CPU threads per process")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--test", action="store_true", help="also report the test accuracy")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = p.parse_args(argv)
    if args.epochs < 1:
        p.error(f"--epochs must be >= 1, got {args.epochs}")
    return args


def main(argv=None) -> float:
    """Run the command line; return the final validation accuracy."""
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    info = ddp.setup(args.device)
    try:
        seed_everything(args.seed)
        size = args.image_size
        if size is None and IMAGE_SIZE[args.dataset] < MIN_INPUT_SIZE[args.model]:
            size = INPUT_SIZE[args.model]  # e.g. 8x8 digits -> 28x28 for LeNet
        data = make_loaders(args.dataset, batch_size=args.batch_size, val_fraction=args.val_fraction,
                            image_size=size, normalize=not args.no_normalize, augment=args.augment,
                            balanced=args.balanced, shuffle=not args.no_shuffle, sort_by_label=args.sort_by_label,
                            limit=args.limit, root=args.data_dir, download=not args.no_download, seed=args.seed,
                            distributed=info.distributed, verbose=info.is_main)
        model = build_model(args.model, data.num_classes, data.in_channels, init=args.init)
        ddp.print0(f"device: {describe_device(info.device)}")
        ddp.print0(f"data: {data.source}, {len(data.train.dataset)} train / {len(data.val.dataset)} val / "
                   f"{len(data.test.dataset)} test images of {data.in_channels}x{data.image_size}x{data.image_size}, "
                   f"{data.num_classes} classes")
        ddp.print0(f"model: {args.model}, {count_params(model):,} parameters, init {args.init}")
        model = prepare_model(model, info.device, compile=args.compile)
        model = ddp.wrap(model, info)
        history = fit(model, data.train, data.val, epochs=args.epochs, lr=args.lr,
                      schedule=None if args.schedule == "none" else args.schedule, device=info.device,
                      seed=args.seed, patience=args.patience, checkpoint=args.checkpoint, resume=args.resume,
                      amp=False if args.no_amp else None, progress=not args.no_progress)
        val_loss, val_acc = evaluate(model, data.val, info.device)
        if info.distributed:
            ranks = ddp.gather((info.rank, len(data.train.sampler), ddp.weights_checksum(model)))
            same = len({round(c, 6) for _, _, c in ranks}) == 1
            ddp.print0(f"distributed: {info.world_size} processes ({info.backend}); ranks that answered: "
                       f"{[r for r, _, _ in ranks]}; training images per rank: {[n for _, n, _ in ranks]}; "
                       f"weights identical on all ranks: {same}")
        if args.test:
            ddp.print0(f"test accuracy: {evaluate(model, data.test, info.device)[1]:.4f}")
        ddp.print0(f"epochs run: {len(history['epoch'])}")
        ddp.print0(f"validation accuracy: {val_acc:.4f}")
        return val_acc
    finally:
        ddp.cleanup()


if __name__ == "__main__":
    main(sys.argv[1:])
