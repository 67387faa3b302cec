"""Course utilities for "Convolutional Networks for Object Recognition".

Sub-packages (import what you need; nothing heavy is imported here):

- ``course_utils.counting``      parameter and FLOP counting (fully connected, locally connected, conv, any nn.Module)
- ``course_utils.reference``     NumPy reference implementations of every layer in the lecture
- ``course_utils.data``          bundled, offline data: synthetic shapes, digits, real photos
- ``course_utils.checks``        self-checks that say what was expected when they fail
- ``course_utils.widgets``       ipywidgets explorers (model -> pure draw -> thin view)
- ``course_utils.torch_track``   the PyTorch track: devices, data loaders, models, training loop
"""

__version__ = "0.1.0"
