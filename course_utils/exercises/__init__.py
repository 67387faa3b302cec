"""One spec per exercise students write (notebooks 01-09, assignments a1-a3), organised by topic.

>>> check("conv_output_size", lambda size, kernel_size, stride=1, padding=0:
...       (size + 2 * padding - kernel_size) // stride + 1)
OK: conv_output_size agrees with the course's reference on 17 cases
>>> def my_conv(x, w, b=None, stride=1, padding=0):
...     raise NotImplementedError
>>> check("conv2d_forward", my_conv)
not attempted yet: my_conv still raises NotImplementedError; write it, run its cell, then this one

Modules: ``core`` (the ``Exercise`` dataclass, the registry, ``check``, ``judged_alone``, the known
``Mistake`` s and ``diagnose``) and one per topic:
``counting``, ``convolution``, ``backprop``, ``pooling``, ``deep``, ``training``, ``adversarial``,
``visualisation``.
"""

from . import adversarial, backprop, convolution, counting, deep, pooling, training, visualisation  # noqa: F401

# (the imports above register the exercises)
from .core import (
    EXERCISES,
    ITEMS,
    LOW_PRECISION,
    NOT_ATTEMPTED,
    TOLERANCES,
    Exercise,
    Mistake,
    Variants,
    check,
    diagnose,
    diagnose_error,
    get,
    judged_alone,
    mistake_named_in,
    references,
)

__all__ = ["EXERCISES", "ITEMS", "LOW_PRECISION", "NOT_ATTEMPTED", "TOLERANCES", "Exercise", "Mistake", "Variants",
           "check", "diagnose", "diagnose_error", "get", "judged_alone", "mistake_named_in", "references"]
