"""Load the course's ``nbgrader_config.py`` and build an ``NbGraderAPI`` from it.

``NbGraderAPI`` does not read ``nbgrader_config.py`` by itself (measured, see ``shared/notes/nbgrader.md``):
we load it with traitlets' ``PyFileConfigLoader``. A new gradebook runs ``alembic`` as a subprocess, so the
virtual environment's ``bin/`` is put on ``PATH`` first.
"""

from __future__ import annotations

import json
import os
import sys

CONFIG_NAME = "nbgrader_config.py"
#: in a submission folder: {the course's notebook name: the name the student submitted it under}, written when
#: ``make grade`` grades a renamed notebook, read when feedback is released (deploy/course_exchange.py)
RENAMED_NOTEBOOKS = ".course-renamed.json"


def read_notebooks(folder: str) -> dict[str, list[dict]]:
    """{notebook name without .ipynb: its cells (JSON)} for the notebooks of a submission folder; {} if none.

    A notebook that cannot be read or parsed is left out.
    """
    found = {}
    if not os.path.isdir(folder):
        return found
    for name in sorted(f for f in os.listdir(folder) if f.endswith(".ipynb")):
        try:
            with open(os.path.join(folder, name), encoding="utf-8") as fh:
                found[name[:-6]] = json.load(fh).get("cells", [])
        except (OSError, ValueError):
            continue
    return found


def course_root(start: str | None = None) -> str:
    """The folder holding ``nbgrader_config.py``: ``$COURSE_ROOT``, else the first one up from ``start``/cwd,
    else the checkout this package lives in."""
    if os.environ.get("COURSE_ROOT"):
        return os.path.abspath(os.environ["COURSE_ROOT"])
    folder = os.path.abspath(start or os.getcwd())
    while True:
        if os.path.isfile(os.path.join(folder, CONFIG_NAME)):
            return folder
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if os.path.isfile(os.path.join(here, CONFIG_NAME)):
        return here
    raise FileNotFoundError(f"no {CONFIG_NAME} found above {start or os.getcwd()} (set COURSE_ROOT)")


def venv_bin_on_path() -> None:
    """Put the running interpreter's bin/ (where ``alembic`` lives) first on PATH."""
    bin_dir = os.path.dirname(sys.executable)
    parts = os.environ.get("PATH", "").split(os.pathsep)
    if bin_dir not in parts:
        os.environ["PATH"] = os.pathsep.join([bin_dir, *parts])


def load_config(root: str | None = None, overrides=None):
    """traitlets ``Config`` from ``<root>/nbgrader_config.py``, merged with ``overrides`` (a Config or dict)."""
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    root = root or course_root()
    config = PyFileConfigLoader(CONFIG_NAME, path=root).load_config()
    if overrides:
        config.merge(overrides if isinstance(overrides, Config) else Config(overrides))
    return config


def make_api(root: str | None = None, overrides=None):
    """An ``NbGraderAPI`` configured exactly as the nbgrader CLI would be in ``root``."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    venv_bin_on_path()
    config = load_config(root, overrides)
    coursedir = CourseDirectory(config=config)
    return NbGraderAPI(coursedir=coursedir, config=config)
