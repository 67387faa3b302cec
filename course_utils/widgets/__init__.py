"""Interactive explorers for the lecture's ideas, driven by the student's own functions.

Each widget lives in its own module as model (plain NumPy state, clamped) -> pure ``draw(state)`` -> thin
ipywidgets view (see ``_view.py``). An instance displays itself when it is the last expression of a cell.

- ``ParamCountExplorer``      fully connected / locally connected / conv parameter counts (slides 8, 9, 23)
"""

from course_utils.widgets.param_count import ParamCountExplorer

__all__ = ["ParamCountExplorer"]
