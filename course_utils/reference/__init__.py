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
* :mod:`.digits_cnn`        conv-ReLU-pool-linear on scikit-learn's digits: train / validation / test
                            splits, early stopping on validation, test accuracy measured once at the end

Every function is checked against ``torch.nn.functional`` in float64 by the test suite.
"""

from .conv import (
    Conv2dCache,
    conv2d_backward,
    conv2d_backward_cached,
    conv2d_backward_naive,
    conv2d_forward,
    conv2d_forward_cached,
    conv2d_forward_naive,
    conv_output_size,
)
from .digits_cnn import DigitsRun, make_digits_cnn, train_digits_cnn
from .gradcheck import GradientCheck, gradient_check, numerical_gradient, relative_error
from .layers import linear_backward, linear_forward, relu_backward, relu_forward, softmax_cross_entropy
from .locally_connected import (
    TiedWeightDemo,
    locally_connected_backward,
    locally_connected_forward,
    tied_weight_gradient_demo,
)
from .pooling import avgpool2d_backward, avgpool2d_forward, maxpool2d_backward, maxpool2d_forward
from .receptive_field import EmpiricalField, ReceptiveField, empirical_receptive_field, receptive_field
from .sequential import SGD, AvgPool2d, Conv2d, Flatten, Layer, Linear, MaxPool2d, ReLU, Sequential

__all__ = [
    "Conv2dCache",
    "conv2d_backward_cached",
    "conv2d_forward_cached",
    "AvgPool2d",
    "Conv2d",
    "DigitsRun",
    "EmpiricalField",
    "Flatten",
    "GradientCheck",
    "Layer",
    "Linear",
    "MaxPool2d",
    "ReLU",
    "ReceptiveField",
    "SGD",
    "Sequential",
    "TiedWeightDemo",
    "avgpool2d_backward",
    "avgpool2d_forward",
    "conv2d_backward",
    "conv2d_backward_naive",
    "conv2d_forward",
    "conv2d_forward_naive",
    "conv_output_size",
    "empirical_receptive_field",
    "gradient_check",
    "linear_backward",
    "linear_forward",
    "locally_connected_backward",
    "locally_connected_forward",
    "make_digits_cnn",
    "maxpool2d_backward",
    "maxpool2d_forward",
    "numerical_gradient",
    "receptive_field",
    "relative_error",
    "relu_backward",
    "relu_forward",
    "softmax_cross_entropy",
    "tied_weight_gradient_demo",
    "train_digits_cnn",
]
