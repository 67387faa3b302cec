"""The hidden-test judge (course_utils.grading.verify): the stated rules are the enforced rules, and a
correct algorithm passes in any floating-point precision (the judge itself runs in a clean process)."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils.grading import verify

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
    ("course_utils.grading.items", False, False),
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
