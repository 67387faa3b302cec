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
- ``course_utils.alt_text``      text alternatives of figures (in IPython, importing this package shows every
                                 figure with one)

The instructor's tools (grading, the grading sandbox, benchmarks) are ``course_tools``, which depends on
this package, never the reverse.
"""

__version__ = "0.1.0"


def _in_ipython() -> bool:
    import sys

    return "IPython" in sys.modules and getattr(sys.modules["IPython"], "get_ipython", lambda: None)() is not None


if _in_ipython():  # figures shown with a text alternative (course_utils.alt_text; the backend is left as it is)
    from course_utils import alt_text as _alt_text

    _alt_text.install()
