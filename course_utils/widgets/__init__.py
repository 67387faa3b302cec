"""Interactive explorers for the lecture's ideas, driven by the student's own functions.

Each widget lives in its own module as model (plain NumPy state, clamped) -> pure ``draw(state)`` -> thin
ipywidgets view (see ``_view.py``). An instance displays itself when it is the last expression of a cell.
A function given to it (``conv_fn=``, ``pool_fn=``, ``size_fn=``, ``rf_fn=``, ``fc_fn=`` ...) is what it
draws, and a line says whether it agrees with the course reference at the current setting; a wrong return
type or shape, or an error raised by it, is shown once in place of the picture. After each redraw a hidden
status label (class ``cu-status``, for the browser tests) reads ``rendered ... #n``.

- ``ParamCountExplorer``      fully connected / locally connected / conv parameter counts (slides 8, 9, 23)
- ``ConvolutionExplorer``     a kernel sliding over a photo: dot product, response map (slides 22, 32)
- ``HyperparameterExplorer``  input, kernel, stride, padding, dilation -> window grid and output size (24)
- ``PoolingExplorer``         max/avg pooling, window winners, effect of a 1-pixel shift (26-28)
- ``ReceptiveFieldExplorer``  a unit's field on the input and every map, analytic vs autograd (29)
- ``FilterActivationViewer``  filters, feature maps, top-activating patches of a trained model (46-49)
- ``AdversarialExplorer``     FGSM: image, perturbation, prediction as eps grows (51)
- ``TrainingDashboard``       live loss/accuracy curves; ``on_epoch_end=dashboard.update``
"""

from course_utils.widgets.adversarial import AdversarialExplorer
from course_utils.widgets.convolution import ConvolutionExplorer
from course_utils.widgets.dashboard import TrainingDashboard
from course_utils.widgets.filters import FilterActivationViewer
from course_utils.widgets.hyperparams import HyperparameterExplorer
from course_utils.widgets.param_count import ParamCountExplorer
from course_utils.widgets.pooling import PoolingExplorer
from course_utils.widgets.receptive_field import ReceptiveFieldExplorer

__all__ = [
    "AdversarialExplorer",
    "ConvolutionExplorer",
    "FilterActivationViewer",
    "HyperparameterExplorer",
    "ParamCountExplorer",
    "PoolingExplorer",
    "ReceptiveFieldExplorer",
    "TrainingDashboard",
]
