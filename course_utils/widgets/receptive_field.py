"""Receptive-field explorer (lecture slide 29): which input pixels can one unit of a deep layer see?

Pick a stack (the lecture's conv K x K + pool P x P, a VGG-like or an AlexNet-like stack), a layer and a
unit in it (the unit row / unit col sliders, by keyboard or mouse, or a click on the small map of the chosen
layer): the unit's field lights up on the input photo and on every intermediate map (the units that feed
it). Two answers are shown side by side and must agree:

* analytic (red box): ``rf_fn``, default ``course_utils.reference.receptive_field`` (size, jump, start),
  called once per redraw on the layers up to the chosen one; the boxes on every map come from its records,
  and a line above the picture says whether they agree with the course reference's;
* empirical (blue tint): torch autograd, the input pixels whose gradient w.r.t. the unit is nonzero
  (``course_utils.reference.receptive_field.empirical_receptive_field``), measured through the same stack
  with max-pools replaced by average pools (see :func:`measuring_net`).

    from course_utils.widgets import ReceptiveFieldExplorer
    ReceptiveFieldExplorer(rf_fn=my_receptive_field)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from course_utils import reference
from course_utils.reference.receptive_field import empirical_receptive_field
from course_utils.widgets._blit import Blit
from course_utils.widgets._picture import Picture
from course_utils.widgets._view import (
    Explorer,
    Records,
    checked_call,
    clamp_int,
    prepare,
    rgb_to_png,
    set_image,
    torch_single_thread,
)

# name -> (input size, layers); a layer is (kind, kernel_size, stride, padding); "K"/"P" are set by sliders
STACKS: dict[str, tuple[int, tuple]] = {
    "lecture: conv K + pool P": (32, (("conv", "K", 1, 0), ("maxpool", "P", "P", 0))),
    "VGG-like: 2 x (conv 3, conv 3, pool 2)": (32, (("conv", 3, 1, 1), ("conv", 3, 1, 1), ("maxpool", 2, 2, 0),
                                                     ("conv", 3, 1, 1), ("conv", 3, 1, 1), ("maxpool", 2, 2, 0))),
    "AlexNet-like (227 x 227)": (227, (("conv", 11, 4, 0), ("maxpool", 3, 2, 0), ("conv", 5, 1, 2),
                                       ("maxpool", 3, 2, 0), ("conv", 3, 1, 1), ("conv", 3, 1, 1),
                                       ("conv", 3, 1, 1), ("maxpool", 3, 2, 0))),
}


@dataclass(frozen=True)
class State:
    stack: str = "lecture: conv K + pool P"
    K: int = 5
    P: int = 2
    layer: int = 1  # index into the stack's layers (0 = first layer)
    row: int = 6
    col: int = 6


def layers_of(stack: str, K: int, P: int) -> tuple[int, tuple[tuple[str, int, int, int], ...]]:
    """(input size, layers) with K and P filled in."""
    size, spec = STACKS[stack]
    fill = {"K": K, "P": P}
    return size, tuple((kind, *(fill.get(v, v) for v in rest)) for kind, *rest in spec)


def map_sizes(size: int, layers) -> list[int]:
    """Side of every map: the input, then after each layer (floor rule, as torch)."""
    sizes = [size]
    for _, k, s, p in layers:
        sizes.append(reference.conv_output_size(sizes[-1], k, s, p))
    return sizes


def make_state(**values) -> State:
    """Clamp K, P, the layer index and the unit's position into the chosen layer's map."""
    v = {**State().__dict__, **values}
    stack = v["stack"] if v["stack"] in STACKS else State.stack
    K, P = clamp_int(v["K"], 1, 9), clamp_int(v["P"], 1, 4)
    size, layers = layers_of(stack, K, P)
    layer = clamp_int(v["layer"], 0, len(layers) - 1)
    side = map_sizes(size, layers)[layer + 1]
    return State(stack, K, P, layer, clamp_int(v["row"], 0, side - 1), clamp_int(v["col"], 0, side - 1))


def field_box(records, m: int, row: int, col: int) -> tuple[int, int, int, int, int] | None:
    """Box (r0, r1, c0, c1, size) feeding unit (row, col) of the last layer of ``records`` on map ``m``
    (0: the input, k: the output of layer k; ``len(records)``: the unit itself), not clipped, inclusive.

    ``records``: one (size, jump, start) per layer from the input on, as ``receptive_field`` gives. Measured
    in units of map m (whose own record is (size_m, jump_m, start_m); the input's is (1, 1, 0)), the last
    layer's field has size (size - size_m) / jump_m + 1, jump jump / jump_m and start (start - start_m) /
    jump_m: what the rule gives for the layers after map m alone, so one call covers every map. None when
    jump_m is not positive (wrong records: no box to draw)."""
    if m == len(records):
        return row, row, col, col, 1
    size_m, jump_m, start_m = records[m - 1] if m else (1, 1, 0.0)
    size_l, jump_l, start_l = records[-1]
    if jump_m <= 0:
        return None
    jump = jump_l / jump_m
    size = int(round((size_l - size_m) / jump_m + 1))
    start = (start_l - start_m) / jump_m
    r0 = int(round(start + row * jump - (size - 1) / 2))
    c0 = int(round(start + col * jump - (size - 1) / 2))
    return r0, r0 + size - 1, c0, c0 + size - 1, size


@functools.lru_cache(maxsize=8)
def feature_maps(stack: str, K: int, P: int) -> tuple[np.ndarray, ...]:
    """The photo passed through the stack (conv = k x k mean filter, pool = max), for display."""
    from course_utils.data.photos import load_photo

    size, layers = layers_of(stack, K, P)
    x = load_photo("astronaut", gray=True, size=(size, size))[None, None]
    maps = [x[0, 0]]
    for kind, k, s, p in layers:
        if kind == "conv":
            x = reference.conv2d_forward(x, np.full((1, 1, k, k), 1.0 / (k * k)), stride=s, padding=p)
        else:
            x = reference.maxpool2d_forward(x, k, stride=s, padding=p)
        maps.append(x[0, 0])
    return tuple(maps)


def measuring_net(layers):
    """The torch stack used to measure fields: convs with all weights 1 and average pools.

    A max-pool passes the gradient to its window's winner only, so one input would show only part of the
    field; an average pool of the same size, stride and padding has the same field and passes the gradient
    to every input of its window. With positive weights nothing can cancel: the gradient is nonzero on the
    whole field, for any input, so one backward pass measures it exactly.
    """
    import torch
    from torch import nn

    modules = []
    for kind, k, s, p in layers:
        if kind == "conv":
            conv = nn.Conv2d(1, 1, k, stride=s, padding=p, bias=False)
            with torch.no_grad():
                conv.weight.fill_(1.0)
            modules.append(conv)
        else:
            modules.append(nn.AvgPool2d(k, stride=s, padding=p))
    return nn.Sequential(*modules)


@functools.lru_cache(maxsize=256)
def empirical(stack: str, K: int, P: int, layer: int, row: int, col: int):
    """The input pixels whose gradient w.r.t. unit (row, col) of ``layer`` is nonzero, measured by
    ``course_utils.reference.receptive_field.empirical_receptive_field`` through :func:`measuring_net` (one
    trial is exact: see there). Cached per setting; returns its record (``.rows``, ``.cols``, ``.mask``)."""
    size, layers = layers_of(stack, K, P)
    net = _measuring_net_cached(layers[: layer + 1])
    with torch_single_thread():  # every op: a 227 x 227 map is large enough for torch to start its threads
        return empirical_receptive_field(net, input_size=size, in_channels=1, unit=(row, col), trials=1)


@functools.lru_cache(maxsize=32)
def _measuring_net_cached(layers):
    return measuring_net(layers)


def compute(state: State, rf_fn=reference.receptive_field) -> dict:
    """Boxes on every map up to the chosen layer (analytic, from one call of ``rf_fn`` on the layers up to
    the chosen one), its Check against the course reference (none when it is the reference), the empirical
    field and their agreement, and the maps to show."""
    size, layers = layers_of(state.stack, state.K, state.P)
    sides = map_sizes(size, layers)
    chosen = [tuple(layer[1:]) for layer in layers[: state.layer + 1]]
    records, check = checked_call("rf_fn", rf_fn, reference.receptive_field, chosen, what="receptive field",
                                  expect=Records(len(chosen), ("size", "jump", "start")))
    # one per map: the input (m = 0) and each layer's output (m = 1..); None after the chosen one
    boxes = [field_box(records, m, state.row, state.col) if m <= state.layer + 1 else None
             for m in range(len(layers) + 1)]
    r0, r1, c0, c1, s = boxes[0]  # map 0's base is the input itself: never None
    clipped = (max(r0, 0), min(r1, size - 1), max(c0, 0), min(c1, size - 1))
    emp = empirical(state.stack, state.K, state.P, state.layer, state.row, state.col)
    agree = clipped == (*emp.rows, *emp.cols)
    return {"layers": layers, "sides": sides, "boxes": boxes, "size": s, "clipped": clipped,
            "empirical": emp, "agree": agree, "maps": display_maps(state.stack, state.K, state.P),
            "checks": [check] if check else []}


def layer_label(i: int, layer) -> str:
    kind, k, s, p = layer
    return f"{i + 1}: {kind} {k}x{k}" + (f" /{s}" if s > 1 else "") + (f" pad {p}" if p else "")


@functools.lru_cache(maxsize=8)
def display_maps(stack: str, K: int, P: int) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Per map: (shown, faded) arrays in [0, 1] (faded: after the chosen layer). The input is shown at 0.75
    so that the empirical field's tint (50% blue over it) stands out."""
    out = []
    for m, img in enumerate(feature_maps(stack, K, P)):
        img = (img - img.min()) / max(float(np.ptp(img)), 1e-12)
        shown = img * 0.75 if m == 0 else img
        out.append((shown, img * 0.4 + 0.6))
    return tuple(out)


TINT = (0.1, 0.35, 0.9)  # the empirical field: 50% of this colour over the input


MAX_MAPS = max(len(layers) for _, layers in STACKS.values()) + 1  # the input and every layer's output


def _build(fig: Figure) -> dict:
    """Panels for the longest stack, built once: a stack with fewer maps hides the others and lays the rest
    out again (see :func:`_layout`): switching stacks costs no new axes (building one costs ~7 ms)."""
    images, boxes, titles = [], [], []
    for m in range(MAX_MAPS):
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_axis_off()
        images.append(ax.imshow(np.zeros((2, 2)), cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest"))
        titles.append(fig.text(0, 0, "", ha="center", va="bottom", fontsize=8))
        if m == 0:  # the empirical field: a tinted rectangle, or per pixel if it is not one
            tint = ax.add_patch(Rectangle((0, 0), 1, 1, facecolor=TINT, alpha=0.5, edgecolor="none",
                                          antialiased=False))
            overlay = ax.imshow(np.zeros((2, 2, 4)), interpolation="nearest")
        boxes.append(ax.add_patch(Rectangle((0, 0), 1, 1, fill=False, edgecolor="#ff2020", linewidth=1.5)))
    return {"images": images, "boxes": boxes, "titles": titles, "tint": tint, "overlay": overlay, "n": None}


def figsize(n_maps: int) -> tuple[float, float]:
    """Inches: up to 5 panels a row, larger when there are few maps."""
    cols = min(n_maps, 5)
    rows = (n_maps + cols - 1) // cols
    side = min(3.2, 10.5 / cols)
    return side * cols, (side + 0.25) * rows


def _layout(fig: Figure, art: dict, n_maps: int) -> None:
    """Size the figure for ``n_maps`` panels and place them (the others hidden)."""
    cols = min(n_maps, 5)
    rows = (n_maps + cols - 1) // cols
    fig.set_size_inches(*figsize(n_maps), forward=False)
    for m, (im, title) in enumerate(zip(art["images"], art["titles"])):
        im.axes.set_visible(m < n_maps)
        title.set_visible(m < n_maps)
        if m < n_maps:
            r, c = divmod(m, cols)
            rect = (c / cols + 0.01, 1 - (r + 1) / rows + 0.02, 1 / cols - 0.02, 1 / rows - 0.1)
            im.axes.set_position(rect)
            title.set_position((rect[0] + rect[2] / 2, rect[1] + rect[3] + 0.01))
    art["n"] = n_maps


def _show_empirical(art: dict, mask: np.ndarray) -> None:
    """Tint the measured field on the input: one rectangle when the mask is exactly its bounding box (the
    usual case, cheap to draw), otherwise pixel by pixel."""
    rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    tint, overlay = art["tint"], art["overlay"]
    is_box = len(rows) > 0 and mask.sum() == len(rows) * len(cols) and rows[-1] - rows[0] + 1 == len(rows) \
        and cols[-1] - cols[0] + 1 == len(cols)
    tint.set_visible(bool(is_box))
    overlay.set_visible(not is_box)
    if is_box:
        tint.set_bounds(cols[0] - 0.5, rows[0] - 0.5, len(cols), len(rows))
    else:
        rgba = np.zeros((*mask.shape, 4))
        rgba[mask] = (*TINT, 0.5)
        set_image(overlay, rgba)


def draw(state: State, data: dict, fig: Figure | None = None) -> Figure:
    """One panel per map (input first): the maps, the analytic boxes (red) and on the input the empirical
    field (blue tint). ``data``: what :func:`compute` gave for ``state``. Returns the Figure."""
    d = data
    maps = d["maps"]
    fig, art = prepare(fig, figsize(MAX_MAPS), _build)
    if art["n"] != len(maps):
        _layout(fig, art, len(maps))
    for m, (im, box, title) in enumerate(zip(art["images"], art["boxes"], art["titles"])):
        if m >= len(maps):  # a hidden panel (a blitted box is drawn alone: hide the box too)
            box.set_visible(False)
            continue
        shown, faded = maps[m]
        set_image(im, faded if m > state.layer + 1 else shown, 0.0, 1.0)
        b = d["boxes"][m]
        box.set_visible(b is not None)
        if b is not None:
            box.set_bounds(b[2] - 0.5, b[0] - 0.5, b[3] - b[2] + 1, b[1] - b[0] + 1)
        name = "input" if m == 0 else layer_label(m - 1, d["layers"][m - 1])
        title.set_text(f"{name} ({d['sides'][m]}x{d['sides'][m]})")
    _show_empirical(art, d["empirical"].mask)
    return fig


MAP_PX = 220  # the click map's side, about (CSS pixels)
MAP_BOX_RGB = (255, 32, 32)  # the chosen unit's outline on the click map


def map_scale(h: int, w: int, px: int = MAP_PX) -> int:
    """Screen pixels per unit on the click map: the whole number that brings its longer side nearest ``px``."""
    return max(1, round(px / max(h, w)))


def map_png(arr: np.ndarray, row: int, col: int) -> bytes:
    """The click map: the (h, w) map ``arr`` in grey (min to max), each unit a square of
    :func:`map_scale` pixels, unit (row, col) outlined 2 pixels wide around it (its own pixels stay visible)."""
    h, w = arr.shape
    s = map_scale(h, w)
    lo, hi = float(arr.min()), float(arr.max())
    grey = ((arr - lo) / (hi - lo) * 255 if hi > lo else np.zeros_like(arr)).astype(np.uint8)
    rgb = np.repeat(np.repeat(grey, s, axis=0), s, axis=1)[:, :, None].repeat(3, axis=2)
    r0, r1, c0, c1 = row * s - 2, (row + 1) * s + 2, col * s - 2, (col + 1) * s + 2
    ring = np.zeros(rgb.shape[:2], dtype=bool)
    ring[max(r0, 0):max(r1, 0), max(c0, 0):max(c1, 0)] = True
    ring[max(r0 + 2, 0):max(r1 - 2, 0), max(c0 + 2, 0):max(c1 - 2, 0)] = False
    rgb[ring] = MAP_BOX_RGB
    return rgb_to_png(rgb)


def unit_at(x: float, y: float, h: int, w: int) -> tuple[int, int]:
    """The unit (row, col) of an (h, w) map under a click at fractions (x, y) of its width and height."""
    return min(int(y * h), h - 1), min(int(x * w), w - 1)


class ReceptiveFieldExplorer(Explorer):
    """Stack, K and P (lecture stack), layer and unit (row, col) -> the unit's receptive field everywhere.

    ``rf_fn(layers)``: layers = [(kernel_size, stride, padding), ...] -> one record per layer with
    ``.size``, ``.jump``, ``.start`` (default ``course_utils.reference.receptive_field``); called once per
    redraw.
    """

    draw = staticmethod(draw)
    # the maps (faded or not), titles and figure size depend on these alone: drawn once per key
    blit = Blit(animated=lambda art: [art["tint"], art["overlay"], *art["boxes"]],
                static_key=lambda state, data: (state.stack, state.K, state.P, state.layer))

    def __init__(self, rf_fn=reference.receptive_field, **start):
        super().__init__("Receptive field: what one unit sees")
        self.rf_fn = rf_fn
        s = make_state(**start)
        st = {"description_width": "60px"}
        self.controls = {
            "stack": widgets.Dropdown(options=list(STACKS), value=s.stack, description="stack", style=st,
                                      layout=widgets.Layout(width="380px")),
            "K": widgets.IntSlider(s.K, 1, 9, description="conv K", style=st),
            "P": widgets.IntSlider(s.P, 1, 4, description="pool P", style=st),
            "layer": widgets.Dropdown(options=[("?", 0)], description="layer", style=st),
            "row": widgets.IntSlider(s.row, 0, 64, description="unit row", style=st),
            "col": widgets.IntSlider(s.col, 0, 64, description="unit col", style=st),
        }
        self._set_layer_options(s)
        self.controls["layer"].value = s.layer
        c = self.controls
        # the unit sliders are the way to select a unit (by keyboard too); the map of the chosen layer also
        # takes a click, and is never focusable (no keyboard trap): the hint, tied to the sliders, says so
        hint = widgets.HTML("<i>Select the unit with the <b>unit row</b> and <b>unit col</b> sliders, or click "
                            "it on this map of the chosen layer:</i>", layout=widgets.Layout(max_width="240px"))
        hint.add_class("cu-hint")
        for name in ("row", "col"):
            c[name].add_class("cu-hinted")
        self.clickmap = Picture(clickable=True, layout=widgets.Layout(max_width="240px"))
        self.clickmap.add_class("cu-clickmap")
        self.clickmap.on_click(self._on_map_click)
        self._build(widgets.HBox([widgets.VBox([c["stack"], c["K"], c["P"]]),
                                  widgets.VBox([c["layer"], c["row"], c["col"]]),
                                  widgets.VBox([hint, self.clickmap])]))

    def _set_layer_options(self, state: State) -> None:
        size, layers = layers_of(state.stack, state.K, state.P)
        options = [(layer_label(i, layer), i) for i, layer in enumerate(layers)]
        side = map_sizes(size, layers)[state.layer + 1]
        syncing, self._syncing = self._syncing, True
        try:
            if list(self.controls["layer"].options) != options:
                self.controls["layer"].options = options
                self.controls["layer"].value = state.layer
            for name in ("row", "col"):
                self.controls[name].max = side - 1
            lecture = state.stack.startswith("lecture")
            self.controls["K"].disabled = self.controls["P"].disabled = not lecture
        finally:
            self._syncing = syncing

    def _controls_changed(self) -> None:
        self.read_state()

    def read_state(self) -> State:
        state = make_state(**{name: control.value for name, control in self.controls.items()})
        self._set_layer_options(state)
        return state

    def compute(self, state: State) -> dict:
        return compute(state, self.rf_fn)

    def _on_map_click(self, x: float, y: float) -> None:
        if self.state is not None:
            side = map_sizes(*layers_of(self.state.stack, self.state.K, self.state.P))[self.state.layer + 1]
            row, col = unit_at(x, y, side, side)
            self.set_controls(row=row, col=col)

    def after_redraw(self, state: State, data: dict) -> None:
        # the click map: its own picture, sent after the main one and the status text
        arr = feature_maps(state.stack, state.K, state.P)[state.layer + 1]
        h, w = arr.shape
        size, layers = layers_of(state.stack, state.K, state.P)
        with self.clickmap.hold_sync():
            self.clickmap.png = map_png(arr, state.row, state.col)
            self.clickmap.width = w * map_scale(h, w)
            self.clickmap.alt = (f"Map of layer {layer_label(state.layer, layers[state.layer])} ({h}x{w} units), "
                                 f"unit ({state.row}, {state.col}) outlined in red. Click a unit to select it; "
                                 f"with the keyboard, use the unit row and unit col sliders.")

    def alt_text(self, state: State, d: dict) -> str:
        size, layers = layers_of(state.stack, state.K, state.P)
        side = d["sides"][state.layer + 1]
        r0, r1, c0, c1 = d["clipped"]
        emp = d["empirical"]
        panels = ", ".join(f"{'input' if m == 0 else layer_label(m - 1, layers[m - 1])} ({n}x{n})"
                           for m, n in enumerate(d["sides"]))
        verdict = "agrees" if d["agree"] else "differs: check rf_fn"
        kp = f" with K = {state.K}, P = {state.P}" if state.stack.startswith("lecture") else ""
        return (f"Receptive field of unit ({state.row}, {state.col}) of layer "
                f"{layer_label(state.layer, layers[state.layer])} ({side}x{side} map) of the stack "
                f"'{state.stack}'{kp}: "
                f"{d['size']}x{d['size']} input pixels, rows {r0} to {r1}, cols {c0} to {c1} of the {size}x{size} "
                f"input (red box, and the units feeding it boxed on every map); autograd's field (blue tint) "
                f"rows {emp.rows[0]} to {emp.rows[1]}, cols {emp.cols[0]} to {emp.cols[1]}: {verdict}. "
                f"Panels: {panels}; maps after the chosen layer faded.")

    def describe_html(self, state: State, d: dict) -> str:
        size, layers = layers_of(state.stack, state.K, state.P)
        side = d["sides"][state.layer + 1]
        r0, r1, c0, c1 = d["clipped"]
        emp = d["empirical"]
        verdict = ("&#10003; agree" if d["agree"] else
                   "&#10007; <b style='color:#b00020'>differ: check rf_fn</b>")
        extra = ""
        if state.stack.startswith("lecture") and state.layer == 1:
            extra = f" (lecture: P + K &minus; 1 = {state.P} + {state.K} &minus; 1 = {state.P + state.K - 1})"
        return (f"{layer_label(state.layer, layers[state.layer])}, unit ({state.row}, {state.col}) of "
                f"{side}&times;{side}: analytic field <b class='cu-field'>{d['size']}&times;{d['size']}</b>{extra}"
                f" &mdash; on the image rows {r0}&ndash;{r1}, cols {c0}&ndash;{c1}; empirical (autograd) "
                f"rows {emp.rows[0]}&ndash;{emp.rows[1]}, cols {emp.cols[0]}&ndash;{emp.cols[1]} {verdict}")

    def describe(self, state: State, d: dict) -> str:
        return (f"layer={state.layer + 1} unit=({state.row},{state.col}) field={d['size']}x{d['size']} "
                f"agree={d['agree']}")
