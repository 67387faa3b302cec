"""Filter and activation viewer (lecture slides 46-49): what did a trained network learn?

For a trained model (the NumPy ``course_utils.reference.Sequential`` or any ``torch.nn.Module``) and a set
of images: pick a conv layer, a channel (filter) and an image; see the layer's filters as tiles (the chosen
one outlined), the image, the chosen channel's feature map for that image, and the 9 input patches (from
all images) that activate the channel most: each patch is the unit's receptive field.

    from course_utils.widgets import FilterActivationViewer
    FilterActivationViewer(model, X_val[:64])

Receptive fields assume the layers run in the order they are listed (true of ``Sequential`` stacks).
"""

from __future__ import annotations

from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from course_utils._validate import pair
from course_utils.alt_text import number
from course_utils.widgets._blit import Blit
from course_utils.widgets._view import Explorer, clamp_int, image_axes, prepare, set_image, student_call


@dataclass(frozen=True)
class State:
    layer: int = 0  # index among the conv layers
    channel: int = 0
    image: int = 0


def _height(name: str, value, minimum: int) -> int:
    """The height of a torch layer's int-or-(h, w) attribute (``kernel_size``, ``stride``, ``padding``),
    checked by the course's validator; receptive fields here assume square windows."""
    return pair("FilterActivationViewer", name, value, minimum)[0]


class ModelProbe:
    """Runs a model once on the images and keeps every conv layer's weights, outputs and geometry.

    ``weights[i]``: (F, C, KH, KW); ``outputs[i]``: (N, F, Ho, Wo); ``geometry[i]``: [(k, s, p), ...] of the
    conv/pool layers up to and including conv layer i (for receptive fields); ``names[i]``: a label.
    """

    def __init__(self, model, images):
        self.images = np.asarray(images.detach().cpu().numpy() if hasattr(images, "detach") else images,
                                 dtype=np.float64)
        if self.images.ndim != 4:
            raise ValueError(f"FilterActivationViewer: images must be (N, C, H, W), got shape {self.images.shape}")
        self.weights, self.outputs, self.geometry, self.names = [], [], [], []
        if hasattr(model, "layers") and hasattr(model, "forward") and not _is_torch(model):
            self._numpy(model)
        elif _is_torch(model):
            self._torch(model)
        else:
            raise TypeError("FilterActivationViewer: model must be a course_utils.reference.Sequential or a "
                            f"torch.nn.Module, got {type(model).__name__}")
        if not self.weights:
            raise ValueError("FilterActivationViewer: the model has no conv layer")

    def _numpy(self, model):
        x, geometry = self.images.astype(np.float32), []
        for i, layer in enumerate(model.layers):
            x = student_call(f"layer {i} ({type(layer).__name__}).forward", layer.forward, x)
            w = getattr(layer, "params", {}).get("w")
            if w is not None and np.ndim(w) == 4:
                geometry.append((w.shape[2], layer.stride, layer.padding))
                self._keep(w, x, geometry, f"{len(self.weights) + 1}: {layer!r}")
            elif hasattr(layer, "kernel_size"):
                geometry.append((layer.kernel_size, layer.stride or layer.kernel_size, layer.padding))

    def _torch(self, model):
        import torch
        from torch import nn

        leaves = [m for m in model.modules() if not list(m.children())]
        convs, geometry, captured = [], [], {}
        for m in leaves:
            if isinstance(m, nn.Conv2d):
                geometry.append((_height("kernel_size", m.kernel_size, 1), _height("stride", m.stride, 1),
                                 _height("padding", m.padding, 0)))
                convs.append((m, list(geometry)))
            elif isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
                k = _height("kernel_size", m.kernel_size, 1)
                geometry.append((k, _height("stride", m.stride or k, 1), _height("padding", m.padding, 0)))
        hooks = [m.register_forward_hook(lambda mod, inp, out: captured.__setitem__(id(mod), out)) for m, _ in convs]
        try:
            param = next(model.parameters(), None)
            x = torch.as_tensor(self.images, dtype=param.dtype if param is not None else torch.float32)
            was_training = model.training
            model.eval()
            with torch.no_grad():
                student_call("model", model, x.to(param.device) if param is not None else x)
            model.train(was_training)
        finally:
            for h in hooks:
                h.remove()
        for m, geo in convs:
            self._keep(m.weight.detach().cpu().numpy(), captured[id(m)].cpu().numpy(), geo,
                       f"{len(self.weights) + 1}: {m!r}")

    def _keep(self, w, out, geometry, name):
        self.weights.append(np.asarray(w, dtype=np.float64))
        self.outputs.append(np.asarray(out, dtype=np.float64))
        self.geometry.append(list(geometry))
        self.names.append(name)


