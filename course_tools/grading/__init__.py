"""nbgrader glue for the course's assignments (instructor side).

- ``python -m course_tools.grading.release``  regenerate ``assignments/`` from ``solutions/`` (``make release``)
- ``python -m course_tools.grading.grade``    autograde every submission, write ``grading/scores.csv`` and
  feedback without hidden tests (``make grade``)
- ``python -m course_tools.bench.grading``    autograding time per submission and for a class of 50
- ``config``         load ``nbgrader_config.py`` for ``NbGraderAPI`` (which does not read it by itself)
- ``preprocessors``  duplicate-cell handling (nbgrader issue 1083), hidden tests stripped from feedback
- ``verify`` / ``items``  the hidden tests' machinery: tripwires on the course's reference, judging in a
  process the student's code cannot reach
"""
