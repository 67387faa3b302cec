"""Install the grading kernelspec (``course-sandbox``) into the environment's share/jupyter/kernels.

nbgrader selects it with ``c.Execute.kernel_name = "course-sandbox"`` (nbgrader_config.py), so every
autograde path (``make grade``, the nbgrader CLI and Python API, the formgrader) runs student code in the
sandbox. The kernelspec starts ``python -I -m course_tools.sandbox kernel`` with this environment's Python.
"""

import json
import os
import sys
from pathlib import Path

from .policy import Limits

DEFAULT_LIMITS = Limits()

KERNEL_NAME = "course-sandbox"
DISPLAY_NAME = "Python 3 (course, grading sandbox)"


def kernel_json(limits=DEFAULT_LIMITS, python=None):
    """The kernelspec dict that starts the sandboxed kernel with ``python`` (default: this Python)."""
    if not isinstance(limits, Limits):
        raise TypeError(f"limits: expected a course_tools.sandbox.Limits, got {type(limits).__name__}")
    python = python or sys.executable
    return {
        # -I (isolated): the launcher runs with the submission folder as its working directory, and must
        # import nothing from there (nor read PYTHON* variables or the user's site-packages).
        "argv": [python, "-I", "-m", "course_tools.sandbox", "kernel", *limits.as_args(),
                 "-f", "{connection_file}"],
        "display_name": DISPLAY_NAME,
        "language": "python",
        # Interrupts travel as control messages: a signal to the launcher's process group would also reach
        # bwrap, which dies of SIGINT and takes the kernel with it.
        "interrupt_mode": "message",
        "metadata": {"debugger": False, "course_sandbox": True},
    }


def kernels_dir(prefix=None):
    """``<prefix>/share/jupyter/kernels`` (prefix defaults to this environment, ``sys.prefix``)."""
    return Path(prefix or sys.prefix, "share", "jupyter", "kernels")


def install(prefix=None, limits=DEFAULT_LIMITS, python=None):
    """Write the ``course-sandbox`` kernelspec under ``prefix`` and return its folder (idempotent)."""
    folder = kernels_dir(prefix) / KERNEL_NAME
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "kernel.json.tmp"
    tmp.write_text(json.dumps(kernel_json(limits, python), indent=1) + "\n")
    os.replace(tmp, folder / "kernel.json")
    return folder


def installed_spec(prefix=None):
    """The installed kernelspec dict, or None when it is not installed under ``prefix``."""
    path = kernels_dir(prefix) / KERNEL_NAME / "kernel.json"
    return json.loads(path.read_text()) if path.exists() else None


def installed_limits(prefix=None):
    """The ``Limits`` the kernelspec starts kernels with: the one under ``prefix``, or (None) the one Jupyter
    finds (``JUPYTER_PATH`` first, as nbgrader does); the defaults when it is not installed."""
    import argparse

    from .kernel import add_limit_options, limits_from_args

    if prefix is None:
        from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

        try:
            argv = KernelSpecManager().get_kernel_spec(KERNEL_NAME).argv
        except NoSuchKernel:
            argv = []
    else:
        argv = (installed_spec(prefix) or {"argv": []})["argv"]
    parser = argparse.ArgumentParser(add_help=False)
    add_limit_options(parser)
    args, _ = parser.parse_known_args(argv)
    return limits_from_args(args)
