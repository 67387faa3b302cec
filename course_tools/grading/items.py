"""The autograded items of the assignments: each is one exercise's spec (``course_utils.exercises``).

An item id is the grade id of its test cell (``a1_conv2d_forward``); ``course_utils.exercises.ITEMS`` maps it
to the exercise (``conv2d_forward``), whose spec gives the hidden test its cases, the call, the reference,
the tolerances and the verdict (``Exercise.verdict``). Nothing here is grading-only: the seeds live in the
hidden cells of the instructor's notebooks, the per-student seeds in ``seeds.py``.
"""

from __future__ import annotations

from course_utils.exercises import ITEMS as _NAMES
from course_utils.exercises import LOW_PRECISION, Exercise, get

#: item id -> the exercise's spec
ITEMS: dict[str, Exercise] = {item: get(item) for item in _NAMES}

__all__ = ["ITEMS", "LOW_PRECISION"]
