"""Training dashboard: live loss and accuracy curves (train and validation) while a model trains.

Works with both tracks: their training loops take ``on_epoch_end=callable(history)`` and the history is
the course's dict ``{"epoch", "train_loss", "train_acc", "val_loss", "val_acc"}`` of equal-length lists
(validation lists may be empty when there is no validation set).

    dash = TrainingDashboard()
    dash                                   # show it (last expression of a cell)
    model.fit(X, y, on_epoch_end=dash.update)   # in the next cell; the curves grow after every epoch
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from course_utils.alt_text import number
from course_utils.widgets._blit import Blit
from course_utils.widgets._view import Explorer, prepare

KEYS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc")


@dataclass(frozen=True)
class State:
    epoch: tuple[float, ...] = ()
    train_loss: tuple[float, ...] = ()
    train_acc: tuple[float, ...] = ()
    val_loss: tuple[float, ...] = ()
    val_acc: tuple[float, ...] = ()


def make_state(history) -> State:
    """Check the history's format and freeze it. Raises TypeError/ValueError naming what is wrong."""
    if not isinstance(history, dict):
        raise TypeError(f"TrainingDashboard.update: history must be a dict with keys {KEYS}, "
                        f"got {type(history).__name__}")
    missing = [k for k in KEYS if k not in history]
    if missing:
        raise ValueError(f"TrainingDashboard.update: history lacks {missing}; expected keys {KEYS}")
    values = {}
    for k in KEYS:
        seq = history[k]
        if isinstance(seq, (str, bytes)) or not hasattr(seq, "__len__"):
            raise TypeError(f"TrainingDashboard.update: history[{k!r}] must be a list of numbers, got {seq!r}")
        if not all(isinstance(v, numbers.Real) for v in seq):
            raise TypeError(f"TrainingDashboard.update: history[{k!r}] must hold numbers, got {list(seq)!r}")
        values[k] = tuple(float(v) for v in seq)
    n = len(values["epoch"])
    for k in KEYS[1:]:
        allowed = (n,) if k.startswith("train") else (n, 0)
        if len(values[k]) not in allowed:
            raise ValueError(f"TrainingDashboard.update: history[{k!r}] has {len(values[k])} values but "
                             f"history['epoch'] has {n}; expected the same length"
                             + (" (or 0 without validation)" if k.startswith("val") else ""))
    return State(**values)


def _build(fig: Figure) -> dict:
    art = {}
    for i, what in enumerate(("loss", "acc")):
        ax = fig.add_axes((0.07 + i * 0.5, 0.15, 0.4, 0.72))
        ax.set_xlabel("epoch")
        ax.set_title("loss (cross-entropy)" if what == "loss" else "accuracy", fontsize=10)
        ax.grid(alpha=0.3)
        (train,) = ax.plot([], [], "o-", color="#1f77b4", label="train", markersize=3)
        (val,) = ax.plot([], [], "s--", color="#d62728", label="validation", markersize=3)
        legend = ax.legend(loc="upper right" if what == "loss" else "lower right", fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4, integer=True, steps=[1, 2, 4, 8, 10]))  # 8, 16, 24, 32
        art[what] = (ax, train, val)
        art[f"{what} legend"] = legend
    return art


def _nice_top(value: float) -> float:
    """The smallest of 1, 2, 5 x 10^k above ``value`` (axis limits that change rarely)."""
    if not np.isfinite(value) or value <= 0:
        return 1.0
    k = 10.0 ** np.floor(np.log10(value))
    return float(next(m * k for m in (1, 2, 5, 10) if m * k >= value))


def axis_tops(state: State) -> tuple[int, float]:
    """(epoch axis end, loss axis end): the axes grow in steps (epochs double: 4, 8, 16, ...; loss to the
    next 1/2/5 x 10^k), so that their ticks change rarely."""
    ep = np.array(state.epoch)
    losses = np.array(state.train_loss + state.val_loss)
    losses = losses[np.isfinite(losses)]
    x_top = 2 ** int(np.ceil(np.log2(max(ep.max(), 4)))) if len(ep) else 4
    loss_top = _nice_top(float(losses.max()) * 1.05) if len(losses) else 1.0
    return x_top, loss_top


