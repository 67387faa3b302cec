"""nbgrader preprocessors used by the course's configuration (``nbgrader_config.py``).

- ``DeduplicateIdsKeepLast`` replaces nbgrader's ``DeduplicateIds`` in autograde's sanitising step. A
  student who duplicates a graded cell (or splits it with JupyterLab's split-cell) leaves two cells with the
  same grade id; nbgrader sets the earlier copies' metadata to ``{}``, which later crashes autograde with a
  misleading "old metadata format" error (nbgrader issue 1083). We *drop* the ``nbgrader`` key instead: the
  earlier copies become ordinary cells, the last one keeps its id and is restored from the gradebook.
- ``StripHiddenTests`` removes hidden tests from feedback (their source, their tracebacks, and whatever was
  printed while they ran: a student who prints their function's inputs must not harvest the hidden
  cases): the autograded notebook holds them, and feedback goes back to students.
- ``DropBrokenWidgetState`` removes saved widget state that nbconvert cannot render (JupyterLab writes it
  without a ``"state"`` key in some ipywidgets versions): with it, no feedback file was written at all.
- ``StderrIsNotAFailure`` replaces nbgrader's ``IgnorePattern``: nbgrader scores a test cell 0 when it has
  *any* output on stderr, so a correct answer that logs (``logging.warning``), warns (in any
  capitalisation), shows a progress bar (tqdm) or prints to ``sys.stderr`` lost its points. Only an error
  output (a failed check) costs points here; the stderr text is kept, as ordinary output.
- ``ExecuteKeepingResults`` replaces nbgrader's ``Execute``: when the kernel dies (a limit of the grading
  sandbox killed it, or the student's code exited), the cells that ran keep their results, every cell that
  could not run gets an error output saying so (a test cell without output would count as passed), and
  autograde goes on to record the grades; nbgrader's own ``Execute`` fails the whole submission instead.
"""

from __future__ import annotations

import re

from nbclient.exceptions import DeadKernelError
from nbformat.v4 import new_output
from nbgrader import utils
from nbgrader.preprocessors import Execute, NbGraderPreprocessor

#: the ``ename`` of the error output ExecuteKeepingResults gives a cell a dead kernel could not run
KERNEL_DIED = "KernelDied"
HIDDEN_RE = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?^[ \t]*### END HIDDEN TESTS[ \t]*\n?", re.S | re.M)


class DeduplicateIdsKeepLast(NbGraderPreprocessor):
    """Keep the last cell of each grade id; earlier duplicates lose their ``nbgrader`` metadata key."""

    def preprocess(self, nb, resources):
        seen = set()
        for cell in reversed(nb.cells):
            if not (utils.is_grade(cell) or utils.is_solution(cell) or utils.is_locked(cell)):
                continue
            grade_id = cell.metadata.nbgrader.get("grade_id")
            if grade_id in seen:
                self.log.warning("Cell with id '%s' exists multiple times: keeping the last one", grade_id)
                del cell.metadata["nbgrader"]
            else:
                seen.add(grade_id)
        return nb, resources


class StripHiddenTests(NbGraderPreprocessor):
    """Replace hidden-test regions by a comment and reduce tracebacks of graded cells to their last line."""

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and utils.is_grade(cell):
            if "BEGIN HIDDEN TESTS" in cell.source:
                cell.source = HIDDEN_RE.sub("# (hidden tests ran here)\n", cell.source).rstrip("\n")
                cell.outputs = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
        return cell, resources


class StderrIsNotAFailure(NbGraderPreprocessor):
    """Turn stderr streams of code cells into stdout streams (same text), so that they never cost points."""

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code":
            for output in cell.get("outputs", []):
                if output.get("output_type") == "stream" and output.get("name") == "stderr":
                    output["name"] = "stdout"
        return cell, resources


class ExecuteKeepingResults(Execute):
    """nbgrader's ``Execute``, but a dead kernel ends the run instead of failing it (see the module docstring)."""

    def preprocess(self, nb, resources=None, km=None):
        self._died_in = None
        return super().preprocess(nb, resources, km)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, self.resources
        if self._died_in is None:
            try:
                return super().preprocess_cell(cell, resources, index)
            except DeadKernelError:
                self._died_in = index
                self.log.warning("The kernel died in cell %d; the cells after it are marked as not run", index)
                message = "the kernel died while this cell ran (see the grading status for why)"
        else:
            message = f"not run: the kernel died in an earlier cell (cell {self._died_in})"
        cell.outputs.append(new_output("error", ename=KERNEL_DIED, evalue=message, traceback=[message]))
        return cell, self.resources


WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


class DropBrokenWidgetState(NbGraderPreprocessor):
    """Drop notebook-level widget state without a ``"state"`` mapping (nbconvert's HTML export fails on it)."""

    def preprocess(self, nb, resources):
        widgets = nb.metadata.get("widgets", {})
        saved = widgets.get(WIDGET_STATE)
        if saved is not None and not isinstance(saved.get("state") if isinstance(saved, dict) else None, dict):
            del widgets[WIDGET_STATE]
            self.log.warning("Dropped saved widget state without a 'state' key (it cannot be rendered)")
        return nb, resources
