"""Benchmarks of the PyTorch track (printed figures, never timed tests).

CPU (default): LeNet-5 on the bundled digits (upsampled to 28x28), trained with the course's own ``fit``
for a fixed 8-epoch schedule; prints the test accuracy, the wall time and the process's CPU time against the
targets (>= 97 % test accuracy, <= 10 s of training on a 2-core machine). On a shared machine the wall time
depends on the load; the CPU time (with one thread) is what an idle core would need.

    python -m course_tools.bench.torch_track [--threads 1] [--seeds 0,1,2]

GPU (``--gpu``): ResNet-20 and ResNet-18 (32x32 stem) trained for one epoch of synthetic CIFAR-shaped data
(50,000 random 3x32x32 images held on the device and batched by ``tensor_loader``: no download, no
data-loading cost) with the course's ``train_one_epoch``, in bf16 autocast and in fp32; prints images/s and
seconds per epoch for each.

    python -m course_tools.bench.torch_track --gpu [--images 50000] [--batch-size 256] [--device cpu]
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from course_utils.counting import count_params
from course_utils.torch_track.data import make_loaders, tensor_loader
from course_utils.torch_track.device import describe_device, get_device, prepare_model, seed_everything
from course_utils.torch_track.models import build_model
from course_utils.torch_track.train import evaluate, fit, train_one_epoch


def cpu_benchmark(epochs: int = 8, batch_size: int = 32, lr: float = 3e-3, seed: int = 0,
                  augment: str = "crop", verbose: bool = False) -> dict:
    """LeNet on digits on the CPU (Adam, one-cycle schedule, shifted-crop augmentation).

    Returns {"test_acc", "train_s" (wall clock), "train_cpu_s" (CPU time of this process), "data_s", ...}.
    The seed picks the train/validation/test split, the initial weights and the batches.
    """
    seed_everything(seed)
    start = time.perf_counter()
    data = make_loaders("digits", batch_size=batch_size, image_size=28, augment=augment, seed=seed, verbose=False)
    data_s = time.perf_counter() - start
    model = build_model("lenet", data.num_classes, data.in_channels)
    start, cpu_start = time.perf_counter(), time.process_time()
    fit(model, data.train, data.val, epochs=epochs, lr=lr, schedule="onecycle", device="cpu", seed=seed,
        progress=False, verbose=verbose)
    train_s, train_cpu_s = time.perf_counter() - start, time.process_time() - cpu_start
    _, test_acc = evaluate(model, data.test, "cpu")
    return {"test_acc": test_acc, "train_s": train_s, "train_cpu_s": train_cpu_s, "data_s": data_s,
            "threads": torch.get_num_threads(), "epochs": epochs,
            "train_images": len(data.train.dataset), "test_images": len(data.test.dataset)}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def gpu_benchmark(images: int = 50_000, batch_size: int = 256, device: str = "auto",
                  models=("resnet20", "resnet18"), precisions=("bf16", "fp32"), compile: bool = False,
                  warmup_batches: int = 20) -> list[dict]:
    """Train each model for one epoch of ``images`` synthetic 3x32x32 images per precision; return the rows."""
    dev = get_device(device)
    torch.backends.cudnn.benchmark = True  # pick the fastest convolution algorithms for these fixed shapes
    g = torch.Generator(device="cpu").manual_seed(0)
    X = torch.randn(images, 3, 32, 32, generator=g).to(dev)
    y = torch.randint(0, 10, (images,), generator=g).to(dev)
    rows = []
    for name in models:
        for precision in precisions:
            seed_everything(0)
            model = prepare_model(build_model(name, 10, 3), dev, compile=compile)
            opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4, nesterov=True)
            amp = precision == "bf16"
            n_warm = min(images, warmup_batches * batch_size)
            warm = tensor_loader(X[:n_warm], y[:n_warm], batch_size, shuffle=True)
            train_one_epoch(model, warm, opt, dev, amp=amp, progress=False)  # warm-up: cuDNN autotuning, compile
            if dev.type == "cuda":
                torch.cuda.reset_peak_memory_stats(dev)
            _sync(dev)
            start = time.perf_counter()
            loss, _, _ = train_one_epoch(model, tensor_loader(X, y, batch_size, shuffle=True), opt, dev, amp=amp,
                                         progress=False)
            _sync(dev)
            seconds = time.perf_counter() - start
            mem = torch.cuda.max_memory_allocated(dev) / 2**30 if dev.type == "cuda" else float("nan")
            rows.append({"model": name, "precision": precision, "params": count_params(model),
                         "images_per_s": images / seconds, "epoch_s": seconds, "peak_mem_gib": mem, "loss": loss})
            r = rows[-1]
            print(f"{name:9s} {precision:5s} {r['params']:>11,d} params  {r['images_per_s']:>9,.0f} images/s  "
                  f"{r['epoch_s']:7.2f} s/epoch of {images:,}  peak mem {mem:5.2f} GiB  (loss {loss:.3f})", flush=True)
    return rows


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m course_tools.bench.torch_track", description=__doc__.split("\n")[0])
    p.add_argument("--gpu", action="store_true", help="ResNet throughput on synthetic CIFAR-shaped data")
    p.add_argument("--images", type=int, default=50_000)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--device", default="auto")
    p.add_argument("--compile", action="store_true")
    p.add_argument("--models", default="resnet20,resnet18")
    p.add_argument("--warmup-batches", type=int, default=20)
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's choice)")
    p.add_argument("--seeds", default="0", help="comma-separated seeds for the CPU benchmark (one run each)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.gpu:
        dev = get_device(args.device)
        print(f"torch {torch.__version__}, device {describe_device(dev)}, batch {args.batch_size}, "
              f"TF32 convs {torch.backends.cudnn.allow_tf32}, TF32 matmul {torch.backends.cuda.matmul.allow_tf32}, "
              f"compile {args.compile}")
        gpu_benchmark(args.images, args.batch_size, args.device, models=args.models.split(","), compile=args.compile,
                      warmup_batches=args.warmup_batches)
        return
    for seed in (int(s) for s in args.seeds.split(",")):
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        r = cpu_benchmark(seed=seed)
        print(f"LeNet-5 on digits (28x28), seed {seed}, CPU with {r['threads']} thread(s), load average "
              f"{load:.1f} on {os.cpu_count()} cores")
        print(f"  test accuracy {r['test_acc']:.4f} on {r['test_images']} images (target >= 0.97): "
              f"{'OK' if r['test_acc'] >= 0.97 else 'MISSED'}")
        print(f"  training {r['train_s']:.1f} s wall, {r['train_cpu_s']:.1f} s CPU, for {r['train_images']} "
              f"images x {r['epochs']} epochs (target <= 10 s): wall/target {r['train_s'] / 10:.2f}, "
              f"CPU/target {r['train_cpu_s'] / 10:.2f}; data preparation {r['data_s']:.1f} s", flush=True)


if __name__ == "__main__":
    main()
