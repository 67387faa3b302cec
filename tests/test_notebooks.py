"""Harness 1: every notebook of the course runs top to bottom in a fresh kernel.

Each notebook is copied (with its folder) to a temporary directory and executed there with nbclient, so
nothing is written into the repository. The kernel gets MPLBACKEND=Agg (tests only: the notebooks
themselves never choose a backend) and a fixed hash seed; the notebooks seed their own generators.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from suite_helpers import NOTEBOOK_TIMES, REPO

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
SOLUTIONS = sorted((REPO / "solutions").glob("*/*.ipynb"))
CELL_TIMEOUT_S = 300


def _id(path):
    return str(path.relative_to(REPO))


@pytest.mark.notebooks
@pytest.mark.parametrize("path", NOTEBOOKS + SOLUTIONS, ids=_id)
def test_notebook_executes(path, tmp_path, monkeypatch):
    workdir = tmp_path / path.parent.name
    shutil.copytree(path.parent, workdir, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "*.ipynb"))
    nb = nbformat.read(path, as_version=4)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("PYTHONHASHSEED", "0")
    monkeypatch.setenv("COURSE_UNDER_TEST", "1")
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(workdir)}},
    )
    start = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as err:
        pytest.fail(f"{_id(path)} failed:\n{err}")
    finally:
        NOTEBOOK_TIMES[_id(path)] = time.perf_counter() - start


def test_course_has_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no notebook"
    assert (REPO / "notebooks" / "01_large_inputs_and_parameter_counting.ipynb") in NOTEBOOKS


@pytest.mark.parametrize(
    "path", sorted((REPO / "notebooks").glob("*.ipynb")) + sorted((REPO / "solutions").glob("*/*.ipynb")), ids=_id
)
def test_notebook_committed_without_outputs(path):
    nb = json.loads(path.read_text())
    dirty = [
        i
        for i, cell in enumerate(nb["cells"])
        if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count"))
    ]
    assert not dirty, f"{_id(path)}: cells {dirty} carry outputs; clear them (make clear-outputs)"
    assert "MPLBACKEND" not in path.read_text() and "matplotlib.use(" not in path.read_text(), (
        f"{_id(path)} chooses a matplotlib backend; only the test harness may"
    )


# The notebook metadata JupyterLab writes once a "python3" (ipykernel) kernel has started: the kernelspec, and the
# language_info of the kernel's reply. A notebook committed with less is marked "modified" as soon as it is opened.
LAB_KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_notebook_committed_clean_with_lab_metadata(path):
    from ipykernel.ipkernel import IPythonKernel

    nb = json.loads(path.read_text())
    code = [(i, cell) for i, cell in enumerate(nb["cells"]) if cell["cell_type"] == "code"]
    with_outputs = [i for i, cell in code if cell.get("outputs")]
    with_counts = [i for i, cell in code if cell.get("execution_count") is not None]
    assert not with_outputs, f"{_id(path)}: cells {with_outputs} carry outputs; clear them (make clear-outputs)"
    assert not with_counts, f"{_id(path)}: cells {with_counts} carry execution counts; clear them (make clear-outputs)"

    meta = nb["metadata"]
    assert meta.get("kernelspec") == LAB_KERNELSPEC, f"{_id(path)}: kernelspec {meta.get('kernelspec')}"
    info = dict(meta.get("language_info", {}))
    version = info.pop("version", None)
    expected = {k: v for k, v in IPythonKernel.language_info.items() if k != "version"}
    assert info == expected, (
        f"{_id(path)}: language_info {meta.get('language_info')}, expected what ipykernel reports: "
        f"{IPythonKernel.language_info} (JupyterLab writes it on opening, so the notebook opens as modified)"
    )
    assert isinstance(version, str) and re.fullmatch(r"\d+\.\d+\.\d+", version), (
        f"{_id(path)}: language_info.version {version!r}, expected the kernel's Python version, e.g. "
        f"{IPythonKernel.language_info['version']!r}"
    )


def test_notebook_names_are_numbered():
    for path in NOTEBOOKS:
        prefix = path.name.split("_", 1)[0]
        assert prefix.isdigit() and len(prefix) == 2, f"{path.name}: expected NN_topic.ipynb"
    assert os.path.isdir(REPO / "notebooks")


def test_readme_outline_lists_every_notebook():
    readme = (REPO / "README.md").read_text()
    missing = [p.stem for p in NOTEBOOKS if f"`{p.stem}`" not in readme]
    assert not missing, f"README.md's course outline lacks a row for {missing}"
