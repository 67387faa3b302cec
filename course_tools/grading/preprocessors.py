"""nbgrader preprocessors used by the course's configuration (``nbgrader_config.py``).

- ``DeduplicateIdsKeepLast`` replaces nbgrader's ``DeduplicateIds`` in autograde's sanitising step. A
  student who duplicates a graded cell (or splits it with JupyterLab's split-cell) leaves two cells with the
  same grade id; nbgrader sets the earlier copies' metadata to ``{}``, which later crashes autograde with a
  misleading "old metadata format" error (nbgrader issue 1083). We *drop* the ``nbgrader`` key instead: the
  earlier copies become ordinary cells, the last one keeps its id and is restored from the gradebook.
- ``RepairCellMetadata`` puts back the nbgrader flags of graded cells that a student's editor changed (and
  makes a cell with an unknown grade id an ordinary one): nbgrader failed the whole submission instead.
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

Feedback (``nbgrader generate_feedback``, ``make grade`` / ``make feedback``) goes to students as one HTML file:

- ``MarkUngradedAnswers`` runs after nbgrader's ``GetGrades``: a written answer the instructor has not graded
  by hand yet has a score of 0 in the gradebook, which nbgrader's feedback showed as "0.0 / 3.0" (and counted
  in the total). It marks such cells (``needs_manual_grade``, as in the gradebook and the class CSV) and puts
  the points graded so far and the points still to grade in the resources; the course's feedback template
  (``templates/course_feedback``, based on nbgrader's) says "not graded yet" and gives the total as provisional.
- ``CourseFeedbackExporter`` (``GenerateFeedback.exporter_class``) writes every formula as MathML
  (``MathMLRenderer``, ``tex_to_mathml``: the ``latex2mathml`` package), which browsers render natively,
  instead of TeX for MathJax: nbgrader's feedback loaded MathJax from a CDN, and students reading it offline
  saw raw ``$$...$$``. A formula ``latex2mathml`` cannot convert is shown as its TeX source.
"""

from __future__ import annotations

import os
import re
from html import escape as html_escape

from jinja2 import pass_context
from nbclient.exceptions import DeadKernelError
from nbconvert.exporters import HTMLExporter
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
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


class RepairCellMetadata(NbGraderPreprocessor):
    """Give graded cells back the nbgrader flags the gradebook knows; a cell with an unknown grade id becomes
    an ordinary cell. A student's notebook editor can change a cell's flags (a test cell made ordinary or a
    solution, points changed, a grade id renamed): nbgrader then failed the whole submission ("locked
    changed", ``KeyError: 'grade_id'``). Repaired, the cell keeps its place and content (a locked cell's source
    is restored by ``OverwriteCells``, which also puts back any graded cell left missing)."""

    def preprocess(self, nb, resources):
        from nbgrader.api import Gradebook

        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gb:
            source = gb.find_notebook(info["notebook"], info["assignment"])
            grades = {c.name: float(c.max_score) for c in source.grade_cells}
            flags = {c.name: {"grade": c.name in grades, "solution": c.name in {s.name for s in source.solution_cells},
                              "task": c.name in {t.name for t in source.task_cells}}
                     for c in source.source_cells}
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader")
            if meta is None:
                continue
            grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
            if grade_id not in flags:
                del cell.metadata["nbgrader"]
                self.log.warning("Cell with unknown grade id %r: graded as an ordinary cell", grade_id)
                continue
            wanted = {**flags[grade_id], **({"points": grades[grade_id]} if grade_id in grades else {})}
            changed = {k: v for k, v in wanted.items() if meta.get(k, False) != v}
            if changed:
                meta.update(changed)
                self.log.warning("Cell %s: nbgrader flags restored from the gradebook (%s)", grade_id,
                                 ", ".join(changed))
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
        if "widgets" not in nb.metadata:
            return nb, resources
        widgets = nb.metadata["widgets"]
        saved = widgets.get(WIDGET_STATE) if isinstance(widgets, dict) else None
        if not isinstance(saved.get("state") if isinstance(saved, dict) else None, dict):
            del nb.metadata["widgets"]  # nbconvert fails on it, and on an empty mapping too (on any image output)
            self.log.warning("Dropped saved widget state without a 'state' mapping (it cannot be rendered)")
        return nb, resources


# --- feedback for students: hand grading still to do, and formulas that render offline ---

