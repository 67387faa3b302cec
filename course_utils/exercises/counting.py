"""Counting parameters (lecture slides 8, 9, 23; notebooks 01 and 06, Assignment 1 part 1)."""

from __future__ import annotations

import numpy as np

from course_utils.counting import VGG_CONFIGS

from .core import Exercise, Mistake, implementation, register


def _count_cases(names):
    def cases(seed: int) -> list[dict]:
        """12 layers: each size in ``names`` in [1, 300), channels in [1, 5), with or without biases."""
        rng = np.random.default_rng(seed)
        out = []
        for _ in range(12):
            case = {n: int(rng.integers(1, 300)) for n in names}
            case["channels"] = int(rng.integers(1, 5))
            case["bias"] = bool(rng.integers(0, 2))
            out.append(case)
        return out

    return cases


def _counting(name):
    def reference(case):
        from course_utils import counting

        return getattr(counting, name)(**case)

    return reference


def _describe(case):
    return ", ".join(f"{k}={v!r}" for k, v in case.items())


@implementation
def _count_wrong(case, how) -> int:
    """A count a student gets wrong (every layer's count is units x weights per unit + biases): ``how`` is
    "no_bias", "channels_ignored", "size_not_squared" (image_size or filter_size counted once) or "one_filter"
    (a locally connected layer counted as one shared filter)."""
    units = case.get("hidden_units", case.get("num_filters"))
    side = case["image_size"] if "image_size" in case else case["filter_size"]
    channels = 1 if how == "channels_ignored" else case.get("channels", 1)
    per_unit = (side if how == "size_not_squared" else side * side) * channels
    if how == "one_filter":
        return per_unit + (1 if case.get("bias") else 0)
    return units * per_unit + (units if case.get("bias") and how != "no_bias" else 0)


def _count_mistakes(unit: str, size: str):
    """The counting mistakes of a layer whose ``unit`` (hidden unit, filter) has ``size`` x ``size`` inputs."""
    return (
        Mistake("no_bias", f"your count leaves out the biases: with bias=True every {unit} adds one",
                lambda case: _count_wrong(case, "no_bias")),
        Mistake("channels_ignored", "your count leaves out the channels: every weight patch spans all input "
                                    "channels (times channels)", lambda case: _count_wrong(case, "channels_ignored")),
        Mistake("size_not_squared", f"your count uses {size} once: a {size} x {size} patch has {size}**2 "
                                    "values per channel", lambda case: _count_wrong(case, "size_not_squared")),
    )


register(Exercise(
    "fully_connected_params", _count_cases(["image_size", "hidden_units"]), _counting("fully_connected_params"),
    examples=lambda: [dict(image_size=200, hidden_units=40_000),
                      dict(image_size=32, hidden_units=100, channels=3, bias=True)],
    hints={"values": "every hidden unit has one weight per input value (pixels x channels), plus one bias per "
                     "unit with bias=True"},
    describe=_describe, exact=True, mistakes=_count_mistakes("hidden unit", "image_size"),
), "a1_fc_params")

register(Exercise(
    "locally_connected_params", _count_cases(["hidden_units", "filter_size"]), _counting("locally_connected_params"),
    examples=lambda: [dict(hidden_units=40_000, filter_size=10),
                      dict(hidden_units=10, filter_size=3, channels=3, bias=True)],
    hints={"values": "each unit has its own filter_size * filter_size * channels weights (a patch covers every "
                     "channel), plus one bias per unit with bias=True"},
    describe=_describe, exact=True, mistakes=(
        *_count_mistakes("hidden unit", "filter_size"),
        Mistake("one_filter", "your count is one shared filter's: in a locally connected layer every hidden unit "
                              "has a filter of its own (times hidden_units)",
                lambda case: _count_wrong(case, "one_filter")),
    ),
), "a1_lc_params")

register(Exercise(
    "conv_params", _count_cases(["num_filters", "filter_size"]), _counting("conv_params"),
    examples=lambda: [dict(num_filters=100, filter_size=10), dict(num_filters=100, filter_size=10, bias=True),
                      dict(num_filters=64, filter_size=3, channels=32)],
    hints={"values": "the filters are shared by all positions: num_filters * filter_size**2 * channels weights "
                     "(a filter spans every input channel), plus one bias per filter"},
    describe=_describe, exact=True, mistakes=_count_mistakes("filter", "filter_size"),
), "a1_conv_params")


# ---------------------------------------------------------------- notebook 06: VGG's weights by arithmetic
def _vgg_cases(seed: int) -> list[dict]:
    """VGG-style configurations: five stages of 1-3 convs and a pool (224 px -> 7 px), the last 512 wide."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(4):
        config = []
        for stage in range(5):
            widths = [int(rng.choice([16, 32, 64, 128, 256, 512])) for _ in range(int(rng.integers(1, 4)))]
            config += (widths[:-1] + [512] if stage == 4 else widths) + ["M"]
        out.append(dict(config=config))
    return out


@implementation
def _vgg_reference(case) -> int:
    """Weights and biases of VGG(config) for 224x224 RGB images and 1000 classes (``course_utils.counting``)."""
    from course_utils.counting import conv_params, fully_connected_params

    total, channels = 0, 3
    for v in case["config"]:
        if v != "M":
            total += conv_params(v, 3, channels=channels, bias=True)
            channels = v
    fc = fully_connected_params(7, 4096, channels=512, bias=True)  # 512 * 7 * 7 inputs
    return total + fc + 4096 * 4096 + 4096 + 4096 * 1000 + 1000


register(Exercise(
    "vgg_weights", _vgg_cases, _vgg_reference,
    examples=lambda: [dict(config=c) for c in VGG_CONFIGS.values()],  # the paper's (course_utils.counting)
    call=lambda fn, case: int(fn(list(case["config"]))),
    hints={"values": "conv: 3*3*c_in*c_out + c_out, starting from c_in = 3 (RGB); "
                     "FC: 512*7*7*4096 + 4096, 4096*4096 + 4096, 4096*1000 + 1000"},
    describe=lambda case: f"config={case['config']}", exact=True, numpy_only=False,
))
