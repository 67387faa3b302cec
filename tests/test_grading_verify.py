"""The hidden-test judge (course_tools.grading.verify): the stated rules are the enforced rules, and a
correct algorithm passes in any floating-point precision (the judge itself runs in a clean process)."""

from __future__ import annotations

import numpy as np
import pytest

from course_tools.grading import verify

pytestmark = pytest.mark.nbgrader


def naive_conv(x, w, b=None, stride=1, padding=0, dtype=np.float64):
    """An independent, student-style convolution (cross-correlation) with loops."""
    x = np.pad(x.astype(dtype), ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    w = w.astype(dtype)
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    out = np.zeros((N, F, (H - KH) // stride + 1, (W - KW) // stride + 1), dtype=dtype)
    for n in range(N):
        for f in range(F):
            for i in range(out.shape[2]):
                for j in range(out.shape[3]):
                    patch = x[n, :, i * stride:i * stride + KH, j * stride:j * stride + KW]
                    out[n, f, i, j] = np.sum(patch * w[f]) + (0 if b is None else b[f])
    return out


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # check() saves its outputs in ./.checks


def test_a_correct_answer_passes_in_float64_and_in_float32():
    verify.check("a1_conv2d_forward", naive_conv, seed=1301)
    verify.check("a1_conv2d_forward", lambda *a, **k: naive_conv(*a, **k, dtype=np.float32), seed=1301)


def test_a_wrong_float32_answer_is_told_its_dtype():
    def flipped(x, w, b=None, stride=1, padding=0):
        return naive_conv(x, w[:, :, ::-1, ::-1], b, stride, padding, dtype=np.float32)

    with pytest.raises(AssertionError, match="your output is float32: compared with a tolerance for float32"):
        verify.check("a1_conv2d_forward", flipped, seed=1301)


def _torch_conv(x, w, b=None, stride=1, padding=0):
    import torch

    t = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), None if b is None else torch.tensor(b),
                                   stride=stride, padding=padding)
    return t.numpy()


def _scipy_conv(x, w, b=None, stride=1, padding=0):
    from scipy.signal import correlate

    x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    out = np.stack([np.stack([sum(correlate(x[n, c], w[f, c], mode="valid") for c in range(x.shape[1]))
                              for f in range(w.shape[0])]) for n in range(x.shape[0])])
    out = out[:, :, ::stride, ::stride]
    return out if b is None else out + b[None, :, None, None]


@pytest.mark.parametrize("fn, library", [(_torch_conv, "torch"), (_scipy_conv, "scipy.signal")])
def test_another_librarys_implementation_scores_0_on_a_numpy_only_item(fn, library):
    import scipy.signal  # noqa: F401  (imported before the check, as a student's notebook would)
    import torch  # noqa: F401

    with pytest.raises(AssertionError, match=f"called another library's implementation {library}"):
        verify.check("a1_conv2d_forward", fn, seed=1301)


def test_a_library_imported_only_inside_the_answer_is_caught_too():
    def lazy(x, w, b=None, stride=1, padding=0):
        import course_utils.registration  # noqa: F401  (first imported while the check runs)

        return naive_conv(x, w, b, stride, padding)

    import sys

    sys.modules.pop("course_utils.registration", None)
    with pytest.raises(AssertionError, match="course_utils.registration .imported by your code"):
        verify.check("a1_conv2d_forward", lazy, seed=1301)


def test_every_course_module_but_the_machinery_is_the_courses_implementation():
    import torch  # noqa: F401

    from course_utils import registration

    def accuracy(model, x, y):
        return registration.accuracy(model, x, y)

    with pytest.raises(AssertionError, match="called the course's implementation course_utils.registration"):
        verify.check("a3_accuracy", accuracy, seed=2101)


@pytest.mark.parametrize("module, numpy_only, forbidden", [
    ("course_utils.reference.conv", False, True),
    ("course_utils.registration", False, True),
    ("course_utils.some_module_added_later", False, True),
    ("course_tools.grading.seeds", False, False),
    ("course_utils.checks", False, False),
    ("course_utils.data.digits", False, False),
    ("course_utils", False, False),
    ("scipy.signal", True, True),
    ("scipy.signal", False, False),
    ("skimage.filters", True, True),
    ("numpy", True, False),
])
def test_forbidden_modules(module, numpy_only, forbidden):
    assert verify.is_forbidden_module(module, numpy_only) is forbidden


# ---------------------------------------------------------------- each item judged on its own
STUDENT_NOTEBOOK = '''
import numpy as np

def conv2d_forward(x, w, b=None, stride=1, padding=0):  # this student's conv flips the kernel (wrong)
    return naive_conv(x, w[:, :, ::-1, ::-1], b, stride, padding)

def apply_filterbank(image, bank):  # right, given a right conv2d_forward
    return np.maximum(conv2d_forward(image[None, None], bank[:, None])[0], 0.0)

def no_relu(image, bank):
    return conv2d_forward(image[None, None], bank[:, None])[0]

def by_default(image, bank, conv=conv2d_forward):  # the student's conv under other names
    return np.maximum(conv(image[None, None], bank[:, None])[0], 0.0)

my_conv = conv2d_forward

def by_alias(image, bank):
    return np.maximum(my_conv(image[None, None], bank[:, None])[0], 0.0)

def by_closure(conv=conv2d_forward):
    def apply_filterbank(image, bank):
        return np.maximum(conv(image[None, None], bank[:, None])[0], 0.0)
    return apply_filterbank

by_closure = by_closure()

def by_helper(image, bank):
    return helper(image, bank)

def helper(image, bank, *, conv=conv2d_forward):
    return np.maximum(conv(image[None, None], bank[:, None])[0], 0.0)

def calls_the_reference(image, bank):
    from course_utils.reference import conv2d_forward as saved
    return np.maximum(saved(image[None, None], bank[:, None])[0], 0.0)
'''


def _notebook(source=STUDENT_NOTEBOOK, drop=()):
    """The globals of a student's notebook after running ``source`` (functions defined in it see them)."""
    namespace = {"naive_conv": naive_conv}
    exec(compile(source, "<notebook>", "exec"), namespace)
    for name in drop:
        del namespace[name]
    return namespace


def test_an_item_is_judged_on_its_own_with_the_courses_version_of_what_it_calls():
    nb = _notebook()
    student_conv = nb["conv2d_forward"]
    with pytest.raises(AssertionError, match="^a1_conv2d_forward: hidden case"):
        verify.check("a1_conv2d_forward", student_conv, seed=1301)
    verify.check("a1_apply_filterbank", nb["apply_filterbank"], seed=1402)  # the flipped conv costs nothing here
    assert nb["conv2d_forward"] is student_conv, "the student's own function is back after the check"
    with pytest.raises(AssertionError, match="^a1_apply_filterbank: hidden case 0 .*values differ"):
        verify.check("a1_apply_filterbank", nb["no_relu"], seed=1402)
    for name in ("by_default", "by_alias", "by_closure", "by_helper"):  # the student's conv, however reached
        verify.check("a1_apply_filterbank", nb[name], seed=1402)
    assert nb["my_conv"] is student_conv and nb["by_default"].__defaults__ == (student_conv,)
    assert nb["helper"].__kwdefaults__ == {"conv": student_conv}
    assert nb["by_closure"].__closure__[0].cell_contents is student_conv
    # a student whose conv2d_forward does not even exist (a SyntaxError in its cell)
    nb = _notebook(drop=["conv2d_forward"])
    verify.check("a1_apply_filterbank", nb["apply_filterbank"], seed=1402)
    assert "conv2d_forward" not in nb
    # only the name the exercise stands for is the course's: calling the reference itself still scores 0
    with pytest.raises(AssertionError, match="called the course's implementation course_utils.reference"):
        verify.check("a1_apply_filterbank", _notebook()["calls_the_reference"], seed=1402)


def test_the_visible_checks_judge_an_item_on_its_own_too():
    nb = _notebook()
    image, bank = np.arange(20.0).reshape(4, 5), np.random.default_rng(0).standard_normal((2, 3, 3))
    expected = np.maximum(naive_conv(image[None, None], bank[:, None])[0], 0.0)
    assert not np.allclose(nb["apply_filterbank"](image, bank), expected)  # with the student's flipped conv
    with verify.judged_alone("a1_apply_filterbank", nb["apply_filterbank"]):
        np.testing.assert_allclose(nb["apply_filterbank"](image, bank), expected)
    assert not np.allclose(nb["apply_filterbank"](image, bank), expected)


# ---------------------------------------------------------------- hidden cases per student
def test_each_student_has_seeds_of_their_own():
    from course_tools.grading.seeds import student_seed

    key = bytes(range(32))
    alice = student_seed(key, "a1", "alice", "a1_conv2d_forward", 1301)
    assert alice == student_seed(key, "a1", "alice", "a1_conv2d_forward", 1301), "re-grading gives the same cases"
    others = {student_seed(key, "a1", s, "a1_conv2d_forward", 1301) for s in ("bob", "carol", "dave")}
    others |= {student_seed(key, "a1", "alice", "a1_apply_filterbank", 1301),
               student_seed(bytes(32), "a1", "alice", "a1_conv2d_forward", 1301)}
    assert alice not in others and len(others) == 5
    assert student_seed(key, "a1", "zo\u0308e", "i", 1) == student_seed(key, "a1", "z\u00f6e", "i", 1)


def test_autograding_gives_each_student_their_seeds(tmp_path):
    import nbformat

    from course_tools.grading.seeds import PerStudentSeeds, secret_file, student_seed

    hidden = ('expect_close(f(1), 2, "visible", hint="check(\\"x\\", f, seed=5) stays")\n'
              "### BEGIN HIDDEN TESTS\n_verify.check(\"a1_fc_params\", f, seed=1101)\n### END HIDDEN TESTS")
    grade = {"grade": True, "grade_id": "t", "points": 1, "solution": False, "locked": True}
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(hidden, metadata={"nbgrader": grade}),
                                         nbformat.v4.new_code_cell('check("a1_fc_params", f, seed=1101)')])
    db_url = f"sqlite:///{tmp_path / 'grading' / 'gradebook.db'}"
    resources = {"nbgrader": {"student": "alice", "assignment": "a1", "notebook": "a1", "db_url": db_url}}
    nb, _ = PerStudentSeeds().preprocess(nb, resources)
    key_file = tmp_path / "grading" / "hidden-seeds.key"
    assert secret_file(db_url) == str(key_file) and len(key_file.read_bytes()) == 32
    assert key_file.stat().st_mode & 0o007 == 0, "the course secret is never world-readable"
    seed = student_seed(key_file.read_bytes(), "a1", "alice", "a1_fc_params", 1101)
    assert f'_verify.check("a1_fc_params", f, seed={seed})' in nb.cells[0].source
    assert 'seed=5) stays' in nb.cells[0].source, "only the hidden checks change"
    assert nb.cells[1].source == 'check("a1_fc_params", f, seed=1101)', "not a test cell: unchanged"
    again, _ = PerStudentSeeds().preprocess(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        hidden, metadata={"nbgrader": grade})]), resources)
    assert again.cells[0].source == nb.cells[0].source, "the secret is created once and kept"


