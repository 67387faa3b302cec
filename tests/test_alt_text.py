"""Figures' text alternatives (course_utils.alt_text): generated from what a figure draws, carried into the
``<img>`` a notebook shows, and installed in a kernel without touching matplotlib's backend."""

from __future__ import annotations

import html
import json
import re

import numpy as np
import pytest
from matplotlib.figure import Figure

from course_utils import alt_text


def _fig(rows=1, cols=1):
    fig = Figure()
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    return fig, axes


def test_lines_say_their_labels_axes_and_first_and_last_values():
    fig, (ax,) = _fig()
    ax.plot([1, 2, 3], [0.2, 0.9, 0.998], "o-", label="registered")
    ax.plot([1, 2, 3], [0.2, 0.5, 0.604], "s--", label="translated")
    ax.axhline(0.1, ls=":", label="chance")
    ax.set(title="test accuracy", xlabel="epoch", ylabel="accuracy")
    text = alt_text.describe(fig)
    assert text.startswith("test accuracy: accuracy vs epoch")
    assert "registered from 0.2 to 0.998 (epoch 1 to 3)" in text and "translated from 0.2 to 0.604" in text
    assert "chance at 0.1" in text


def test_a_line_that_dips_says_its_lowest_value_and_unlabelled_lines_are_counted():
    fig, (ax,) = _fig()
    ax.plot([0, 1, 2, 3], [2.3, 0.4, 0.9, 1.5], label="validation loss")
    ax.plot([0, 1], [1, 1])
    text = alt_text.describe(fig)
    assert "lowest 0.4, highest 2.3" in text and "1 unlabelled line" in text


def test_errorbars_are_lines_with_their_containers_label():
    fig, (ax,) = _fig()
    ax.errorbar([1, 2, 4], [0.5, 0.3, 0.2], yerr=[0.1, 0.1, 0.05], marker="o", capsize=3, label="max-pool")
    ax.set(xlabel="pooling window", ylabel="relative change")
    text = alt_text.describe(fig)
    assert text == "relative change vs pooling window; max-pool from 0.5 to 0.2 (pooling window 1 to 4).", text


def test_bars_say_their_tick_labels_and_heights():
    fig, (ax,) = _fig()
    ax.bar(["conv1", "conv2", "fc"], [1e3, 2.5e4, 4.1e6])
    ax.set_title("weights per layer")
    assert alt_text.describe(fig) == "weights per layer: bars: conv1 1,000, conv2 25,000, fc 4,100,000."


def test_image_panels_are_listed_by_title_with_their_size():
    fig, axes = _fig(1, 3)
    for ax, name in zip(axes, ["original", "shifted", "noisy"]):
        ax.imshow(np.zeros((28, 28)))
        ax.set_title(f"{name}\ndistance 0.1")
    assert alt_text.describe(fig) == ("3 images of 28x28 pixels: original distance 0.1, shifted distance 0.1, "
                                      "noisy distance 0.1.")


def test_many_items_are_cut_short_and_an_empty_figure_says_so():
    fig, axes = _fig(2, 6)
    for i, ax in enumerate(axes):
        ax.imshow(np.zeros((3, 3)))
        ax.set_title(str(i))
    assert alt_text.describe(fig).endswith("0, 1, 2, 3, 4, 5, 6, 7 and 4 more.")
    assert alt_text.describe(Figure()) == "An empty figure."


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


def test_in_a_kernel_every_figure_is_one_img_with_its_alternative(tmp_path, monkeypatch):
    """As a notebook runs it: pyplot first imported in the same cell as the figure, then `%matplotlib inline`
    (which resets the figures' formatters) before the next one. Each figure is stored once, as HTML."""
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.delenv("MPLBACKEND", raising=False)  # as in JupyterLab: the kernel's inline backend
    nb = nbformat.from_dict(NOTEBOOK)
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    shown = [o for c in nb.cells for o in c.outputs if o.output_type == "display_data"]
    assert [sorted(o.data) for o in shown] == [["text/html", "text/plain"]] * 2
    alts = [html.unescape(re.search(r'alt="([^"]*)"', o.data["text/html"]).group(1)) for o in shown]
    assert alts == ["training: loss from 1 to 3 (x 0 to 2).", "1 image of 2x2 pixels: checkerboard."]


def test_in_a_kernel_that_imported_pyplot_first_the_figures_are_described_too(tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.delenv("MPLBACKEND", raising=False)
    code = ("import matplotlib.pyplot as plt\nimport course_utils\n"
            "plt.bar(['a', 'b'], [1, 2]); plt.title('counts'); plt.show()")
    nb = nbformat.from_dict({**NOTEBOOK, "cells": [{**NOTEBOOK["cells"][0], "source": code}]})
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    [shown] = [o for o in nb.cells[0].outputs if o.output_type == "display_data"]
    assert sorted(shown.data) == ["text/html", "text/plain"]
    assert html.unescape(re.search(r'alt="([^"]*)"', shown.data["text/html"]).group(1)) == "counts: bars: a 1, b 2."


def test_importing_the_package_in_a_kernel_keeps_matplotlibs_backend(tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.delenv("MPLBACKEND", raising=False)

    code = ("import sys\nimport course_utils\nassert 'matplotlib' not in sys.modules  # nothing heavy\n"
            "import json, matplotlib\nbefore = matplotlib.rcParams._get_backend_or_none()\n"
            "course_utils.alt_text.install()\nassert 'matplotlib.pyplot' not in sys.modules\n"
            "print(json.dumps([before, matplotlib.rcParams._get_backend_or_none(), matplotlib.get_backend()]))")
    nb = nbformat.from_dict({**NOTEBOOK, "cells": [{**NOTEBOOK["cells"][0], "source": code}]})
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    before, after, resolved = json.loads(nb.cells[0].outputs[0].text)
    assert before == after == resolved and "inline" in resolved, (before, after, resolved)
