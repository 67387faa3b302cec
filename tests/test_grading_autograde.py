"""make grade's call of nbgrader's autograde (course_tools.grading.grade.autograde): a kernel that never started
(no cell ran) gets one more start; any other failure, or a second one, is the submission's result."""

from __future__ import annotations

from course_tools.grading.grade import KERNEL_NEVER_STARTED, autograde

NEVER_STARTED = {"success": False, "error": "RuntimeError",
                 "log": f"[ERROR] Error occurred while starting new kernel client: {KERNEL_NEVER_STARTED}"}
DIED_IN_A_CELL = {"success": False, "log": "[ERROR] Kernel died while executing cell 4", "error": "DeadKernelError"}
GRADED = {"success": True, "log": "", "error": None}


class FakeAPI:
    def __init__(self, *results):
        self.results, self.calls = list(results), []

    def autograde(self, aid, student, force, create):
        self.calls.append((aid, student, force, create))
        return self.results.pop(0)


def test_a_kernel_that_never_started_is_started_once_more():
    api = FakeAPI(NEVER_STARTED, GRADED)
    assert autograde(api, "a3", "alice") == (GRADED, KERNEL_NEVER_STARTED.lower())
    assert api.calls == [("a3", "alice", True, True)] * 2


def test_twice_never_started_is_the_result():
    api = FakeAPI(NEVER_STARTED, NEVER_STARTED)
    assert autograde(api, "a3", "alice") == (NEVER_STARTED, KERNEL_NEVER_STARTED.lower()) and len(api.calls) == 2


def test_other_failures_and_successes_run_once():
    for result in (GRADED, DIED_IN_A_CELL):
        api = FakeAPI(result)
        assert autograde(api, "a1", "bob") == (result, None) and len(api.calls) == 1
