"""nbgrader configuration for the course (read by the nbgrader CLI, the formgrader and course_tools.grading).

Source (instructor version) lives in solutions/, the student release in assignments/; everything that
holds hidden tests or student work (submissions, autograded copies, feedback, the gradebook) lives under
the git-ignored grading/ folder.
"""

import os

c = get_config()  # noqa: F821  (provided by traitlets when nbgrader loads this file)

HERE = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.course_id = "cnn-object-recognition"
c.CourseDirectory.root = HERE
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "assignments"
c.CourseDirectory.submitted_directory = os.path.join("grading", "submitted")
c.CourseDirectory.autograded_directory = os.path.join("grading", "autograded")
c.CourseDirectory.feedback_directory = os.path.join("grading", "feedback")
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(HERE, "grading", "gradebook.db")
os.makedirs(os.path.join(HERE, "grading"), exist_ok=True)
# .checks/ holds the outputs hidden tests save (course_tools.grading.verify): never copied into a release
# nor from one folder to the next.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".checks"]

# A student who deletes a test cell still gets graded (nbgrader issue 1682).
c.OverwriteCells.add_missing_cells = True

# Per-cell limit; course_tools.grading.grade adds a whole-notebook limit and kills the kernel after it.
c.Execute.timeout = 60
# A cell that runs past the limit is interrupted and recorded as an error, and grading goes on with the next
# cell (nbgrader raises instead when the interrupted cell's last output message is late, failing the whole
# notebook: a student whose extra cell loops forever would lose every point).
c.Execute.raise_on_iopub_timeout = False

# Duplicated or split graded cells: keep the last copy instead of crashing (nbgrader issue 1083).
from nbconvert.preprocessors import ClearMetadataPreprocessor  # noqa: E402
from nbgrader.preprocessors import (  # noqa: E402
    AssignLatePenalties,
    CheckCellMetadata,
    ClearOutput,
    LimitOutput,
    OverwriteCells,
    OverwriteKernelspec,
    SaveAutoGrades,
)

from course_tools.grading.preprocessors import (  # noqa: E402
    DeduplicateIdsKeepLast,
    DropBrokenWidgetState,
    ExecuteKeepingResults,
    RepairCellMetadata,
    StderrIsNotAFailure,
    StripHiddenTests,
)
from course_tools.grading.seeds import PerStudentSeeds  # noqa: E402

c.Autograde.sanitize_preprocessors = [
    ClearOutput, DeduplicateIdsKeepLast, RepairCellMetadata, OverwriteKernelspec, OverwriteCells, CheckCellMetadata,
]
# A kernel that dies (a sandbox limit, or the student's own exit) keeps the results of the cells that ran
# before it, and the rest are recorded as not run: nbgrader's Execute would leave the submission ungraded.
# Only a failed check costs points: output on stderr (logging, warnings, progress bars) never does (nbgrader
# scores any stderr output 0; its IgnorePattern only drops what a pattern matches).
# Each student's hidden checks run on cases of their own, from a seed derived from the course secret kept beside
# the gradebook (course_tools/grading/seeds.py): hidden cases seen once cannot be hard-coded by anybody.
c.Autograde.autograde_preprocessors = [
    PerStudentSeeds, ExecuteKeepingResults, StderrIsNotAFailure, ClearMetadataPreprocessor, LimitOutput,
    SaveAutoGrades, AssignLatePenalties, CheckCellMetadata,
]

# Feedback goes back to students: no hidden tests in it (neither their source nor their tracebacks).
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor  # noqa: E402
from nbgrader.preprocessors import GetGrades  # noqa: E402

from course_tools.grading.preprocessors import (  # noqa: E402
    FEEDBACK_TEMPLATE_DIRS,
    CourseFeedbackExporter,
    MarkUngradedAnswers,
)

# An answer still to be graded by hand says "not graded yet" (nbgrader showed "0.0 / 3.0"), and the total is
# marked provisional; formulas are MathML, which browsers render offline (nbgrader's feedback loads MathJax
# from a CDN). The formgrader keeps nbgrader's own HTMLExporter and template.
c.GenerateFeedback.preprocessors = [
    GetGrades, MarkUngradedAnswers, StripHiddenTests, DropBrokenWidgetState, CSSHTMLHeaderPreprocessor,
]
c.GenerateFeedback.exporter_class = CourseFeedbackExporter
c.CourseFeedbackExporter.template_name = "course_feedback"  # course_tools/grading/templates, based on nbgrader's
c.CourseFeedbackExporter.template_file = "course_feedback.html.j2"
c.CourseFeedbackExporter.extra_template_basedirs = FEEDBACK_TEMPLATE_DIRS

# --- sandbox (course_tools.sandbox) ---
# Autograding runs every submission's kernel in the bubblewrap grading sandbox (deploy/README.md, "The grading
# sandbox"): whatever kernel a student's notebook names, nbgrader starts this one. Install it into the
# environment with `python -m course_tools.sandbox install` (make setup does). Where bubblewrap cannot run,
# grading refuses; COURSE_ALLOW_UNSANDBOXED_GRADING=1 grades without it (trusted notebooks only).
c.Execute.kernel_name = "course-sandbox"
# --- end sandbox ---
