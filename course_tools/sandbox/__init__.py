"""The grading sandbox: autograded student code runs in a bubblewrap sandbox, not as the instructor.

- ``python -m course_tools.sandbox install``: install the ``course-sandbox`` kernelspec into this
  environment (nbgrader_config.py selects it with ``c.Execute.kernel_name``).
- ``python -m course_tools.sandbox check``: start one sandboxed kernel and show what it can see.
- ``COURSE_ALLOW_UNSANDBOXED_GRADING=1``: the instructor's explicit switch to grade without the sandbox
  where bubblewrap cannot run (trusted notebooks only); without it grading refuses to start.

Modules: ``policy`` (what the sandbox allows: the bwrap command line and the ``Limits``), ``cgroups``
(limits on the kernel as a whole), ``relay`` (Jupyter's ports to the kernel's Unix sockets), ``kernel``
(the launcher, outside the sandbox), ``inner`` (the kernel's own start-up, inside it), ``kernelspec``
(installing it).
"""

from .kernel import ALLOW_ENV, SandboxUnavailable, check_sandbox, unsandboxed_allowed
from .kernelspec import KERNEL_NAME, install
from .policy import Limits

__all__ = [
    "ALLOW_ENV",
    "KERNEL_NAME",
    "Limits",
    "SandboxUnavailable",
    "check_sandbox",
    "install",
    "unsandboxed_allowed",
]