def _is_torch(model) -> bool:
    try:
        from torch import nn
    except ImportError:  # pragma: no cover - torch is a dependency
        return False
    return isinstance(model, nn.Module)


def make_state(probe: ModelProbe, **values) -> State:
    v = {**State().__dict__, **values}
    layer = clamp_int(v["layer"], 0, len(probe.weights) - 1)
    return State(layer, clamp_int(v["channel"], 0, probe.weights[layer].shape[0] - 1),
                 clamp_int(v["image"], 0, len(probe.images) - 1))


def _normalise(a: np.ndarray) -> np.ndarray:
    lo, hi = float(a.min()), float(a.max())
    return (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)


def _to_display(chw: np.ndarray) -> np.ndarray:
    """(C, H, W) -> (H, W, 3) RGB in [0, 1] for 3 channels, else the channel mean, normalised, in RGB."""
    a = np.moveaxis(chw, 0, -1) if chw.shape[0] == 3 else np.repeat(chw.mean(0)[:, :, None], 3, axis=2)
    return _normalise(a)


def mosaic(tiles: list[np.ndarray], cols: int) -> tuple[np.ndarray, int]:
    """Tiles (h, w, 3) -> one (rows*(h+1)+1, cols*(w+1)+1, 3) image with white separators; and rows."""
    h, w = tiles[0].shape[:2]
    rows = (len(tiles) + cols - 1) // cols
    out = np.ones((rows * (h + 1) + 1, cols * (w + 1) + 1, 3))
    for n, t in enumerate(tiles):
        r, c = divmod(n, cols)
        out[1 + r * (h + 1):1 + r * (h + 1) + h, 1 + c * (w + 1):1 + c * (w + 1) + w] = t
    return out, rows


def top_patches(probe: ModelProbe, layer: int, channel: int, k: int = 9):
    """The k strongest activations of the channel over all images and positions, and the input patches
    (receptive fields, zero outside the image) they come from: list of (value, image index, (C, s, s))."""
    from course_utils import reference

    acts = probe.outputs[layer][:, channel]  # (N, Ho, Wo)
    rf = reference.receptive_field(probe.geometry[layer])[-1]
    order = np.argsort(acts.ravel())[::-1][:k]
    N, C, H, W = probe.images.shape
    padded = np.zeros((N, C, H + 2 * rf.size, W + 2 * rf.size))
    padded[:, :, rf.size:rf.size + H, rf.size:rf.size + W] = probe.images
    result = []
    for flat in order:
        n, i, j = np.unravel_index(flat, acts.shape)
        r0 = int(round(rf.start + i * rf.jump - (rf.size - 1) / 2)) + rf.size
        c0 = int(round(rf.start + j * rf.jump - (rf.size - 1) / 2)) + rf.size
        result.append((float(acts[n, i, j]), int(n), padded[n, :, r0:r0 + rf.size, c0:c0 + rf.size]))
    return result


def _build(fig: Figure) -> dict:
    ax_f, im_f = image_axes(fig, (0.005, 0.03, 0.3, 0.82), "filters (chosen one in red)")
    box = ax_f.add_patch(Rectangle((0, 0), 1, 1, fill=False, edgecolor="#ff2020", linewidth=2))
    _, im_x = image_axes(fig, (0.33, 0.03, 0.2, 0.82), "image")
    _, im_a = image_axes(fig, (0.56, 0.03, 0.2, 0.82), "feature map", cmap="viridis")
    _, im_t = image_axes(fig, (0.79, 0.03, 0.2, 0.82), "top-9 patches (all images)")
    return {"filters": im_f, "box": box, "image": im_x, "act": im_a, "top": im_t}


def compute(state: State, probe: ModelProbe) -> dict:
    """What is shown: the layer's filters as tiles (and where the chosen one is), the image, the chosen
    channel's feature map on it, the top-activating patches (all from the probe: the model ran once)."""
    w = probe.weights[state.layer]
    cols = int(np.ceil(np.sqrt(w.shape[0])))
    tiles, _ = mosaic([_to_display(f) for f in w], cols)
    r, c = divmod(state.channel, cols)
    kh, kw = w.shape[2:]
    patches = top_patches(probe, state.layer, state.channel)
    return {"tiles": tiles, "box": (c * (kw + 1), r * (kh + 1), kw + 1, kh + 1), "weights": w,
            "image": _to_display(probe.images[state.image]),
            "act": probe.outputs[state.layer][state.image, state.channel],
            "top": mosaic([_to_display(p) for _, _, p in patches], 3)[0], "checks": []}


