"""The grading kernel's own start-up, inside the sandbox: ``python -I -m course_tools.sandbox.inner``.

What a submission folder holds must not change what the hidden tests and the course's own code import,
nor configure the kernel. So the kernel

1. is started by Python in isolated mode (``-I``: no working directory on ``sys.path``, no
   ``PYTHON*`` variables, no user site, so no ``sitecustomize``/``usercustomize``/``.pth`` from the folder),
   in a neutral, empty working directory: IPython and ipykernel read no configuration or startup file
   from the submission (``ipython_config.py``, ``ipython_kernel_config.py``, ``.ipython/``);
2. reads ``matplotlibrc`` files from the folder only after matplotlib was configured from its own defaults;
3. changes into the submission folder only then, and serves the folder's modules through
   ``StudentFolderFinder``, last on ``sys.meta_path``: a student's ``helpers.py`` imports as in
   JupyterLab, but a ``numpy/``, ``course_utils/`` or ``IPython/`` there never shadows the installed
   package, and a module that only the student's folder provides is imported for the student's own code
   only (not for a library's optional ``try: import ...``);
4. ends without Python's finalisation once ipykernel has shut down (nothing is left to send or save).
"""

from __future__ import annotations

import importlib.machinery
import os
import sys

#: frames of the import machinery (and of this finder), skipped when looking for the code that asked
_IMPORT_MACHINERY = ("<frozen importlib", os.path.dirname(importlib.machinery.__file__), __file__)


class StudentFolderFinder:
    """Finds top-level modules in the kernel's working directory, for imports made by the student's code.

    Installed on ``sys.meta_path`` *after* every other finder, so a name that is installed anywhere
    (the standard library, the environment's packages, ``course_utils``) always resolves there first.
    A module is served only when the import statement runs in the student's code: a notebook cell
    (``__name__ == "__main__"``) or a module loaded from the submission folder.

    folder: the submission folder (absolute path); ``None`` means the current working directory.
    """

    def __init__(self, folder: str | None = None):
        self.folder = folder

    def _root(self) -> str:
        return os.path.realpath(self.folder or os.getcwd())

    def _asked_by_student(self, root: str) -> bool:
        frame = sys._getframe(1)
        while frame is not None and frame.f_code.co_filename.startswith(_IMPORT_MACHINERY):
            frame = frame.f_back
        if frame is None:
            return False
        if frame.f_globals.get("__name__") == "__main__":
            return True
        filename = os.path.realpath(frame.f_globals.get("__file__") or "/nonexistent")
        return filename.startswith(root + os.sep)

    def find_spec(self, name, path=None, target=None):
        if path is not None or "." in name:  # submodules: found through their package's own __path__
            return None
        try:
            root = self._root()
        except OSError:
            return None
        if not self._asked_by_student(root):
            return None
        return importlib.machinery.PathFinder.find_spec(name, [root])

    def invalidate_caches(self):
        pass


def prepare(workdir: str) -> None:
    """Configure this process as described in the module docstring, ending in ``workdir``."""
    if os.path.isfile(os.path.join(workdir, "matplotlibrc")):
        import matplotlib  # noqa: F401  (configured now, from the neutral directory: the folder's file is ignored)
    os.chdir(workdir)
    sys.meta_path.append(StudentFolderFinder())
    _children_die_first()


def _children_die_first() -> None:
    """Processes the kernel forks are the first the memory limit's OOM killer picks, not the kernel."""

    def raise_score():
        try:
            with open("/proc/self/oom_score_adj", "w") as fh:
                fh.write("1000")
        except OSError:
            pass

    os.register_at_fork(after_in_child=raise_score)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not sys.flags.isolated:
        print("course_tools.sandbox.inner: must run as `python -I -m course_tools.sandbox.inner`",
              file=sys.stderr)
        return 2
    if argv[:1] != ["--workdir"] or len(argv) < 2:
        print("usage: python -I -m course_tools.sandbox.inner --workdir DIR -f CONNECTION_FILE [ARGS]",
              file=sys.stderr)
        return 2
    workdir, kernel_args = os.path.realpath(argv[1]), argv[2:]
    from ipykernel.kernelapp import IPKernelApp

    app = IPKernelApp.instance()
    app.initialize(kernel_args)  # reads configuration from the neutral directory and the private home
    prepare(workdir)
    app.start()
    # The kernel has shut down and sent everything. Python's own finalisation would still take ~0.6 s with
    # torch loaded (a grading kernel's whole cost per submission is a few seconds): skip it.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
