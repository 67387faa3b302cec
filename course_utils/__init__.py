"""Course utilities for "Convolutional Networks for Object Recognition": what students read and call.

Sub-packages (import what you need; nothing heavy is imported here):

- ``course_utils.counting``      parameter and multiply-add counting (fully connected, locally connected, conv,
                                 any nn.Module), the lecture's AlexNet table, VGG's configurations
- ``course_utils.reference``     NumPy reference implementations of every layer in the lecture
- ``course_utils.exercises``     one spec per exercise; ``check(name, your_function)`` is a notebook's self-check
- ``course_utils.checks``        the self-check helpers and their messages (case, expected, got, hint)
- ``course_utils.data``          bundled, offline data: synthetic shapes, digits (the one split), real photos
- ``course_utils.history``       the training history every loop returns
- ``course_utils.widgets``       ipywidgets explorers (compute once -> pure draw -> thin view)
- ``course_utils.torch_track``   the PyTorch track: devices, data loaders, models, training loop, FGSM

The instructor's tools (grading, the grading sandbox, benchmarks) are ``course_tools``, which depends on
this package, never the reverse.
"""

__version__ = "0.1.0"
