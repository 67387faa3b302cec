"""Deep nets (notebooks 05-06): a NumPy CNN trained under a parameter budget, the residual block.

build_cnn: ``build(seed)`` -> a ``course_utils.reference.Sequential`` mapping digits (N, 1, 8, 8) to scores
(N, 10). residual_block: ``block_class(width)`` -> an ``nn.Module`` with ``conv1``, ``conv2`` (3x3, padding 1)
mapping (N, width, H, W) to (N, width, H, W): out = ReLU(x + conv2(ReLU(conv1(x)))).
"""

from __future__ import annotations

import numpy as np

from .core import Exercise, register

# ---------------------------------------------------------------- notebook 05: a CNN under a budget
#: the budget and the target of notebook 05's "your turn"
MAX_PARAMS = 20_000
TARGET_VAL_ACCURACY = 0.95
#: notebook 05's training settings (the same for every model there)
CNN_TRAIN = dict(epochs=15, batch_size=32, lr=0.05, momentum=0.9, weight_decay=1e-4)


def _build_call(fn, case):
    """(shape of the scores for 7 digits, number of parameters, validation accuracy after training).

    The network is trained (``Sequential.fit`` with ``CNN_TRAIN``, seeded) on ``split_digits(seed=0)``'s
    training set only when its scores have the right shape and it is within the budget (else NaN).
    """
    from course_utils.data.digits import split_digits

    d = split_digits(seed=0)
    model = fn(case["seed"])
    shape = np.array(np.shape(model.forward(d.X_train[:7])), dtype=float)
    n = model.num_params()
    accuracy = float("nan")
    if tuple(shape) == (7, 10) and n <= MAX_PARAMS:
        history = model.fit(d.X_train, d.y_train, d.X_val, d.y_val, seed=case["seed"], **CNN_TRAIN)
        accuracy = float(history["val_acc"][-1])
    return shape, float(n), accuracy


def _build_judge(case, got):
    shape, n, accuracy = got
    if tuple(shape) != (7, 10):
        return f"scores for a batch of 7 digits have shape {tuple(int(s) for s in shape)}, expected (7, 10)", "shape"
    if not n <= MAX_PARAMS:
        return f"{int(n):,d} parameters, at most {MAX_PARAMS:,d}", "budget"
    if not accuracy >= TARGET_VAL_ACCURACY:
        return f"validation accuracy after training {float(accuracy):.3f}, at least {TARGET_VAL_ACCURACY}", "values"
    return None


register(Exercise(
    "build_cnn", lambda seed: [dict(seed=seed)], call=_build_call, judge=_build_judge,
    hints={"shape": "end with Flatten() and a Linear(..., 10); the Linear's input size is channels * height * "
                    "width",
           "budget": "fewer filters or a smaller fully connected layer; print model.num_params()",
           "values": "check the initial loss is near 2.30; conv -> ReLU -> pool, then Linear; try more filters"},
    describe=lambda c: f"build(seed={c['seed']}), trained {CNN_TRAIN['epochs']} epochs on the digits",
    checked_cases=1,
))


# ---------------------------------------------------------------- notebook 06: a residual block
def _block_cases(seed: int) -> list[dict]:
    """3 blocks: width 1-6, x (N, width, H, W) with N 1-3, H and W 3-9; ``seed`` seeds torch for each."""
    rng = np.random.default_rng(seed)
    return [dict(seed=int(rng.integers(1 << 30)), width=int(rng.integers(1, 7)), n=int(rng.integers(1, 4)),
                 h=int(rng.integers(3, 10)), w=int(rng.integers(3, 10))) for _ in range(3)]


def _block_call(fn, case):
    """(block(x), the formula on the block's own convs, block(|x|) with conv2 = 0, |x|)."""
    import torch
    import torch.nn.functional as F

    torch.manual_seed(case["seed"])
    block = fn(case["width"])
    x = torch.randn(case["n"], case["width"], case["h"], case["w"])
    out = block(x)
    with torch.no_grad():
        expected = F.relu(x + block.conv2(F.relu(block.conv1(x))))
        block.conv2.weight.zero_()
        block.conv2.bias.zero_()
    x_pos = x.abs()
    return out, expected, block(x_pos), x_pos


def _block_judge(case, got):
    out, expected, identity, x_pos = got
    if out.shape != expected.shape:
        return f"output shape {out.shape} for x of shape {expected.shape}", "shape"
    if not np.allclose(out, expected, rtol=1e-5, atol=1e-6):
        return (f"values on random weights differ from ReLU(x + conv2(ReLU(conv1(x)))) (max abs error "
                f"{np.abs(out - expected).max():.3g})"), "values"
    if not np.allclose(identity, x_pos, rtol=1e-6, atol=1e-8):
        return (f"with conv2 = 0, on a non-negative input, the block changes it (max abs change "
                f"{np.abs(identity - x_pos).max():.3g})"), "identity"
    return None


register(Exercise(
    "residual_block", _block_cases, call=_block_call, judge=_block_judge,
    examples=lambda: [dict(seed=1, width=4, n=2, h=6, w=6)],
    hints={"shape": "a residual block keeps the shape: padding=1 for the 3x3 convs, and add x",
           "values": "out = ReLU(x + conv2(ReLU(conv1(x)))): the skip adds the INPUT x before the last ReLU",
           "identity": "with a zero residual F(x) = 0 the block must return ReLU(x) = x: did you add x?"},
    describe=lambda c: f"block_class({c['width']}) on x ({c['n']}, {c['width']}, {c['h']}, {c['w']})",
    numpy_only=False, checked_cases=3,
))
