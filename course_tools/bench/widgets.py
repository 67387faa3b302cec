"""Redraw latency of every widget: from a control's new value (the callback) to the new PNG in the Image.

    python -m course_tools.bench.widgets [--repeats 30] [--only NAME ...]

Setting a control's value in Python runs the same observer a browser change runs, synchronously; the time
until it returns covers reading the controls, the model, the drawing, the PNG encoding and the Image update.
Each widget is moved through ``repeats`` new states after 3 warm-up redraws. Target: p95 <= 100 ms.
Printed beside each: CPU time of the process (wall time on a busy machine includes waiting for a core).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def digits_models():
    """The digits (X, y), an untrained NumPy CNN and a small trained torch MLP: the models the filter and
    adversarial widgets are measured with (here and in course_tools.bench.browser)."""
    import torch

    from course_utils.data.digits import load_digits_arrays
    from course_utils.reference.sequential import Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential
    from course_utils.torch_track.data import tensor_loader
    from course_utils.torch_track.train import fit
    from course_utils.widgets._view import torch_single_thread

    X, y = load_digits_arrays()
    numpy_model = Sequential(Conv2d(1, 8, 3, padding=1, rng=0), ReLU(), MaxPool2d(2), Conv2d(8, 16, 3, padding=1,
                             rng=1), ReLU(), Flatten(), Linear(16 * 4 * 4, 10, rng=2))
    torch.manual_seed(0)
    mlp = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    with torch_single_thread():  # 100 full-batch Adam steps with the course's loop
        fit(mlp, tensor_loader(X[:500], y[:500], batch_size=500), tensor_loader(X[500:600], y[500:600], 100),
            epochs=100, lr=1e-2, device="cpu", progress=False, verbose=False)
    return X, y, numpy_model, mlp


def cases(repeats: int):
    """(name, widget, list of callables each moving the widget to a new state)."""
    from course_utils import reference
    from course_utils import widgets as W
    from course_utils.history import new_history

    X, y, numpy_model, mlp = digits_models()
    n = repeats + 3
    rf_lecture = W.ReceptiveFieldExplorer()
    rf_alex = W.ReceptiveFieldExplorer(stack="AlexNet-like (227 x 227)", layer=7, row=0, col=0)
    dash = W.TrainingDashboard()
    hist = new_history()

    def grow(i):
        hist["epoch"].append(i + 1)
        for k, v in (("train_loss", 1 / (i + 1)), ("train_acc", 1 - 0.5 / (i + 1)), ("val_loss", 1.2 / (i + 1)),
                     ("val_acc", 0.9 - 0.5 / (i + 1))):
            hist[k].append(v)
        dash.update(hist)

    def setter(w, name, values):
        return [lambda v=v: setattr(w.controls[name], "value", v) for v in values]

    pc, conv, hp = W.ParamCountExplorer(), W.ConvolutionExplorer(), W.HyperparameterExplorer(input_size=16, stride=1)
    conv_photos = W.ConvolutionExplorer()
    hp_large = W.HyperparameterExplorer(input_size=32, kernel_size=11, stride=1)  # the largest grid
    rf_stacks = W.ReceptiveFieldExplorer()
    photos = ("chelsea", "coins", "astronaut", "china", "camera")
    stacks = ("AlexNet-like (227 x 227)", "VGG-like: 2 x (conv 3, conv 3, pool 2)", "AlexNet-like (227 x 227)",
              "lecture: conv K + pool P")
    pool = W.PoolingExplorer()
    # a function given as pool_fn is checked against the reference on every redraw: what that costs
    pool_checked = W.PoolingExplorer(pool_fn=reference.maxpool2d_forward)
    shifts = [i % 5 for i in range(2, n + 2)]
    filt = W.FilterActivationViewer(numpy_model, X[:64])
    adv = W.AdversarialExplorer(mlp, X[:8], y[:8])
    return [
        ("ParamCountExplorer", pc, setter(pc, "image_size", range(100, 100 + n))),
        ("ConvolutionExplorer", conv, setter(conv, "col", [i % 46 for i in range(1, n + 1)])),
        ("HyperparameterExplorer", hp, setter(hp, "window", range(1, n + 1))),
        ("HyperparameterExplorer 32px k=11", hp_large,
         setter(hp_large, "padding", [8 - abs(8 - i % 16) for i in range(1, n + 1)])),  # 1, ..., 8, 7, ..., 0
        ("ConvolutionExplorer photo switch", conv_photos, setter(conv_photos, "photo",
                                                                  [photos[i % 5] for i in range(n)])),
        ("PoolingExplorer", pool, setter(pool, "shift", shifts)),
        ("PoolingExplorer pool_fn checked", pool_checked, setter(pool_checked, "shift", shifts)),
        ("ReceptiveFieldExplorer lecture", rf_lecture,  # new units: the autograd field is not cached
         [lambda i=i: rf_lecture.set_controls(row=(3 * i + 1) % 14, col=(5 * i + 2) % 14) for i in range(n)]),
        ("ReceptiveFieldExplorer stack switch", rf_stacks, setter(rf_stacks, "stack",
                                                                  [stacks[i % 4] for i in range(n)])),
        ("ReceptiveFieldExplorer AlexNet", rf_alex,
         [lambda i=i: rf_alex.set_controls(row=(i // 6) % 6, col=i % 6) for i in range(1, n + 1)]),
        ("FilterActivationViewer", filt, setter(filt, "image", [(i + 1) % 64 for i in range(n)])),
        ("AdversarialExplorer", adv, setter(adv, "eps", [round(0.01 * ((i + 1) % 30), 3) for i in range(n)])),
        ("TrainingDashboard", dash, [lambda i=i: grow(i) for i in range(n)]),
    ]


def measure(widget, moves) -> tuple[np.ndarray, np.ndarray]:
    """Wall and CPU milliseconds per redraw (the first 3 are warm-up and dropped)."""
    wall, cpu = [], []
    for move in moves:
        before = widget.renders
        t, c = time.perf_counter(), time.process_time()
        move()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
        if widget.renders == before or widget.error:
            raise RuntimeError(f"{type(widget).__name__}: the move did not redraw (error: {widget.error})")
    return np.array(wall[3:]) * 1000, np.array(cpu[3:]) * 1000


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--only", nargs="*", default=None, help="widgets whose name contains one of these")
    args = parser.parse_args(argv)
    print(f"redraw latency, callback -> new image; {args.repeats} redraws each; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'widget':36s} {'p50 ms':>8s} {'p95 ms':>8s} {'cpu p50':>8s} {'cpu p95':>8s}  target p95 <= 100 ms")
    worst = 0.0
    for name, widget, moves in cases(args.repeats):
        if args.only and not any(part.lower() in name.lower() for part in args.only):
            continue
        wall, cpu = measure(widget, moves)
        p50, p95 = np.percentile(wall, [50, 95])
        c50, c95 = np.percentile(cpu, [50, 95])
        worst = max(worst, p95)
        print(f"{name:36s} {p50:8.1f} {p95:8.1f} {c50:8.1f} {c95:8.1f}  {'ok' if p95 <= 100 else 'SLOW'}")
    print(f"worst p95: {worst:.1f} ms ({worst / 100:.2f} x the 100 ms target)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