class MarkUngradedAnswers(NbGraderPreprocessor):
    """After ``GetGrades``: mark the graded cells still waiting for a hand grade and total the points so far.

    A graded cell whose grade ``needs_manual_grade`` gets ``metadata.nbgrader.needs_manual_grade = True``;
    ``resources["nbgrader"]`` gets ``score_so_far`` (the graded items, less any late penalty: the class
    CSV's total) and ``ungraded_points`` / ``ungraded_items`` (what still waits for the instructor).
    """

    def preprocess(self, nb, resources):
        from nbgrader.api import Gradebook

        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gb:
            notebook = gb.find_submission_notebook(info["notebook"], info["assignment"], info["student"])
            grades = {g.name: (bool(g.needs_manual_grade), float(g.score or 0.0), float(g.max_score or 0.0))
                      for g in notebook.grades}
        self._pending = {name for name, (pending, _, _) in grades.items() if pending}
        info["score_so_far"] = sum(s for name, (_, s, _) in grades.items() if name not in self._pending) \
            - float(info.get("late_penalty") or 0.0)
        info["ungraded_points"] = sum(grades[name][2] for name in self._pending)
        info["ungraded_items"] = sorted(self._pending)
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        if (utils.is_grade(cell) or utils.is_task(cell)) and cell.metadata.nbgrader.get("grade_id") in self._pending:
            cell.metadata.nbgrader["needs_manual_grade"] = True
        return cell, resources


TEX_ESCAPES = {"\\_": "_", "\\%": "%", "\\&": "&", "\\#": "#", "\\$": "$", "\\{": "{", "\\}": "}"}
MATH_DELIMITERS = (("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$"))
ENTITY_RE = re.compile(r"&amp;(#x[0-9A-Fa-f]+;)")


def tex_to_mathml(tex: str, display: str = "inline") -> str:
    """MathML (``<math>``, rendered natively by browsers) for the TeX formula ``tex`` (without delimiters).

    A formula that ``latex2mathml`` cannot convert is shown as its TeX source, escaped, in ``<code>``.
    """
    from xml.etree.ElementTree import tostring

    from latex2mathml.converter import convert_to_element

    try:
        math = convert_to_element(tex, display=display)
    except Exception:  # latex2mathml raises many kinds of errors: the formula is shown as TeX instead
        return f'<code class="tex">{html_escape(tex, quote=False)}</code>'
    for node in math.iter("mtext"):  # latex2mathml keeps \_ and friends of \text{...} as typed
        for escaped, char in TEX_ESCAPES.items():
            node.text = (node.text or "").replace(escaped, char)
    math.set("alttext", tex.strip())
    # latex2mathml writes symbols as entity text ("&#x0003D;"): un-escape those, and only those
    return ENTITY_RE.sub(r"&\1", tostring(math, encoding="unicode", short_empty_elements=False))


def latex_output_to_mathml(text: str) -> str:
    """A ``text/latex`` output (``$...$``, ``$$...$$``, ``\\[...\\]``, an environment) as display MathML."""
    body = text.strip()
    for start, end in MATH_DELIMITERS:
        if len(body) > len(start) + len(end) and body.startswith(start) and body.endswith(end):
            body = body[len(start):-len(end)]
            break
    return tex_to_mathml(body, display="block")


class MathMLRenderer(IPythonRenderer):
    """nbconvert's Markdown renderer, with each formula written as MathML instead of TeX for MathJax."""

    def block_math(self, body: str) -> str:
        return tex_to_mathml(body, display="block")

    def inline_math(self, body: str) -> str:
        return tex_to_mathml(body, display="inline")

    def latex_environment(self, name: str, body: str) -> str:
        return tex_to_mathml(f"\\begin{{{name}}}{body}\\end{{{name}}}", display="block")


#: template folders of the feedback: the course's (``course_feedback``, based on nbgrader's) and nbgrader's own
FEEDBACK_TEMPLATE_DIRS = [
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates"),
    os.path.join(os.path.dirname(os.path.abspath(utils.__file__)), "server_extensions", "formgrader", "templates"),
]


class CourseFeedbackExporter(HTMLExporter):
    """The HTML exporter of ``nbgrader generate_feedback`` (``GenerateFeedback.exporter_class``).

    Markdown (cells, instructor comments, Markdown outputs) is rendered with ``MathMLRenderer``, and
    ``text/latex`` outputs with the ``latex2mathml`` filter, so that formulas need no MathJax; the course's
    template (``templates/course_feedback``) loads nothing and says "not graded yet" where
    ``MarkUngradedAnswers`` found hand grading still to do. The formgrader keeps nbgrader's own exporter.
    """

    @pass_context
    def markdown2html(self, context, source):
        cell = context.get("cell", {})
        renderer = MathMLRenderer(
            escape=False,
            attachments=cell.get("attachments", {}),
            embed_images=self.embed_images,
            path=context.get("resources", {}).get("metadata", {}).get("path", ""),
            anchor_link_text=self.anchor_link_text,
            exclude_anchor_links=self.exclude_anchor_links,
            **self.lexer_options,
        )
        return MarkdownWithMath(renderer=renderer).render(source)

    def default_filters(self):
        yield from super().default_filters()
        yield ("latex2mathml", latex_output_to_mathml)
