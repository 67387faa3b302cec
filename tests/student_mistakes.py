"""The known mistakes of the assignments (``Exercise.mistakes``) as a student writes them: the source text of
the answer cell's function, one per (assignment item, mistake id).

``CORRECT[item]`` is a student's right answer (loops, NumPy only where the assignment says so, everything
computed in the function itself); ``SOURCES[item, mistake]`` is the same answer with the one mistake made
(edits of ``CORRECT``, each checked to apply once). The
spec-level tests (``test_exercises_mistakes.py``) run them through the self-check and the hidden tests' judge;
the grading test (``test_grading_mistakes.py``) writes them into submitted notebooks and grades those as
``make grade`` does. Notebook-only exercises (``receptive_field_sizes``) are not here.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: assignment item id -> the name of the function its answer cell defines
FUNCTIONS = {
    "a1_fc_params": "fully_connected_params",
    "a1_lc_params": "locally_connected_params",
    "a1_conv_params": "conv_params",
    "a1_conv_output_size": "conv_output_size",
    "a1_conv2d_forward": "conv2d_forward",
    "a1_filterbank_design": "make_filterbank",
    "a1_apply_filterbank": "apply_filterbank",
    "a2_tied_weight_gradient": "tied_weight_gradient",
    "a2_conv2d_backward": "conv2d_backward",
    "a2_maxpool2d_forward": "maxpool2d_forward",
    "a2_maxpool2d_backward": "maxpool2d_backward",
    "a2_avgpool2d_forward": "avgpool2d_forward",
    "a2_avgpool2d_backward": "avgpool2d_backward",
    "a2_receptive_field": "receptive_field",
    "a3_accuracy": "accuracy",
    "a3_train": "train",
    "a3_fgsm": "fgsm",
}


def _edit(source: str, *changes: tuple[str, str]) -> str:
    """``source`` with each (old, new) replaced; each ``old`` must occur exactly once (an edit that no longer
    applies fails here, not silently as a right answer)."""
    for old, new in changes:
        if source.count(old) != 1:
            raise ValueError(f"{old!r} occurs {source.count(old)} times in the answer, expected once")
        source = source.replace(old, new)
    return source


# ---------------------------------------------------------------- Assignment 1
FC_PARAMS = '''\
def fully_connected_params(image_size, hidden_units, channels=1, bias=False):
    weights = image_size * image_size * channels * hidden_units
    if bias:
        weights += hidden_units
    return weights
'''

LC_PARAMS = '''\
def locally_connected_params(hidden_units, filter_size, channels=1, bias=False):
    per_unit = filter_size * filter_size * channels
    if bias:
        per_unit += 1
    return hidden_units * per_unit
'''

CONV_PARAMS = '''\
def conv_params(num_filters, filter_size, channels=1, bias=False):
    per_filter = filter_size * filter_size * channels
    if bias:
        per_filter += 1
    return num_filters * per_filter
'''

CONV_OUTPUT_SIZE = '''\
def conv_output_size(size, kernel_size, stride=1, padding=0):
    return (size + 2 * padding - kernel_size) // stride + 1
'''

CONV2D_FORWARD = '''\
import numpy as np


def conv2d_forward(x, w, b=None, stride=1, padding=0):
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    H_out = (H + 2 * padding - KH) // stride + 1
    W_out = (W + 2 * padding - KW) // stride + 1
    out = np.zeros((N, F, H_out, W_out))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    patch = x_pad[n, :, i * stride : i * stride + KH, j * stride : j * stride + KW]
                    out[n, f, i, j] = np.sum(patch * w[f])
                    if b is not None:
                        out[n, f, i, j] += b[f]
    return out
'''

APPLY_FILTERBANK = '''\
import numpy as np


def apply_filterbank(image, bank):
    K, KH, KW = bank.shape
    H, W = image.shape
    maps = np.zeros((K, H - KH + 1, W - KW + 1))
    for k in range(K):
        for i in range(H - KH + 1):
            for j in range(W - KW + 1):
                maps[k, i, j] = np.sum(image[i : i + KH, j : j + KW] * bank[k])
    return np.maximum(maps, 0.0)
'''

# ---------------------------------------------------------------- Assignment 2
TIED_WEIGHT_GRADIENT = '''\
import numpy as np


def tied_weight_gradient(x, dout, kernel_size):
    dw = np.zeros(kernel_size)
    for i in range(len(dout)):
        dw += dout[i] * x[i : i + kernel_size]
    return dw
'''

CONV2D_BACKWARD = '''\
import numpy as np


def conv2d_backward(dout, x, w, stride=1, padding=0):
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    _, _, H_out, W_out = dout.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    dx_pad = np.zeros(x_pad.shape)
    dw = np.zeros(w.shape)
    for n in range(N):
        for i in range(H_out):
            for j in range(W_out):
                rows = slice(i * stride, i * stride + KH)
                cols = slice(j * stride, j * stride + KW)
                for f in range(F):
                    dx_pad[n, :, rows, cols] += dout[n, f, i, j] * w[f]
                    dw[f] += dout[n, f, i, j] * x_pad[n, :, rows, cols]
    db = dout.sum(axis=(0, 2, 3))
    dx = dx_pad[:, :, padding : padding + H, padding : padding + W]
    return dx, dw, db
'''

MAXPOOL2D_FORWARD = '''\
import numpy as np


def maxpool2d_forward(x, kernel_size, stride):
    N, C, H, W = x.shape
    H_out = (H - kernel_size) // stride + 1
    W_out = (W - kernel_size) // stride + 1
    out = np.zeros((N, C, H_out, W_out))
    for i in range(H_out):
        for j in range(W_out):
            window = x[:, :, i * stride : i * stride + kernel_size, j * stride : j * stride + kernel_size]
            out[:, :, i, j] = window.max(axis=(2, 3))
    return out
'''

# the output size rounded up, as PyTorch's ceil_mode does: a last window that starts inside the input is kept,
# clipped at the border (NumPy's slices stop at the edge)
POOL_PARTIAL_WINDOWS = (
    "import numpy as np\n",
    "import math\n\nimport numpy as np\n",
), (
    "    H_out = (H - kernel_size) // stride + 1\n    W_out = (W - kernel_size) // stride + 1\n",
    "    H_out = math.ceil((H - kernel_size) / stride) + 1\n"
    "    W_out = math.ceil((W - kernel_size) / stride) + 1\n"
    "    if (H_out - 1) * stride >= H:  # the last window must start inside the input\n"
    "        H_out -= 1\n"
    "    if (W_out - 1) * stride >= W:\n"
    "        W_out -= 1\n",
)
POOL_STRIDE_IGNORED = (
    "window = x[:, :, i * stride : i * stride + kernel_size, j * stride : j * stride + kernel_size]",
    "window = x[:, :, i : i + kernel_size, j : j + kernel_size]",
)

MAXPOOL2D_BACKWARD = '''\
import numpy as np


def maxpool2d_backward(dout, x, kernel_size, stride):
    N, C, H_out, W_out = dout.shape
    dx = np.zeros(x.shape)
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    rows = slice(i * stride, i * stride + kernel_size)
                    cols = slice(j * stride, j * stride + kernel_size)
                    window = x[n, c, rows, cols]
                    p, q = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, i * stride + p, j * stride + q] += dout[n, c, i, j]
    return dx
'''

AVGPOOL2D_BACKWARD = '''\
import numpy as np


def avgpool2d_backward(dout, x, kernel_size, stride):
    N, C, H_out, W_out = dout.shape
    dx = np.zeros(x.shape)
    for i in range(H_out):
        for j in range(W_out):
            share = dout[:, :, i, j][:, :, None, None] / kernel_size**2
            dx[:, :, i * stride : i * stride + kernel_size, j * stride : j * stride + kernel_size] += share
    return dx
'''

RECEPTIVE_FIELD = '''\
def receptive_field(layers):
    size, jump, start = 1, 1, 0.0
    fields = []
    for kernel_size, stride, padding in layers:
        size += (kernel_size - 1) * jump
        start += ((kernel_size - 1) / 2 - padding) * jump
        jump *= stride
        fields.append((size, jump, start))
    return fields
'''

# ---------------------------------------------------------------- Assignment 3
ACCURACY = '''\
import torch


def accuracy(model, x, y):
    with torch.no_grad():
        predictions = model(x).argmax(dim=1)
    return (predictions == y).float().mean().item()
'''

TRAIN = '''\
import torch
import torch.nn.functional as F


def train(model, X_train, y_train, X_val, y_val, epochs, lr, batch_size=32, shuffle=True, on_epoch_end=None):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    history = {"epoch": [], "train_loss": [], "train_acc": [], "val_loss": [], "val_acc": []}
    n = len(y_train)
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(n) if shuffle else torch.arange(n)
        total_loss, correct = 0.0, 0
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            logits = model(X_train[idx])
            loss = F.cross_entropy(logits, y_train[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total_loss += loss.item() * len(idx)
            correct += (logits.argmax(dim=1) == y_train[idx]).sum().item()
        model.eval()
        with torch.no_grad():
            val_logits = model(X_val)
            val_loss = F.cross_entropy(val_logits, y_val).item()
            val_acc = (val_logits.argmax(dim=1) == y_val).float().mean().item()
        history["epoch"].append(epoch)
        history["train_loss"].append(total_loss / n)
        history["train_acc"].append(correct / n)
        history["val_loss"].append(val_loss)
        history["val_acc"].append(val_acc)
        if on_epoch_end is not None:
            on_epoch_end(history)
    return history
'''

FGSM = '''\
import torch.nn.functional as F


def fgsm(model, x, y, eps):
    x = x.clone().detach().requires_grad_(True)
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    return (x + eps * x.grad.sign()).clamp(0.0, 1.0).detach()
'''

#: item -> a student's right answer (the function's source, with the imports it needs)
CORRECT = {
    "a1_fc_params": FC_PARAMS,
    "a1_lc_params": LC_PARAMS,
    "a1_conv_params": CONV_PARAMS,
    "a1_conv_output_size": CONV_OUTPUT_SIZE,
    "a1_conv2d_forward": CONV2D_FORWARD,
    "a1_apply_filterbank": APPLY_FILTERBANK,
    "a2_tied_weight_gradient": TIED_WEIGHT_GRADIENT,
    "a2_conv2d_backward": CONV2D_BACKWARD,
    "a2_maxpool2d_forward": MAXPOOL2D_FORWARD,
    "a2_maxpool2d_backward": MAXPOOL2D_BACKWARD,
    "a2_avgpool2d_forward": _edit(MAXPOOL2D_FORWARD, ("maxpool2d_forward", "avgpool2d_forward"),
                                  ("window.max(axis=(2, 3))", "window.mean(axis=(2, 3))")),
    "a2_avgpool2d_backward": AVGPOOL2D_BACKWARD,
    "a2_receptive_field": RECEPTIVE_FIELD,
    "a3_accuracy": ACCURACY,
    "a3_train": TRAIN,
    "a3_fgsm": FGSM,
}

#: (item, mistake id) -> the (old, new) edits of CORRECT[item] that make the mistake
_CHANGES = {
    ("a1_fc_params", "no_bias"): (("    if bias:\n        weights += hidden_units\n", ""),),
    ("a1_fc_params", "channels_ignored"): (("image_size * image_size * channels", "image_size * image_size"),),
    ("a1_fc_params", "size_not_squared"): (("image_size * image_size * channels", "image_size * channels"),),
    ("a1_lc_params", "no_bias"): (("    if bias:\n        per_unit += 1\n", ""),),
    ("a1_lc_params", "channels_ignored"): (("filter_size * filter_size * channels", "filter_size * filter_size"),),
    ("a1_lc_params", "size_not_squared"): (("filter_size * filter_size * channels", "filter_size * channels"),),
    ("a1_lc_params", "one_filter"): (("return hidden_units * per_unit", "return per_unit"),),
    ("a1_conv_params", "no_bias"): (("    if bias:\n        per_filter += 1\n", ""),),
    ("a1_conv_params", "channels_ignored"): (("filter_size * filter_size * channels", "filter_size * filter_size"),),
    ("a1_conv_params", "size_not_squared"): (("filter_size * filter_size * channels", "filter_size * channels"),),
    ("a1_conv_output_size", "ceil_not_floor"): (
        ("def conv_output_size", "import math\n\n\ndef conv_output_size"),
        ("(size + 2 * padding - kernel_size) // stride + 1",
         "math.ceil((size + 2 * padding - kernel_size) / stride) + 1"),
    ),
    ("a1_conv_output_size", "padding_counted_once"): (
        ("(size + 2 * padding - kernel_size)", "(size + padding - kernel_size)"),
    ),
    ("a1_conv2d_forward", "flipped_kernel"): (("np.sum(patch * w[f])", "np.sum(patch * w[f, :, ::-1, ::-1])"),),
    ("a1_conv2d_forward", "no_bias"): (
        ("                    if b is not None:\n                        out[n, f, i, j] += b[f]\n", ""),
    ),
    ("a1_conv2d_forward", "first_channel_only"): (("np.sum(patch * w[f])", "np.sum(patch[0] * w[f, 0])"),),
    ("a1_conv2d_forward", "one_sided_padding"): (
        ("(padding, padding), (padding, padding)", "(0, 2 * padding), (0, 2 * padding)"),
    ),
    ("a1_conv2d_forward", "stride_ignored"): (
        ("x_pad[n, :, i * stride : i * stride + KH, j * stride : j * stride + KW]",
         "x_pad[n, :, i : i + KH, j : j + KW]"),
    ),
    ("a1_apply_filterbank", "no_relu"): (("return np.maximum(maps, 0.0)", "return maps"),),
    ("a2_tied_weight_gradient", "first_position_only"): (
        ("    for i in range(len(dout)):\n        dw += dout[i] * x[i : i + kernel_size]\n",
         "    dw += dout[0] * x[0:kernel_size]\n"),
    ),
    ("a2_tied_weight_gradient", "not_summed"): (("dw += dout[i]", "dw = dout[i]"),),
    ("a2_conv2d_backward", "dx_first_filter_only"): (
        ("                for f in range(F):\n"
         "                    dx_pad[n, :, rows, cols] += dout[n, f, i, j] * w[f]\n",
         "                dx_pad[n, :, rows, cols] += dout[n, 0, i, j] * w[0]\n"
         "                for f in range(F):\n"),
    ),
    ("a2_conv2d_backward", "dw_first_image_only"): (  # the batch is summed for dx only
        ("                    dw[f] += dout[n, f, i, j] * x_pad[n, :, rows, cols]\n",
         "                    if n == 0:\n"
         "                        dw[f] += dout[0, f, i, j] * x_pad[0, :, rows, cols]\n"),
    ),
    ("a2_conv2d_backward", "db_no_batch_sum"): (("db = dout.sum(axis=(0, 2, 3))", "db = dout.sum(axis=(2, 3))"),),
    ("a2_maxpool2d_forward", "stride_ignored"): (POOL_STRIDE_IGNORED,),
    ("a2_maxpool2d_forward", "partial_windows"): POOL_PARTIAL_WINDOWS,
    ("a2_avgpool2d_forward", "stride_ignored"): (POOL_STRIDE_IGNORED,),
    ("a2_avgpool2d_forward", "partial_windows"): POOL_PARTIAL_WINDOWS,
    ("a2_maxpool2d_backward", "every_tied_maximum"): (
        ("                    p, q = np.unravel_index(np.argmax(window), window.shape)\n"
         "                    dx[n, c, i * stride + p, j * stride + q] += dout[n, c, i, j]\n",
         "                    dx[n, c, rows, cols] += (window == window.max()) * dout[n, c, i, j]\n"),
    ),
    ("a2_maxpool2d_backward", "assigned_not_accumulated"): (
        ("dx[n, c, i * stride + p, j * stride + q] += ", "dx[n, c, i * stride + p, j * stride + q] = "),
    ),
    ("a2_avgpool2d_backward", "not_divided"): (("dout[:, :, i, j][:, :, None, None] / kernel_size**2",
                                                "dout[:, :, i, j][:, :, None, None]"),),
    ("a2_avgpool2d_backward", "assigned_not_accumulated"): (("] += share", "] = share"),),
    ("a2_receptive_field", "jump_updated_before_use"): (
        ("        size += (kernel_size - 1) * jump\n",
         "        jump *= stride\n        size += (kernel_size - 1) * jump\n"),
        ("        jump *= stride\n        fields", "        fields"),
    ),
    ("a2_receptive_field", "plus_k"): (("size += (kernel_size - 1) * jump", "size += kernel_size"),),
    ("a2_receptive_field", "jump_ignored"): (("size += (kernel_size - 1) * jump", "size += kernel_size - 1"),),
    ("a3_accuracy", "count_not_fraction"): (("(predictions == y).float().mean().item()",
                                             "(predictions == y).sum().item()"),),
    ("a3_train", "no_zero_grad"): (("            optimizer.zero_grad()\n", ""),),
    ("a3_train", "no_step"): (("            optimizer.step()\n", ""),),
    ("a3_train", "validated_on_training_set"): (
        ("val_logits = model(X_val)", "val_logits = model(X_train)"),
        ("F.cross_entropy(val_logits, y_val)", "F.cross_entropy(val_logits, y_train)"),
        ("(val_logits.argmax(dim=1) == y_val)", "(val_logits.argmax(dim=1) == y_train)"),
    ),
    # the hidden case passes the training set sorted by class; this loop keeps its order whatever shuffle says
    ("a3_train", "not_shuffled"): (("torch.randperm(n) if shuffle else torch.arange(n)", "torch.arange(n)"),),
    ("a3_fgsm", "wrong_sign"): (("(x + eps * x.grad.sign())", "(x - eps * x.grad.sign())"),),
    ("a3_fgsm", "not_clipped"): (("(x + eps * x.grad.sign()).clamp(0.0, 1.0).detach()",
                                  "(x + eps * x.grad.sign()).detach()"),),
    ("a3_fgsm", "unchanged"): (("(x + eps * x.grad.sign()).clamp(0.0, 1.0).detach()", "x.detach()"),),
    ("a3_fgsm", "no_sign"): (("eps * x.grad.sign()", "eps * x.grad"),),
    # only the weights get gradients: x.grad is None, and x.grad.sign() raises AttributeError
    ("a3_fgsm", "gradient_of_weights"): (("    x = x.clone().detach().requires_grad_(True)\n", ""),),
}

#: (assignment item id, mistake id) -> the source of the answer a student writes with that mistake
SOURCES: dict[tuple[str, str], str] = {
    key: _edit(CORRECT[key[0]], *changes) for key, changes in _CHANGES.items()
}


def combined(item: str, *mistakes: str) -> str:
    """``CORRECT[item]`` with the edits of several ``mistakes`` at once (mistakes written as edits only)."""
    return _edit(CORRECT[item], *(change for m in mistakes for change in _CHANGES[item, m]))


def define(item: str, source: str):
    """The function of ``item`` (``FUNCTIONS``) that ``source`` defines, executed in a namespace of its own as a
    notebook cell would be."""
    namespace = {"__name__": f"student_{item}"}
    exec(compile(source, f"<{item}>", "exec"), namespace)  # noqa: S102
    return namespace[FUNCTIONS[item]]


def function(item: str, mistake: str | None = None):
    """The function that ``SOURCES[item, mistake]`` defines (``CORRECT[item]`` for no mistake)."""
    return define(item, CORRECT[item] if mistake is None else SOURCES[item, mistake])


def answer_cell(item: str) -> str:
    """The grade id of the solution cell of ``item``'s assignment that defines its function."""
    aid = item.split("_")[0]
    nb = json.loads((REPO / "solutions" / aid / f"{aid}.ipynb").read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        defines = f"def {FUNCTIONS[item]}(" in "".join(cell["source"])
        if cell["cell_type"] == "code" and meta.get("solution") and defines:
            return meta["grade_id"]
    raise KeyError(f"no solution cell of {aid} defines {FUNCTIONS[item]}")


def replace_function(cell_source: str, name: str, source: str) -> str:
    """``cell_source`` (a cell's code) with its top-level ``def name(...)`` replaced by ``source``."""
    lines = cell_source.splitlines(keepends=True)
    node = next(n for n in ast.parse(cell_source).body if isinstance(n, ast.FunctionDef) and n.name == name)
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)]) - 1
    return "".join(lines[:first]) + source.rstrip("\n") + "\n" + "".join(lines[node.end_lineno:])