def compute(state: State) -> dict:
    """What the curves need beyond the state: the axis ends (see :func:`axis_tops`)."""
    x_top, loss_top = axis_tops(state)
    return {"x_top": x_top, "loss_top": loss_top, "checks": []}


def draw(state: State, data: dict, fig: Figure | None = None) -> Figure:
    """Loss and accuracy against epoch, train (solid) and validation (dashed); ``data``: what
    :func:`compute` gave for ``state``. Returns the Figure."""
    fig, art = prepare(fig, (9.0, 3.0), _build)
    ep = np.array(state.epoch)
    x_top, loss_top = data["x_top"], data["loss_top"]
    for what, top in (("loss", loss_top), ("acc", 1.02)):
        ax, train, val = art[what]
        va = np.array(getattr(state, f"val_{what}"))
        train.set_data(ep, np.array(getattr(state, f"train_{what}")))
        val.set_data(ep if len(va) else [], va)
        ax.set_xlim(0.5 if x_top > 4 else 0.0, x_top + 0.5)
        ax.set_ylim(0.0, top)
    return fig


def _epoch_axes(art: dict) -> list:
    """The epoch axis (ticks and grid) of both panels, then the frames over them."""
    return [part for what in ("loss", "acc") for part in (art[what][0].xaxis, *art[what][0].spines.values())]


class TrainingDashboard(Explorer):
    """Live curves. ``update(history)`` redraws (usable directly as ``on_epoch_end=dashboard.update``)."""

    draw = staticmethod(draw)
    # between steps of the axes (see axis_tops) only the curves are redrawn; a doubling epoch axis redraws
    # its ticks alone (the legends copied back over its grid); a loss spike redraws everything (rare)
    blit = Blit(animated=lambda art: [art[what][i] for what in ("loss", "acc") for i in (1, 2)],
                rarely=_epoch_axes, on_top=lambda art: [art["loss legend"], art["acc legend"]],
                static_key=lambda state, data: data["loss_top"], middle_key=lambda state, data: data["x_top"])

    def __init__(self, title: str = "Training: loss and accuracy"):
        super().__init__(title)
        self._history = State()
        self.controls = {}
        from ipywidgets import HBox

        self._build(HBox([]))

    def update(self, history) -> None:
        """Redraw with ``history`` (the course's history dict). A malformed history is shown in the widget
        and raised (TypeError/ValueError) so the training loop stops at the bug."""
        try:
            self._history = make_state(history)
        except (TypeError, ValueError) as exc:
            self._show_error(exc)
            raise
        self.redraw()

    def read_state(self) -> State:
        return self._history

    def compute(self, state: State) -> dict:
        return compute(state)

    def describe_html(self, state: State, data: dict) -> str:
        if not state.epoch:
            return "waiting for the first epoch&hellip;"
        last = [f"epoch {state.epoch[-1]:g}: train loss {state.train_loss[-1]:.4f}, "
                f"train accuracy {100 * state.train_acc[-1]:.1f}%"]
        if state.val_loss and np.isfinite(state.val_loss[-1]):  # NaN: no validation set
            last.append(f"validation loss {state.val_loss[-1]:.4f}, "
                        f"validation accuracy <b>{100 * state.val_acc[-1]:.1f}%</b>")
        return "; ".join(last)

    def alt_text(self, state: State, data: dict) -> str:
        if not state.epoch:
            return "Two empty charts, loss and accuracy against epoch: waiting for the first epoch."
        text = (f"Two charts against epoch, train (solid line, circles) and validation (dashed, squares), "
                f"{len(state.epoch)} epoch(s) so far. Loss: train {number(state.train_loss[-1])}")
        has_val = bool(state.val_loss) and np.isfinite(state.val_loss[-1])
        if has_val:
            text += f", validation {number(state.val_loss[-1])}"
        text += f" (lowest train loss {number(np.nanmin(state.train_loss))}). Accuracy: train " \
                f"{100 * state.train_acc[-1]:.1f}%"
        if has_val:
            text += f", validation {100 * state.val_acc[-1]:.1f}% (best {100 * np.nanmax(state.val_acc):.1f}%)"
        return text + f", at epoch {state.epoch[-1]:g}."

    def describe(self, state: State, data: dict) -> str:
        return f"epochs={len(state.epoch)}"
