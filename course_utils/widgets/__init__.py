"""Interactive explorers for the lecture's ideas, driven by the student's own functions.

Each widget lives in its own module as model (plain NumPy state, clamped) -> pure ``draw(state)`` -> thin
ipywidgets view (see ``_view.py``). An instance displays itself when it is the last expression of a cell.

- ``ParamCountExplorer``      fully connected / locally connected / conv parameter counts (slides 8, 9, 23)
- ``ConvolutionExplorer``     a kernel sliding over a photo: dot product, response map (slides 22, 32)
- ``HyperparameterExplorer``  input, kernel, stride, padding, dilation -> window grid and output size (24)
- ``ReceptiveFieldExplorer``  a unit's field on the input and every map, analytic vs autograd (29)
"""

from course_utils.widgets.convolution import ConvolutionExplorer
from course_utils.widgets.hyperparams import HyperparameterExplorer
from course_utils.widgets.param_count import ParamCountExplorer
from course_utils.widgets.receptive_field import ReceptiveFieldExplorer

__all__ = ["ConvolutionExplorer", "HyperparameterExplorer", "ParamCountExplorer", "ReceptiveFieldExplorer"]