def test_hidden_cases_seen_once_do_not_help_another_student():
    """A conv that is right only on the cases it has seen (harvested from one seed) fails on other seeds."""
    from course_utils.exercises import get

    seen = {case["x"].tobytes() for case in get("a1_conv2d_forward").cases(1301)}

    def harvester(x, w, b=None, stride=1, padding=0):
        if x.tobytes() in seen:
            return naive_conv(x, w, b, stride, padding)
        return naive_conv(x, w, b, stride, 0)  # ignores padding on cases it has not seen

    verify.check("a1_conv2d_forward", harvester, seed=1301)  # the cases it was written for
    with pytest.raises(AssertionError, match="^a1_conv2d_forward: hidden case"):
        verify.check("a1_conv2d_forward", harvester, seed=987_654_321)


@pytest.mark.parametrize("saved", [{"version_major": 2, "version_minor": 0}, None, []])
def test_feedback_renders_a_notebook_with_broken_widget_state(saved):
    """Some ipywidgets versions save widget state without a "state" key: the feedback is still written."""
    import nbformat
    from nbconvert import HTMLExporter

    from course_tools.grading.preprocessors import DropBrokenWidgetState

    image = nbformat.v4.new_output("display_data", data={"text/plain": "x", "image/png": "iVBORw0KGgo="})
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1", outputs=[image])])
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": saved}
    nb, _ = DropBrokenWidgetState().preprocess(nb, {})
    assert "iVBORw0KGgo=" in HTMLExporter().from_notebook_node(nb)[0]


