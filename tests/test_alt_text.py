"""Figures' text alternatives (course_utils.alt_text): generated from what a figure draws, carried into the
``<img>`` a notebook shows, and installed in a kernel without touching matplotlib's backend."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from matplotlib.figure import Figure

from course_utils import alt_text

from suite_helpers import REPO


def _fig(rows=1, cols=1, **kwargs):
    fig = Figure()
    axes = fig.subplots(rows, cols, squeeze=False, **kwargs).ravel()
    return fig, axes


# ------------------------------------------------------------------------------------------------ lines
def test_lines_say_what_is_plotted_over_which_range_and_their_first_and_last_values():
    fig, (ax,) = _fig()
    ax.plot([1, 2, 3], [0.2, 0.9, 0.998], "o-", label="registered")
    ax.plot([1, 2, 3], [0.2, 0.5, 0.604], "s--", label="translated")
    ax.axhline(0.1, ls=":", label="chance")
    ax.set(title="test accuracy", xlabel="epoch", ylabel="accuracy")
    assert alt_text.describe(fig) == ("test accuracy: accuracy vs epoch 1 to 3; registered from 0.2 to 0.998; "
                                      "translated from 0.2 to 0.604; chance at 0.1.")


def test_lines_over_different_ranges_say_each_their_own():
    fig, (ax,) = _fig()
    ax.plot([0, 10], [1.0, 0.5], label="long run")
    ax.plot([0, 5], [1.0, 0.7], label="stopped early")
    ax.set(xlabel="epoch", ylabel="loss")
    assert alt_text.describe(fig) == ("loss vs epoch; long run from 1 to 0.5 (epoch 0 to 10); stopped early from 1 "
                                      "to 0.7 (epoch 0 to 5).")


def test_a_line_that_dips_says_its_lowest_value_a_flat_one_says_so_and_unlabelled_lines_are_counted():
    fig, (ax,) = _fig()
    ax.plot([0, 1, 2, 3], [2.3, 0.4, 0.9, 1.5], label="validation loss")
    ax.plot([0, 1, 2, 3], [0.1, 0.1, 0.1, 0.1], label="not shuffled")
    ax.plot([0, 1], [1, 1])
    text = alt_text.describe(fig)
    assert "validation loss from 2.3 to 1.5, lowest 0.4, highest 2.3" in text
    assert "not shuffled flat at 0.1" in text and "1 unlabelled line" in text


def test_reference_lines_say_where_they_are_once():
    fig, (ax,) = _fig()
    ax.plot([1, 2, 3], [1.0, 0.5, 0.6], label="validation")
    ax.axvline(2, ls=":", label="best validation loss (epoch 2)")
    ax.axvline(3, ls="--", label="stopped")
    ax.set(xlabel="epoch", ylabel="loss")
    text = alt_text.describe(fig)
    assert text.endswith("; best validation loss (epoch 2); stopped at epoch 3."), text


def test_errorbars_are_lines_with_their_containers_label_and_ticks_that_carry_words_name_the_range():
    fig, (ax,) = _fig()
    ax.errorbar([1, 2, 4], [0.5, 0.3, 0.2], yerr=[0.1, 0.1, 0.05], marker="o", capsize=3, label="max-pool")
    ax.set_xticks([1, 2, 4], ["none", "2x2", "4x4"])
    ax.set(xlabel="pooling window", ylabel="relative change")
    assert alt_text.describe(fig) == "relative change vs pooling window none to 4x4; max-pool from 0.5 to 0.2."


def test_a_panel_sharing_its_y_axis_borrows_the_label():
    fig, axes = _fig(1, 2, sharey=True)
    for ax, name in zip(axes, ["registered", "translated"]):
        ax.plot([1, 2], [0.5, 0.9], label="test")
        ax.set(title=name, xlabel="epoch")
    axes[0].set_ylabel("accuracy")
    assert alt_text.describe(fig) == ("registered: accuracy vs epoch 1 to 2; test from 0.5 to 0.9. "
                                      "translated: accuracy vs epoch 1 to 2; test from 0.5 to 0.9.")


# ------------------------------------------------------------------------------------------- direct labels
def test_label_lines_writes_each_label_where_its_line_ends_apart_and_the_description_skips_them():
    fig, (ax,) = _fig()
    ax.plot([1, 2, 3], [0.1, 0.5, 0.960], "o-", label="train")
    ax.plot([1, 2, 3], [0.1, 0.4, 0.955], "s--", label="validation")
    ax.plot([1, 2, 3], [0.1, 0.1, 0.1], "^:", label="not shuffled")
    ax.plot([1, 3], [0, 0], color="k")  # no label: no direct label
    ax.set(xlabel="epoch", ylabel="accuracy", ylim=(0, 1))
    before = alt_text.describe(fig)
    labels = alt_text.label_lines(ax, gap=0.07)
    assert [a.get_text() for a in labels] == ["not shuffled", "validation", "train"]
    heights = [a.xyann[1] for a in labels]
    assert heights[0] == pytest.approx(0.1) and heights[2] == pytest.approx(1.0)  # at its line's end
    assert np.diff(heights).min() >= 0.07 - 1e-9  # moved apart, none above the axes
    assert all(a.xyann[0] > 1 and a.get_gid() == alt_text.DIRECT_LABEL for a in labels)  # right of the axes
    assert [a.arrow_patch.get_edgecolor() for a in labels] == [
        pytest.approx(np.r_[matplotlib_rgb(line.get_color()), 1]) for line in ax.get_lines()[2::-1]]
    assert alt_text.describe(fig) == before


def matplotlib_rgb(color):
    from matplotlib.colors import to_rgb

    return to_rgb(color)


# ------------------------------------------------------------------------------------------------ bars
def test_bars_say_their_tick_labels_and_heights_and_the_values_printed_on_them_are_not_repeated():
    fig, (ax,) = _fig()
    bars = ax.bar(["conv1", "conv2", "fc"], [1e3, 2.5e4, 4.1e6], hatch="//")
    ax.bar_label(bars, labels=["1K", "25K", "4.1M"])
    ax.set_title("weights per layer")
    assert alt_text.describe(fig) == "weights per layer: bars: conv1 1,000, conv2 25,000, fc 4,100,000."


def test_grouped_bars_say_their_series():
    fig, (ax,) = _fig()
    for k, (name, accs) in enumerate({"MLP": [0.95, 0.46], "ConvNet": [0.97, 0.72]}.items()):
        ax.bar_label(ax.bar(np.arange(2) + (k - 0.5) * 0.4, accs, 0.4, label=name), fmt="%.2f")
    ax.set_xticks(range(2), ["test set", "shifted 1 px"])
    ax.set_ylabel("accuracy")
    assert alt_text.describe(fig) == ("accuracy; bars MLP: test set 0.95, shifted 1 px 0.46; bars ConvNet: test set "
                                      "0.97, shifted 1 px 0.72.")


# ------------------------------------------------------------------------------------------------ images
def test_image_panels_are_listed_by_title_with_their_size():
    fig, axes = _fig(1, 3)
    for ax, name in zip(axes, ["original", "shifted", "noisy"]):
        ax.imshow(np.arange(28 * 28).reshape(28, 28))
        ax.set_title(f"{name}\ndistance 0.1")
    assert alt_text.describe(fig) == ("3 images of 28x28 pixels: original, distance 0.1, shifted, distance 0.1, "
                                      "noisy, distance 0.1.")


def test_a_flat_image_says_its_value_and_a_colour_bar_gives_the_values():
    fig, axes = _fig(1, 2)
    axes[0].imshow(np.zeros((4, 4)))
    axes[0].set_title("conv2 ch 7")
    im = axes[1].imshow(np.array([[-0.5, 0.25], [0.0, 1.5]]), cmap="RdBu_r")
    fig.colorbar(im, ax=axes[1])
    axes[1].set_title("response")
    assert alt_text.describe(fig) == "2 images: conv2 ch 7, all 0, response, values -0.5 to 1.5."


def test_numbers_written_on_a_grid_are_read_row_by_row():
    fig, (ax,) = _fig()
    k = np.arange(1, 7).reshape(2, 3)
    ax.imshow(k)
    for (r, c), v in np.ndenumerate(k):
        ax.text(c, r, f"{v}")
    ax.set_title("kernel k")
    assert alt_text.describe(fig) == "kernel k: image 2x3; values by row [1, 2, 3], [4, 5, 6]."


def test_panels_keep_their_order_and_a_3d_panel_says_what_is_over_what():
    fig = Figure()
    fig.suptitle("three panels")
    a, b, c = fig.add_subplot(1, 3, 1), fig.add_subplot(1, 3, 2), fig.add_subplot(1, 3, 3, projection="3d")
    a.imshow(np.eye(3))
    a.set_title("input")
    b.plot([0, 1], [1, 0], label="loss")
    b.set(xlabel="step")
    rows, cols = np.mgrid[0:3, 0:3]
    c.plot_surface(cols, rows, rows * cols)
    c.set(xlabel="width", ylabel="filter", zlabel="height")
    assert alt_text.describe(fig) == ("three panels. 1 image of 3x3 pixels: input. values vs step 0 to 1; loss from 1 "
                                      "to 0. 3-D plot of height over width and filter; 1 surface.")


def test_many_items_are_cut_short_and_an_empty_figure_says_so():
    fig, axes = _fig(2, 6)
    for i, ax in enumerate(axes):
        ax.imshow(np.arange(9).reshape(3, 3))
        ax.set_title(str(i))
    assert alt_text.describe(fig).endswith("0, 1, 2, 3, 4, 5, 6, 7, 8, 9 and 2 more.")
    assert alt_text.describe(Figure()) == "An empty figure."


# --------------------------------------------------------------------------------------- own alternative, HTML
def test_a_figures_own_alternative_wins_and_must_be_text():
    fig, (ax,) = _fig()
    ax.plot([1, 2])
    alt_text.set_alt(fig, "  the loss falls\n to 0.1 ")
    assert alt_text.alt_of(fig) == "the loss falls to 0.1"
    with pytest.raises(TypeError, match="set_alt: text must be a non-empty string, got ''"):
        alt_text.set_alt(fig, "")


def test_the_html_has_the_picture_and_its_escaped_alternative():
    fig, (ax,) = _fig()
    ax.plot([1, 2], label='"a" <b> & c')
    page = alt_text.figure_html(fig)
    src, alt = re.fullmatch(r'<img src="data:image/png;base64,([^"]+)" alt="([^"]*)"/>', page).groups()
    assert len(src) > 1000
    assert html.unescape(alt) == alt_text.alt_of(fig) and '"a" <b> & c' in html.unescape(alt)
    assert "<b>" not in alt and '"a"' not in alt


def test_numbers_read_well():
    assert [alt_text.number(v) for v in (1327104, 0.99812, -0.5204, 5.123e-5, float("nan"), float("inf"))] == [
        "1,327,104", "0.998", "-0.52", "5.12e-05", "NaN", "inf"]


# ------------------------------------------------------------------------------------------------ in a kernel
NOTEBOOK = {
    "cells": [
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "id": "a",
         "source": "import course_utils\nimport matplotlib.pyplot as plt\n"
                   "plt.plot([1, 2, 3], label='loss'); plt.title('training'); plt.show()"},
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "id": "b",
         "source": "%matplotlib inline\nplt.imshow([[0, 1], [1, 0]]); plt.title('checkerboard')"},
    ],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    "nbformat": 4, "nbformat_minor": 5,
}


def _run(nb_dict, tmp_path):
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.from_dict(nb_dict)
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    return nb


def test_in_a_kernel_every_figure_is_one_img_with_its_alternative(tmp_path, monkeypatch):
    """As a notebook runs it: pyplot first imported in the same cell as the figure, then `%matplotlib inline`
    (which resets the figures' formatters) before the next one. Each figure is stored once, as HTML."""
    monkeypatch.delenv("MPLBACKEND", raising=False)  # as in JupyterLab: the kernel's inline backend
    nb = _run(NOTEBOOK, tmp_path)
    shown = [o for c in nb.cells for o in c.outputs if o.output_type == "display_data"]
    assert [sorted(o.data) for o in shown] == [["text/html", "text/plain"]] * 2
    alts = [html.unescape(re.search(r'alt="([^"]*)"', o.data["text/html"]).group(1)) for o in shown]
    assert alts == ["training: loss from 1 to 3 (x 0 to 2).", "1 image of 2x2 pixels: checkerboard."]


def test_in_a_kernel_that_imported_pyplot_first_the_figures_are_described_too(tmp_path, monkeypatch):
    monkeypatch.delenv("MPLBACKEND", raising=False)
    code = ("import matplotlib.pyplot as plt\nimport course_utils\n"
            "plt.bar(['a', 'b'], [1, 2]); plt.title('counts'); plt.show()")
    nb = _run({**NOTEBOOK, "cells": [{**NOTEBOOK["cells"][0], "source": code}]}, tmp_path)
    [shown] = [o for o in nb.cells[0].outputs if o.output_type == "display_data"]
    assert sorted(shown.data) == ["text/html", "text/plain"]
    assert html.unescape(re.search(r'alt="([^"]*)"', shown.data["text/html"]).group(1)) == "counts: bars: a 1, b 2."


def test_importing_the_package_in_a_kernel_keeps_matplotlibs_backend(tmp_path, monkeypatch):
    monkeypatch.delenv("MPLBACKEND", raising=False)
    code = ("import sys\nimport course_utils\nassert 'matplotlib' not in sys.modules  # nothing heavy\n"
            "import json, matplotlib\nbefore = matplotlib.rcParams._get_backend_or_none()\n"
            "course_utils.alt_text.install()\nassert 'matplotlib.pyplot' not in sys.modules\n"
            "print(json.dumps([before, matplotlib.rcParams._get_backend_or_none(), matplotlib.get_backend()]))")
    nb = _run({**NOTEBOOK, "cells": [{**NOTEBOOK["cells"][0], "source": code}]}, tmp_path)
    before, after, resolved = json.loads(nb.cells[0].outputs[0].text)
    assert before == after == resolved and "inline" in resolved, (before, after, resolved)


FRESH = """
import json, sys
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()  # IPython without a kernel: install() hooks in, the backend is the user's
import matplotlib
chosen = matplotlib.rcParams._get_backend_or_none()
import course_utils
import matplotlib.pyplot as plt
fig = plt.figure()
fig.add_subplot().plot([1, 2], label="loss")
data, _ = shell.display_formatter.format(fig)
print(json.dumps([chosen, matplotlib.get_backend(), sorted(data), course_utils.alt_text.alt_of(fig)]))
"""


@pytest.mark.parametrize("backend", ["svg", "agg"])
def test_importing_the_package_in_a_fresh_process_leaves_the_chosen_backend(backend):
    env = {**os.environ, "MPLBACKEND": backend}
    out = subprocess.run([sys.executable, "-c", FRESH], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=120, check=True).stdout
    chosen, used, mimes, alt = json.loads(out.strip().splitlines()[-1])
    assert chosen == used == backend
    assert mimes == ["text/html", "text/plain"] and alt == "loss from 1 to 2 (x 0 to 1)."
