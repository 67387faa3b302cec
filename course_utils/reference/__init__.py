"""NumPy reference implementations of every layer in the lecture (NCHW, PyTorch's conventions).

Read one module per idea:

* :mod:`.conv`              convolution: ``conv2d_forward/backward`` (fast) and ``*_naive`` (loops),
                            ``conv_output_size``
* :mod:`.locally_connected` untied weights, and the slide-30 demonstration of tied-weight gradients
* :mod:`.pooling`           max / average pooling
* :mod:`.layers`            ReLU, linear, softmax cross-entropy
* :mod:`.receptive_field`   analytic and empirical (torch autograd) receptive fields
* :mod:`.gradcheck`         numerical gradients and CS231n-style relative errors
* :mod:`.sequential`        a minimal NumPy ``Sequential`` CNN trained with SGD + momentum

Every function is checked against ``torch.nn.functional`` in float64 by the test suite.
"""

from .conv import (
    conv2d_backward,
    conv2d_backward_naive,
    conv2d_forward,
    conv2d_forward_naive,
    conv_output_size,
)
from .layers import linear_backward, linear_forward, relu_backward, relu_forward, softmax_cross_entropy
from .pooling import avgpool2d_backward, avgpool2d_forward, maxpool2d_backward, maxpool2d_forward
from .receptive_field import EmpiricalField, ReceptiveField, empirical_receptive_field, receptive_field

__all__ = [
    "EmpiricalField",
    "ReceptiveField",
    "avgpool2d_backward",
    "avgpool2d_forward",
    "conv2d_backward",
    "conv2d_backward_naive",
    "conv2d_forward",
    "conv2d_forward_naive",
    "conv_output_size",
    "empirical_receptive_field",
    "linear_backward",
    "linear_forward",
    "maxpool2d_backward",
    "maxpool2d_forward",
    "receptive_field",
    "relu_backward",
    "relu_forward",
    "softmax_cross_entropy",
]