# ---------------------------------------------------------------- the course's or another library's code, by any path
def _reloaded_reference_conv():
    """The reference's conv module loaded again under another package name (its functions are new objects):
    the student package's folder imported as ``mylib``."""
    import importlib
    import os
    import sys
    import types

    import course_utils

    package = types.ModuleType("mylib")
    package.__path__ = [os.path.dirname(course_utils.__file__)]
    sys.modules["mylib"] = package
    try:
        return importlib.import_module("mylib.reference.conv").conv2d_forward
    finally:
        for name in [n for n in sys.modules if n == "mylib" or n.startswith("mylib.")]:
            del sys.modules[name]


def _scipy_c_core(x, w, b=None, stride=1, padding=0):
    from scipy.ndimage import _nd_image

    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding))).astype(float)
    N, C, H, W = xp.shape
    F, _, KH, KW = w.shape
    out = np.zeros((N, F, (H - KH) // stride + 1, (W - KW) // stride + 1))
    for n in range(N):
        for f in range(F):
            acc = np.zeros((H, W))
            for c in range(C):
                o = np.zeros((H, W))
                _nd_image.correlate(np.ascontiguousarray(xp[n, c]), np.ascontiguousarray(w[f, c].astype(float)),
                                    o, 4, 0.0, [-(KH // 2), -(KW // 2)])
                acc += o
            out[n, f] = acc[: out.shape[2] * stride: stride, : out.shape[3] * stride: stride]
    return out if b is None else out + np.asarray(b)[None, :, None, None]


def _torch_guard_off(x, w, b=None, stride=1, padding=0):
    import torch

    with torch._C.DisableTorchFunction():
        t = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w),
                                       None if b is None else torch.from_numpy(b), stride=stride, padding=padding)
    return t.numpy()


def test_the_courses_code_loaded_under_another_name_still_trips():
    saved = _reloaded_reference_conv()

    def conv2d_forward(x, w, b=None, stride=1, padding=0):
        return saved(x, w, b, stride, padding)

    with pytest.raises(AssertionError, match="called the course's implementation mylib.reference.conv.conv2d_forward"):
        verify.check("a1_conv2d_forward", conv2d_forward, seed=1301)


@pytest.mark.parametrize("fn, called", [(_scipy_c_core, "scipy.ndimage._nd_image.correlate"),
                                        (_torch_guard_off, "torch._C.DisableTorchFunction")])
def test_another_librarys_compiled_code_trips_on_a_numpy_only_item(fn, called):
    import scipy.ndimage  # noqa: F401  (imported before the check, as a student's notebook would)
    import torch  # noqa: F401

    with pytest.raises(AssertionError, match=f"called another library's implementation {called}"):
        verify.check("a1_conv2d_forward", fn, seed=1301)


# ---------------------------------------------------------------- one call per hidden test, one spec per exercise
def test_autograding_writes_each_hidden_check_out_with_a_fresh_loader(tmp_path):
    import nbformat

    from course_tools.grading.seeds import PerStudentSeeds, student_seed

    hidden = ('check("a1_fc_params", f)\n### BEGIN HIDDEN TESTS\n'
              'hidden_check("a1_fc_params", f, seed=1101)\n### END HIDDEN TESTS')
    grade = {"grade": True, "grade_id": "t", "points": 1, "solution": False, "locked": True}
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(hidden, metadata={"nbgrader": grade})])
    db_url = f"sqlite:///{tmp_path / 'grading' / 'gradebook.db'}"
    resources = {"nbgrader": {"student": "alice", "assignment": "a1", "notebook": "a1", "db_url": db_url}}
    nb, _ = PerStudentSeeds().preprocess(nb, resources)
    seed = student_seed((tmp_path / "grading" / "hidden-seeds.key").read_bytes(), "a1", "alice", "a1_fc_params", 1101)
    source = nb.cells[0].source
    assert source.startswith('check("a1_fc_params", f)\n'), "the visible check is unchanged"
    assert "spec_from_file_location" in source and "_verify_fresh" in source
    assert f"_verify.hidden_check('a1_fc_params', f, seed={seed}, judge=" in source
    assert "\nhidden_check(" not in source


def test_a_patched_verify_module_does_not_silence_the_rewritten_hidden_check(monkeypatch):
    from course_tools.grading.seeds import with_fresh_loader

    source = with_fresh_loader('hidden_check("a1_conv2d_forward", wrong, seed=1301)')
    namespace = {"wrong": lambda x, w, b=None, stride=1, padding=0: np.zeros(1)}
    monkeypatch.setattr(verify, "check", lambda *a, **k: None)  # as a tampering notebook would
    monkeypatch.setattr(verify, "hidden_check", lambda *a, **k: None)
    with pytest.raises(AssertionError, match="^a1_conv2d_forward: "):
        exec(compile(source, "<hidden test>", "exec"), namespace)


def test_the_spec_package_is_allowed_but_its_own_implementations_trip():
    from course_utils.exercises import backprop, get

    assert not verify.is_forbidden_module("course_utils.exercises.core")
    assert not verify.is_forbidden_file(backprop.__file__)
    spec = get("a2_tied_weight_gradient")
    verify.check("a2_tied_weight_gradient", lambda x, dout, kernel_size: np.array(
        [sum(dout[i] * x[i + j] for i in range(len(dout))) for j in range(kernel_size)]), seed=2101)
    with pytest.raises(AssertionError, match="called the course's implementation"):
        verify.check("a2_tied_weight_gradient", lambda x, dout, kernel_size: spec.reference(
            dict(x=x, dout=dout, kernel_size=kernel_size)), seed=2101)


def test_the_visible_self_check_is_the_hidden_tests_spec():
    from course_utils.exercises import EXERCISES, ITEMS, get

    for item, name in ITEMS.items():
        assert get(item) is EXERCISES[name] and item.split("_", 1)[0] in ("a1", "a2", "a3")
    assert "a2_maxpool2d_forward" in ITEMS and "a2_maxpool_forward" not in ITEMS


def test_the_judging_process_is_outside_the_kernels_process_group_and_ends_with_its_pipe():
    """At shutdown ipykernel signals the children in its own process group and waits seconds for each it never
    reaped: the judging process is in a group of its own, and ends by itself when the kernel's pipe closes."""
    import os

    verify.check("a1_conv2d_forward", naive_conv, seed=1301)
    judge = verify._JUDGE
    assert judge.poll() is None and os.getpgid(judge.pid) != os.getpgrp()
    judge.stdin.close()
    assert judge.wait(timeout=20) == 0


def test_a_function_that_shows_a_figure_is_not_calling_the_courses_implementation():
    """A figure the student's function shows goes through ``course_utils.alt_text`` (its text alternative):
    presentation, not an implementation of an exercise."""
    from matplotlib.figure import Figure

    from course_utils import alt_text

    def conv_that_plots(x, w, b=None, stride=1, padding=0):
        out = naive_conv(x, w, b, stride, padding)
        fig = Figure()
        fig.add_subplot().imshow(out[0, 0])
        assert alt_text.alt_of(fig).startswith("1 image")  # what showing it in a notebook does
        return out

    verify.check("a1_conv2d_forward", conv_that_plots, seed=1301)
