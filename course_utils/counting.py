"""Parameter counting for the lecture's three ways of connecting an image to a hidden layer (slides 8-9, 23).

Conventions: an image is H x W with C channels; biases are counted only when ``bias=True``.
The lecture's numbers count weights only: 200x200 image, 40K hidden units, 10x10 filters
-> locally connected 4,000,000; 100 conv filters of 10x10 -> 10,000.

Beyond the three formulas: :func:`model_summary` (parameters and multiply-adds per layer of any
``torch.nn.Module``; convention in ``MULT_ADD_CONVENTION``), :func:`alexnet` and :func:`alexnet_table`
(the lecture's AlexNet table, slide 36, reproduced with every difference listed in ``ALEXNET_DIFFERENCES``).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import NamedTuple

from course_utils._validate import int_param, one_of


def fully_connected_params(image_size: int, hidden_units: int, channels: int = 1, bias: bool = False) -> int:
    """Every hidden unit sees every pixel: (image_size**2 * channels) * hidden_units (+ hidden_units biases)."""
    f = "fully_connected_params"
    n_in = int_param(f, "image_size", image_size, 1) ** 2 * int_param(f, "channels", channels, 1)
    h = int_param(f, "hidden_units", hidden_units, 1)
    return n_in * h + (h if bias else 0)


def locally_connected_params(hidden_units: int, filter_size: int, channels: int = 1, bias: bool = False) -> int:
    """Each hidden unit has its own filter_size x filter_size x channels patch of weights (no sharing)."""
    f = "locally_connected_params"
    h = int_param(f, "hidden_units", hidden_units, 1)
    k = int_param(f, "filter_size", filter_size, 1)
    return h * k * k * int_param(f, "channels", channels, 1) + (h if bias else 0)


def conv_params(num_filters: int, filter_size: int, channels: int = 1, bias: bool = False) -> int:
    """Shared weights: num_filters filters of filter_size x filter_size x channels, whatever the image size."""
    f = "conv_params"
    n = int_param(f, "num_filters", num_filters, 1)
    k = int_param(f, "filter_size", filter_size, 1)
    return n * k * k * int_param(f, "channels", channels, 1) + (n if bias else 0)


# --------------------------------------------------------------------------------------------------------------
# Per-layer summary of any torch.nn.Module, and the lecture's AlexNet table (slide 36)
# --------------------------------------------------------------------------------------------------------------
MULT_ADD_CONVENTION = """\
Multiply-adds ("flops" in the lecture's AlexNet table) for ONE input image:
- Conv2d: one multiply-add per weight per output position:
  H_out * W_out * out_channels * (in_channels / groups) * KH * KW.
- Linear: in_features * out_features (times any extra leading dimensions besides the batch).
- Bias additions, ReLU, pooling, normalisation, dropout and softmax are not counted (no multiply-add with a
  weight; they are a few percent of the work). Tools that report "FLOPs" as multiplications + additions
  count each multiply-add twice.
Parameters: every tensor in module.parameters(), weights and biases (the lecture's table rounds weights only;
biases are 0.02 % of AlexNet)."""


class LayerRow(NamedTuple):
    """One call of one layer: ``name`` (as in ``named_modules``), ``kind`` (class name), ``output_shape``
    (without the batch dimension), ``params`` (its own parameters), ``mult_adds`` (per image)."""

    name: str
    kind: str
    output_shape: tuple
    params: int
    mult_adds: int


class ModelSummary(NamedTuple):
    """Rows per layer plus totals; ``str(summary)`` is a printable table."""

    rows: list
    total_params: int
    total_mult_adds: int
    input_shape: tuple

    def __str__(self) -> str:
        lines = [f"{'layer':<14}{'type':<18}{'output':<18}{'params':>14}{'mult-adds':>16}"]
        for r in self.rows:
            out = "x".join(str(d) for d in r.output_shape)
            lines.append(f"{r.name:<14}{r.kind:<18}{out:<18}{r.params:>14,}{r.mult_adds:>16,}")
        lines.append(f"{'total':<50}{self.total_params:>14,}{self.total_mult_adds:>16,}")
        return "\n".join(lines)


def count_params(model, trainable_only: bool = False) -> int:
    """Number of scalar parameters (weights and biases) of a torch.nn.Module, each shared tensor once.

    trainable_only: count only the parameters with ``requires_grad`` (e.g. after freezing a body to fine-tune).
    The course's one parameter counter (``registration.count_params`` is this function).

    >>> import torch.nn as nn
    >>> count_params(nn.Conv2d(3, 96, 11))                       # 96 * 3 * 11 * 11 weights + 96 biases
    34944
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _mult_adds(module, inp, out) -> int:
    import torch.nn as nn

    if isinstance(module, nn.Conv2d):
        return out[0].numel() * (module.in_channels // module.groups) * math.prod(module.kernel_size)
    if isinstance(module, nn.ConvTranspose2d):
        return inp[0].numel() * (module.out_channels // module.groups) * math.prod(module.kernel_size)
    if isinstance(module, nn.Linear):
        return out[0].numel() * module.in_features
    return 0


def model_summary(model, input_shape) -> ModelSummary:
    """Parameters and multiply-adds per layer of a torch.nn.Module (see ``MULT_ADD_CONVENTION``).

    model: any ``torch.nn.Module`` taking a batch ``(1, *input_shape)``; input_shape: e.g. (3, 227, 227).
    One row per call of every leaf module (and of any module holding parameters of its own), in call order.
    The model is run once on zeros (no gradients), in eval mode, on the CPU.
    """
    import torch

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model_summary: model must be a torch.nn.Module, got {type(model).__name__}")
    input_shape = tuple(int(d) for d in input_shape)
    names = {m: n or type(m).__name__ for n, m in model.named_modules()}
    rows, seen, hooks = [], set(), []

    def hook(module, inp, out):
        own = 0 if module in seen else sum(p.numel() for p in module.parameters(recurse=False))
        seen.add(module)
        out_t = out[0] if isinstance(out, (tuple, list)) else out
        rows.append(
            LayerRow(names[module], type(module).__name__, tuple(out_t.shape[1:]), own, _mult_adds(module, inp, out_t))
        )

    for m in model.modules():
        if not list(m.children()) or list(m.parameters(recurse=False)):
            hooks.append(m.register_forward_hook(hook))
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros((1, *input_shape), dtype=next(model.parameters(), torch.zeros(())).dtype))
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    return ModelSummary(rows, count_params(model), sum(r.mult_adds for r in rows), input_shape)


# The lecture's table (Ranzato's slide, "Architecture for Classification"), input to output.
LECTURE_ALEXNET = {
    "conv1": {"params": 35_000, "flops": 105_000_000},
    "conv2": {"params": 307_000, "flops": 223_000_000},
    "conv3": {"params": 884_000, "flops": 149_000_000},
    "conv4": {"params": 1_300_000, "flops": 224_000_000},
    "conv5": {"params": 442_000, "flops": 74_000_000},
    "fc6": {"params": 37_000_000, "flops": 37_000_000},
    "fc7": {"params": 16_000_000, "flops": 16_000_000},
    "fc8": {"params": 4_000_000, "flops": 4_000_000},
}
LECTURE_ALEXNET_TOTALS = {"params": 60_000_000, "flops": 832_000_000}
#: The slide's order: output layer first (fc8 ... conv1).
LECTURE_ALEXNET_SLIDE_ORDER = tuple(reversed(LECTURE_ALEXNET))


def slide_figure(count: int | float) -> str:
    """A count as the lecture's slides print it: 35_000 -> '35K', 1_300_000 -> '1.3M', 832_000_000 -> '832M'.

    >>> " ".join(slide_figure(LECTURE_ALEXNET[name]["params"]) for name in LECTURE_ALEXNET_SLIDE_ORDER)
    '4M 16M 37M 442K 1.3M 884K 307K 35K'
    >>> " ".join(slide_figure(LECTURE_ALEXNET[name]["flops"]) for name in LECTURE_ALEXNET_SLIDE_ORDER)
    '4M 16M 37M 74M 224M 149M 223M 105M'
    """
    if count >= 1e9:
        return f"{count / 1e9:g}G"
    if count >= 1e6:
        return f"{count / 1e6:g}M"
    if count >= 1e3:
        return f"{count / 1e3:g}K"
    return f"{count:g}"

ALEXNET_DIFFERENCES = (
    "Input 227x227, not the paper's 224x224: (224 - 11) / 4 + 1 is not an integer; 227 gives conv1's 55x55.",
    "The slide keeps only the leading digits, mostly truncating (37.7M -> 37M, 16.8M -> 16M, 4.1M -> 4M, "
    "223.9M -> 223M, 74.8M -> 74M; conv1's 34.8K is rounded to 35K); its totals 60M and 832M are the sums of "
    "those shortened figures. Exact: 61.6M weights and 836.5M multiply-adds.",
    "conv2 and conv5 are split in two groups (groups=2: each filter sees half the input channels), as in the "
    "paper's two-GPU layout; that is what gives 307K and 442K.",
    "conv4: the slide's 1.3M parameters / 224M flops are those of an ungrouped conv4 (384 -> 384). The paper "
    "splits conv4 across the GPUs too (663K, 112M); alexnet(variant='paper') builds that version "
    "(61.0M parameters, 724M multiply-adds).",
    "Our parameter counts include biases (10,568 in all); the slide counts weights.",
    "Local response normalisation, ReLU, max-pooling and dropout have no parameters and are not counted as "
    "multiply-adds (see MULT_ADD_CONVENTION).",
)


#: VGG's configurations (Simonyan and Zisserman 2015, Table 1): 3x3 conv widths (padding 1), "M" a 2x2 max-pool,
#: then three fully connected layers (512 * 7 * 7 -> 4096 -> 4096 -> 1000) on 224x224 RGB images
VGG_CONFIGS = {
    "VGG-11 (A)": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "VGG-16 (D)": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "VGG-19 (E)": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
                   512, 512, 512, 512, "M"],
}


def alexnet(variant: str = "lecture", num_classes: int = 1000):
    """AlexNet (Krizhevsky et al. 2012) as a torch ``nn.Sequential`` with named layers conv1..fc8.

    Input (N, 3, 227, 227). variant="lecture": conv2 and conv5 grouped (groups=2), conv4 not, which
    reproduces the lecture's table; variant="paper": conv2, conv4 and conv5 grouped, as in the paper.
    """
    import torch.nn as nn

    one_of("alexnet", "variant", variant, ("lecture", "paper"))
    g4 = 2 if variant == "paper" else 1
    return nn.Sequential(
        OrderedDict(
            [
                ("conv1", nn.Conv2d(3, 96, 11, stride=4)),
                ("relu1", nn.ReLU()),
                ("norm1", nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)),
                ("pool1", nn.MaxPool2d(3, 2)),
                ("conv2", nn.Conv2d(96, 256, 5, padding=2, groups=2)),
                ("relu2", nn.ReLU()),
                ("norm2", nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)),
                ("pool2", nn.MaxPool2d(3, 2)),
                ("conv3", nn.Conv2d(256, 384, 3, padding=1)),
                ("relu3", nn.ReLU()),
                ("conv4", nn.Conv2d(384, 384, 3, padding=1, groups=g4)),
                ("relu4", nn.ReLU()),
                ("conv5", nn.Conv2d(384, 256, 3, padding=1, groups=2)),
                ("relu5", nn.ReLU()),
                ("pool5", nn.MaxPool2d(3, 2)),
                ("flatten", nn.Flatten()),
                ("drop6", nn.Dropout()),
                ("fc6", nn.Linear(256 * 6 * 6, 4096)),
                ("relu6", nn.ReLU()),
                ("drop7", nn.Dropout()),
                ("fc7", nn.Linear(4096, 4096)),
                ("relu7", nn.ReLU()),
                ("fc8", nn.Linear(4096, num_classes)),
            ]
        )
    )


def alexnet_table(variant: str = "lecture") -> str:
    """The lecture's AlexNet table next to the counts of :func:`alexnet`, with the differences explained."""
    summary = model_summary(alexnet(variant), (3, 227, 227))
    ours = {r.name: r for r in summary.rows if r.name in LECTURE_ALEXNET}
    lines = [
        f"AlexNet ({variant}), input 3x227x227, multiply-adds per image",
        f"{'layer':<8}{'params':>14}{'lecture':>12}{'mult-adds':>16}{'lecture':>14}",
    ]
    for name, lec in LECTURE_ALEXNET.items():
        r = ours[name]
        lines.append(f"{name:<8}{r.params:>14,}{lec['params']:>12,}{r.mult_adds:>16,}{lec['flops']:>14,}")
    lines.append(
        f"{'total':<8}{summary.total_params:>14,}{LECTURE_ALEXNET_TOTALS['params']:>12,}"
        f"{summary.total_mult_adds:>16,}{LECTURE_ALEXNET_TOTALS['flops']:>14,}"
    )
    lines.append("Differences:")
    lines += [f"- {d}" for d in ALEXNET_DIFFERENCES]
    return "\n".join(lines)
