"""Speed of the NumPy reference layers next to PyTorch on the CPU: ``python -m course_tools.bench.reference [--quick]``.

Prints median ratios NumPy time / torch time (lower is better for NumPy). Fair by construction:

* BLAS (via threadpoolctl) and torch are limited to ONE thread, the same float32 data goes to both;
* rounds are interleaved (every candidate once per round, in turn), so a slow spell of a shared machine
  hits all of them alike; we report medians over rounds.

Targets: fast conv forward+backward <= 1.5x torch on every shape; max-pool 2x2 forward+backward
<= 0.75x torch; the NumPy CNN reaches 97 % validation accuracy on the digits in <= 2 s.
Speed is benchmarked, never asserted in unit tests.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

CONV_SHAPES = {  # name: (N, C, H, W, F, K, stride, padding)
    "CIFAR conv1": (64, 3, 32, 32, 32, 3, 1, 1),
    "CIFAR conv2": (64, 32, 16, 16, 64, 3, 1, 1),
    "MNIST conv1": (128, 1, 28, 28, 16, 5, 1, 0),
    "AlexNet conv1": (8, 3, 227, 227, 96, 11, 4, 0),
}
NAIVE_SHAPE = (2, 3, 12, 12, 8, 3, 1, 1)  # the loops are ~1000x slower: compare them on a small input
POOL_SHAPE = (64, 32, 32, 32)  # max-pool 2x2 stride 2

# CPU time of the calling thread: with one thread for BLAS and torch all the work runs on it, and time spent
# waiting for a core of a busy shared machine is not counted. ``--wall`` switches to wall-clock time.
_clock = time.thread_time


def interleaved_medians(candidates: dict, rounds: int, repeat: int = 1) -> dict:
    """Run every callable once per round, in turn; return {name: median seconds per call}."""
    for fn in candidates.values():  # warm-up (allocations, first-call overheads)
        fn()
    times = {name: [] for name in candidates}
    for _ in range(rounds):
        for name, fn in candidates.items():
            t0 = _clock()
            for _ in range(repeat):
                fn()
            times[name].append((_clock() - t0) / repeat)
    return {name: float(np.median(ts)) for name, ts in times.items()}


def _conv_candidates(shape, naive=False):
    import torch
    import torch.nn.functional as F

    from course_utils import reference as ref
    from course_utils.reference import conv

    N, C, H, W, Fo, K, s, p = shape
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, C, H, W), dtype=np.float32)
    w = rng.standard_normal((Fo, C, K, K), dtype=np.float32) * 0.1
    b = rng.standard_normal(Fo, dtype=np.float32)
    dout = rng.standard_normal(ref.conv2d_forward(x, w, b, s, p).shape, dtype=np.float32)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    dt = torch.tensor(dout)

    def torch_fwd():
        with torch.no_grad():
            F.conv2d(xt, wt, bt, stride=s, padding=p)

    def torch_fwd_bwd():
        xt.grad = wt.grad = bt.grad = None
        F.conv2d(xt, wt, bt, stride=s, padding=p).backward(dt)

    if naive:
        def numpy_fwd_bwd():
            ref.conv2d_forward_naive(x, w, b, s, p)
            ref.conv2d_backward_naive(dout, x, w, s, p)
    else:
        def numpy_fwd_bwd():  # as a layer does, and as autograd saves tensors: backward reuses the forward's cache
            _, cache = conv.conv2d_forward_cached(x, w, b, s, p)
            conv.conv2d_backward_cached(dout, cache)

    fwd = ref.conv2d_forward_naive if naive else ref.conv2d_forward
    return {
        "numpy fwd": lambda: fwd(x, w, b, s, p),
        "torch fwd": torch_fwd,
        "numpy fwd+bwd": numpy_fwd_bwd,
        "torch fwd+bwd": torch_fwd_bwd,
    }


def bench_conv(rounds: int, shapes=CONV_SHAPES) -> list[tuple]:
    rows = []
    for name, shape in shapes.items():
        m = interleaved_medians(_conv_candidates(shape), rounds)
        rows.append((f"{name} forward", m["numpy fwd"], m["torch fwd"], None))
        rows.append((f"{name} fwd+bwd", m["numpy fwd+bwd"], m["torch fwd+bwd"], 1.5))
    return rows


def bench_naive(rounds: int) -> list[tuple]:
    """Naive loops vs the fast version (both NumPy) on a small shape: the column 'torch' holds the fast time."""
    from course_utils import reference as ref

    N, C, H, W, Fo, K, s, p = NAIVE_SHAPE
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, C, H, W))
    w = rng.standard_normal((Fo, C, K, K))
    dout = rng.standard_normal(ref.conv2d_forward(x, w, None, s, p).shape)
    m = interleaved_medians(
        {
            "naive fwd": lambda: ref.conv2d_forward_naive(x, w, None, s, p),
            "fast fwd": lambda: ref.conv2d_forward(x, w, None, s, p),
            "naive bwd": lambda: ref.conv2d_backward_naive(dout, x, w, s, p),
            "fast bwd": lambda: ref.conv2d_backward(dout, x, w, s, p),
        },
        max(3, rounds // 2),
    )
    label = "N2 C3 12x12 F8 3x3"
    return [
        (f"naive/fast conv fwd ({label})", m["naive fwd"], m["fast fwd"], None),
        (f"naive/fast conv bwd ({label})", m["naive bwd"], m["fast bwd"], None),
    ]


def bench_maxpool(rounds: int) -> list[tuple]:
    import torch
    import torch.nn.functional as F

    from course_utils import reference as ref

    rng = np.random.default_rng(0)
    x = rng.standard_normal(POOL_SHAPE, dtype=np.float32)
    dout = rng.standard_normal((*POOL_SHAPE[:2], POOL_SHAPE[2] // 2, POOL_SHAPE[3] // 2), dtype=np.float32)
    xt, dt = torch.tensor(x, requires_grad=True), torch.tensor(dout)

    def torch_fwd():
        with torch.no_grad():
            F.max_pool2d(xt, 2)

    def torch_fwd_bwd():
        xt.grad = None
        F.max_pool2d(xt, 2).backward(dt)

    m = interleaved_medians(
        {
            "numpy fwd": lambda: ref.maxpool2d_forward(x, 2),
            "torch fwd": torch_fwd,
            "numpy fwd+bwd": lambda: (ref.maxpool2d_forward(x, 2), ref.maxpool2d_backward(dout, x, 2)),
            "torch fwd+bwd": torch_fwd_bwd,
        },
        rounds,
        repeat=3,
    )
    label = "max-pool 2x2 (64x32x32x32)"
    return [
        (f"{label} forward", m["numpy fwd"], m["torch fwd"], None),
        (f"{label} fwd+bwd", m["numpy fwd+bwd"], m["torch fwd+bwd"], 0.75),
    ]


def torch_digits_seconds(seed=0, target=0.97):
    """The same net, data split, initial weights and hyperparameters in torch; seconds to ``target``."""
    import torch
    import torch.nn as nn

    from course_utils.data.digits import split_digits
    from course_utils.reference.digits_cnn import DIGITS_HYPERPARAMETERS, make_digits_cnn

    d = split_digits(seed)  # stops on the validation split, as the NumPy run does
    ours = make_digits_cnn(seed)
    c = ours.layers[0].params["w"].shape[0]
    net = nn.Sequential(nn.Conv2d(1, c, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(c * 16, 10))
    with torch.no_grad():
        for i_ours, i_net in [(0, 0), (4, 4)]:
            net[i_net].weight.copy_(torch.tensor(ours.layers[i_ours].params["w"]))
            net[i_net].bias.zero_()
    hp = DIGITS_HYPERPARAMETERS
    opt = torch.optim.SGD(net.parameters(), lr=hp["lr"], momentum=hp["momentum"], weight_decay=hp["weight_decay"])
    Xt, yt, Xv, yv = (torch.tensor(a) for a in (d.X_train, d.y_train, d.X_val, d.y_val))
    rng = np.random.default_rng(seed)
    t0 = _clock()
    acc = 0.0
    for _ in range(hp["epochs"]):
        order = torch.tensor(rng.permutation(len(Xt)))
        for i in range(0, len(Xt), hp["batch_size"]):
            idx = order[i : i + hp["batch_size"]]
            opt.zero_grad()
            nn.functional.cross_entropy(net(Xt[idx]), yt[idx]).backward()
            opt.step()
        with torch.no_grad():
            acc = (net(Xv).argmax(1) == yv).float().mean().item()
        if acc >= target:
            break
    return _clock() - t0, acc


def numpy_digits_seconds(seed=0, target=0.97):
    """:func:`course_utils.reference.train_digits_cnn`'s run, timed with this module's clock."""
    from course_utils.data.digits import split_digits
    from course_utils.reference.digits_cnn import DIGITS_HYPERPARAMETERS, make_digits_cnn

    d = split_digits(seed)
    model = make_digits_cnn(seed)
    t0 = _clock()
    hist = model.fit(d.X_train, d.y_train, d.X_val, d.y_val, seed=seed, stop_at_val_acc=target,
                     **DIGITS_HYPERPARAMETERS)
    return _clock() - t0, hist["val_acc"][-1]


def bench_digits(rounds: int) -> list[tuple]:
    ours, theirs = [], []
    for _ in range(rounds):
        sec, acc = numpy_digits_seconds()
        ours.append(sec if acc >= 0.97 else float("inf"))
        sec_t, acc_t = torch_digits_seconds()
        theirs.append(sec_t if acc_t >= 0.97 else float("inf"))
    return [("digits CNN: time to 97 % validation accuracy", float(np.median(ours)), float(np.median(theirs)), None)]


def print_table(rows, columns=("numpy ms", "torch ms", "numpy/torch")):
    """rows: (name, seconds A, seconds B, target ratio or None)."""
    print(f"\n{'benchmark':<46}{columns[0]:>11}{columns[1]:>11}{columns[2]:>12}  target")
    for name, a, b, target in rows:
        ratio = a / b
        verdict = "" if target is None else f"<= {target}  {'OK' if ratio <= target else 'MISSED'}"
        print(f"{name:<46}{a * 1e3:>11.2f}{b * 1e3:>11.2f}{ratio:>12.2f}  {verdict}", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (about a minute)")
    parser.add_argument("--wall", action="store_true", help="wall-clock time instead of the thread's CPU time")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per benchmark (default 15, quick 5)")
    args = parser.parse_args(argv)
    rounds = args.rounds or (5 if args.quick else 15)
    global _clock
    _clock = time.perf_counter if args.wall else time.thread_time

    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        print(
            f"One thread for BLAS and torch (torch {torch.__version__}, numpy {np.__version__}), float32, "
            f"medians of {rounds} interleaved rounds, {'wall-clock' if args.wall else 'thread CPU'} time."
        )
        print_table(bench_conv(rounds) + bench_maxpool(rounds))
        print_table(bench_naive(rounds), columns=("naive ms", "fast ms", "naive/fast"))
        rows = bench_digits(max(1, rounds // 5))
        print_table([(n, a, b, None) for n, a, b, _ in rows])
        print(
            f"NumPy CNN to 97 % on digits: {rows[0][1]:.2f} s (target <= 2 s: {'OK' if rows[0][1] <= 2 else 'MISSED'})"
        )


if __name__ == "__main__":
    main()