def draw(state: State, data: dict, fig: Figure | None = None) -> Figure:
    """Filters as tiles, the image, the feature map, the top-activating patches (``data``: what
    :func:`compute` gave for ``state``). Returns the Figure."""
    fig, art = prepare(fig, (11.0, 3.0), _build)
    set_image(art["filters"], data["tiles"])
    art["box"].set_bounds(*data["box"])
    set_image(art["image"], data["image"])
    set_image(art["act"], data["act"])
    set_image(art["top"], data["top"])
    return fig


class FilterActivationViewer(Explorer):
    """Layer, channel and image sliders over a trained model (NumPy Sequential or torch nn.Module).

    ``images``: (N, C, H, W) array or tensor (keep N small, e.g. 64: all are run through the model once).
    """

    draw = staticmethod(draw)
    blit = Blit(animated=lambda art: [art[k] for k in ("filters", "box", "image", "act", "top")])

    def __init__(self, model, images, layer: int = 0, channel: int = 0, image: int = 0):
        super().__init__("Filters and activations of a trained network")
        self.probe = None
        try:
            self.probe = ModelProbe(model, images)
        except (TypeError, ValueError):
            raise
        except Exception as exc:  # the model's own forward failed: show it, keep the widget
            self._show_error(exc)
        n_layers = len(self.probe.weights) if self.probe else 1
        st = {"description_width": "60px"}
        self.controls = {
            "layer": widgets.Dropdown(options=[(n, i) for i, n in enumerate(self.probe.names)] if self.probe
                                      else [("-", 0)], value=min(max(layer, 0), n_layers - 1),
                                      description="layer", style=st, layout=widgets.Layout(width="420px")),
            "channel": widgets.IntSlider(channel, 0, 1, description="channel", style=st),
            "image": widgets.IntSlider(image, 0, len(self.probe.images) - 1 if self.probe else 0,
                                       description="image", style=st),
        }
        c = self.controls
        if self.probe:
            self._set_channel_max(self.controls["layer"].value)
            self._build(widgets.HBox([c["layer"], widgets.VBox([c["channel"], c["image"]])]))
        else:
            self.widget = widgets.VBox([self.title, self.status, self.error_box])

    def _set_channel_max(self, layer: int) -> None:
        syncing, self._syncing = self._syncing, True
        try:
            self.controls["channel"].max = self.probe.weights[layer].shape[0] - 1
        finally:
            self._syncing = syncing

    def _controls_changed(self) -> None:
        self._set_channel_max(self.controls["layer"].value)

    def read_state(self) -> State:
        self._set_channel_max(self.controls["layer"].value)
        return make_state(self.probe, **{name: control.value for name, control in self.controls.items()})

    def compute(self, state: State) -> dict:
        return compute(state, self.probe)

    def describe_html(self, state: State, data: dict) -> str:
        w, act = data["weights"], data["act"]
        F, C, KH, KW = w.shape
        return (f"layer {self.probe.names[state.layer]}: {F} filters of {C}&times;{KH}&times;{KW}; channel "
                f"{state.channel} on image {state.image}: feature map {act.shape[0]}&times;{act.shape[1]}, "
                f"max activation {act.max():.3f}")

    def alt_text(self, state: State, data: dict) -> str:
        w, act = data["weights"], data["act"]
        F, C, KH, KW = w.shape
        image = self.probe.images[state.image]
        return (f"Four panels: the {F} filters of layer {self.probe.names[state.layer]} ({C}x{KH}x{KW} each) as "
                f"tiles, channel {state.channel} outlined in red; image {state.image} ({image.shape[1]}x"
                f"{image.shape[2]}); channel {state.channel}'s feature map on it, {act.shape[0]}x{act.shape[1]}, "
                f"values from {number(act.min())} to {number(act.max())} (dark to bright); and the 9 input patches, "
                f"from all {len(self.probe.images)} images, that activate channel {state.channel} most.")

    def describe(self, state: State, data: dict) -> str:
        return f"layer={state.layer} channel={state.channel} image={state.image}"
