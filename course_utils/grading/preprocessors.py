"""nbgrader preprocessors used by the course's configuration (``nbgrader_config.py``).

- ``DeduplicateIdsKeepLast`` replaces nbgrader's ``DeduplicateIds`` in autograde's sanitising step. A
  student who duplicates a graded cell (or splits it with JupyterLab's split-cell) leaves two cells with the
  same grade id; nbgrader sets the earlier copies' metadata to ``{}``, which later crashes autograde with a
  misleading "old metadata format" error (nbgrader issue 1083). We *drop* the ``nbgrader`` key instead: the
  earlier copies become ordinary cells, the last one keeps its id and is restored from the gradebook.
- ``StripHiddenTests`` removes hidden tests (source and tracebacks) from feedback: the autograded notebook
  holds them, and feedback goes back to students.
"""

from __future__ import annotations

import re

from nbgrader import utils
from nbgrader.preprocessors import NbGraderPreprocessor

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
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
        return cell, resources
