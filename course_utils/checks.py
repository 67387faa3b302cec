"""Self-checks for "your turn" exercises: say what was expected when they fail, print "OK" when they pass.

>>> from course_utils.counting import fully_connected_params
>>> expect_equal(fully_connected_params(200, 40_000), 1_600_000_000, "FC params, 200x200 image, 40K hidden units")
OK: FC params, 200x200 image, 40K hidden units = 1600000000
>>> out = np.zeros((2, 8, 26, 26))             # say, a conv layer's output
>>> expect_shape(out, (2, 8, 26, 26), "conv output")
OK: conv output has shape (2, 8, 26, 26)
>>> expect_shape(out, (2, 8, 28, 28), "conv output", hint="padding=1 keeps 28x28")
Traceback (most recent call last):
    ...
course_utils.checks.CheckFailed: conv output
  expected: shape (2, 8, 28, 28)
  got:      shape (2, 8, 26, 26)
Hint: padding=1 keeps 28x28

A failure raises ``CheckFailed`` (an AssertionError) whose message names the case, the expected and the
actual value (for arrays: a shape mismatch first, else the worst element's index and both values) and a
hint, in lines of at most ``WIDTH`` characters (`nbgrader validate` cuts longer ones); in a notebook it shows
as those few lines, not as a traceback through this module. Imported in IPython, this module also
(``install``): ends a cell whose checks all passed with one line saying so, and shows an error raised inside
the student's own code as its type and message, the student's frames (the check's line that called it, the
line of their function that raised) and a hint, without the library frames (``%tb`` shows them all).
"""

from __future__ import annotations

import functools
import numbers
import os
import sys
import sysconfig
import textwrap
import traceback

import numpy as np

#: longest line of a failure message: `nbgrader validate` indents lines by 4 and cuts them past 87 characters
WIDTH = 82
_COUNTS = {"passed": 0, "failed": 0}  # checks run in the current cell (see install)


def _as_array(value):
    """NumPy view of an array-like (torch tensors included, detached to CPU), or None for scalars/others."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor, without importing torch
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray | list | tuple):
        try:
            arr = np.asarray(value)
        except ValueError:  # ragged nesting
            return None
        return arr if arr.dtype != object else None
    return None


def _plain(value):
    """A NumPy scalar as the Python number it holds (its repr is ``3.0``, not ``np.float64(3.0)``)."""
    return value.item() if isinstance(value, np.generic) else value


def _short(value, limit: int = 200) -> str:
    value = _plain(value)
    text = np.array2string(value, threshold=20, edgeitems=3) if isinstance(value, np.ndarray) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class CheckFailed(AssertionError):
    """A failed self-check. IPython shows an exception with ``_render_traceback_`` as the lines it returns:
    here the check's own message (case, expected, got, hint) under a red "Check failed", without the
    30-50 lines of traceback through this module that would bury it."""

    def _render_traceback_(self):
        return ["\x1b[0;31mCheck failed\x1b[0m", *str(self).splitlines()]


def _lines(text: str, indent: str = "") -> list[str]:
    """``text`` wrapped to WIDTH characters, continuation lines indented under ``indent``."""
    return textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=indent + "    ") or [indent]


def _fail(what: str, expected: str | None, actual: str, hint: str, detail: str = ""):
    """Raise CheckFailed: ``what`` failed, expected vs got (or, with ``expected`` None, ``actual`` says what
    is wrong in its own words), then ``detail`` and the hint."""
    lines = [*_lines(what), *_lines(f"got: {actual}" if expected is None else f"expected: {expected}", "  ")]
    if expected is not None:
        lines += _lines(f"got:      {actual}", "  ")
    if detail:
        lines += _lines(detail, "  ")
    if hint:
        lines += _lines(f"Hint: {hint}")
    _COUNTS["failed"] += 1
    raise CheckFailed("\n".join(lines))


def _ok(text: str) -> None:
    _COUNTS["passed"] += 1
    print(f"OK: {text}")


def _shape_of(array):
    arr = _as_array(array)
    if arr is None:
        return None
    return tuple(arr.shape)


def expect_shape(array, shape, what: str, hint: str = "") -> None:
    """Check that ``array`` (NumPy array, torch tensor, nested list) has exactly ``shape``."""
    shape = tuple(int(s) for s in shape)
    actual = _shape_of(array)
    if actual is None:
        _fail(what, f"an array of shape {shape}", f"{type(array).__name__} {_short(array)}", hint)
    if actual != shape:
        _fail(what, f"shape {shape}", f"shape {actual}", hint)
    _ok(f"{what} has shape {shape}")


def _compare_arrays(actual, expected, what, hint, close, rtol=0.0, atol=0.0):
    """Shared array comparison: shape first, then the worst element."""
    a, e = _as_array(actual), _as_array(expected)
    if e is None:
        e = np.asarray(expected)
    if a is None and isinstance(actual, numbers.Number) and e.ndim == 0:
        a = np.asarray(actual)
    if a is None:
        _fail(what, f"an array of shape {e.shape}", f"{type(actual).__name__} {_short(actual)}", hint)
    if a.shape != e.shape:
        detail = "(the shapes differ, so values were not compared)"
        _fail(what, f"shape {e.shape}", f"shape {a.shape}", hint, detail)
    if a.size == 0:
        return
    if close:
        a64, e64 = a.astype(np.float64), e.astype(np.float64)
        bad = ~np.isclose(a64, e64, rtol=rtol, atol=atol, equal_nan=True)
        excess = np.where(bad, np.abs(a64 - e64) - (atol + rtol * np.abs(e64)), -np.inf)
        excess = np.where(bad & np.isnan(excess), np.inf, excess)  # NaN against a number: worst of all
        tolerance = f" (rtol={rtol:g}, atol={atol:g})"
    else:
        bad = a != e
        excess = np.where(bad, 1.0, -np.inf)
        tolerance = ""
    if bad.any():
        worst = np.unravel_index(int(np.argmax(excess)), a.shape)
        idx = tuple(int(i) for i in worst)
        _fail(
            what,
            f"{e[worst].item()!r} at index {idx}{tolerance}",
            f"{a[worst].item()!r}",
            hint,
            f"{int(bad.sum())} of {a.size} elements differ (shape {a.shape})",
        )


def _is_array(value) -> bool:
    return isinstance(value, np.ndarray) or (hasattr(value, "detach") and hasattr(value, "cpu"))


def expect_equal(actual, expected, what: str, hint: str = "") -> None:
    """Check ``actual == expected`` exactly: numbers, strings, tuples; arrays/tensors element by element."""
    if _is_array(actual) or _is_array(expected):
        _compare_arrays(actual, expected, what, hint, close=False)
        _ok(f"{what} matches (shape {np.shape(_as_array(expected))})")
        return
    equal = actual == expected
    if not isinstance(equal, bool | np.bool_):
        equal = bool(np.all(equal))
    if not equal:
        _fail(what, _short(expected), _short(actual), hint)
    _ok(f"{what} = {_short(actual)}")


def expect_close(actual, expected, what: str, rtol: float = 1e-6, atol: float = 1e-8, hint: str = "") -> None:
    """Check ``|actual - expected| <= atol + rtol * |expected|`` elementwise (numbers or arrays)."""
    if _is_array(actual) or _is_array(expected) or _as_array(expected) is not None:
        _compare_arrays(actual, expected, what, hint, close=True, rtol=rtol, atol=atol)
        _ok(f"{what} matches within rtol={rtol:g}, atol={atol:g}")
        return
    if not isinstance(actual, numbers.Number) or isinstance(actual, bool):
        _fail(what, f"a number close to {_short(expected)}", f"{type(actual).__name__} {_short(actual)}", hint)
    if not np.isclose(float(actual), float(expected), rtol=rtol, atol=atol):
        _fail(
            what,
            f"{_plain(expected)!r} (rtol={rtol:g}, atol={atol:g})",
            f"{_plain(actual)!r}",
            hint,
            f"difference {abs(float(actual) - float(expected)):.3g}",
        )
    _ok(f"{what} = {_plain(actual)!r} (close to {_plain(expected)!r})")


def if_attempted(fn, *args, **kwargs):
    """``fn(*args, **kwargs)``, or None while ``fn`` still raises NotImplementedError (a notebook's stub).

    For a cell that uses the student's function after its check (``check`` has said "not attempted yet"):

    >>> def stub(x):
    ...     raise NotImplementedError
    >>> if_attempted(stub, 1) is None, if_attempted(abs, -2)
    (True, 2)
    """
    try:
        return fn(*args, **kwargs)
    except NotImplementedError:
        return None


# ---------------------------------------------------------------- in a notebook (IPython)
@functools.cache
def _library_dirs() -> tuple[str, ...]:
    """Folders whose frames a student does not need to see: Python's, the installed packages', this package's."""
    paths = {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    paths.add(os.path.dirname(os.path.abspath(__file__)))
    return tuple(os.path.realpath(p) + os.sep for p in paths)


def _is_library(path: str, dirs: tuple[str, ...] | None = None) -> bool:
    return os.path.realpath(path).startswith(dirs or _library_dirs())


def student_frames(tb) -> list[traceback.FrameSummary]:
    """The frames of a traceback that run the student's code (notebook cells, their own modules)."""
    return [f for f in traceback.extract_tb(tb) if not _is_library(f.filename)]


def compact_error(shell, etype, value, tb, tb_offset=None) -> list[str]:
    """The lines IPython shows for an error in a notebook (see the module docstring); also displays them."""
    frames = student_frames(tb)
    if isinstance(value, CheckFailed) or not frames:
        shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
        return []
    sys.last_type, sys.last_value, sys.last_traceback = etype, value, tb  # for %tb
    if isinstance(value, NotImplementedError) and len(frames) > 1:
        lines = ["\x1b[0;31mNot attempted yet\x1b[0m",
                 *_lines(f"{frames[-1].name} still raises NotImplementedError: write it, run its cell, then this one")]
        shell._showtraceback(etype, value, lines)
        return lines
    lines = ["\x1b[0;31mError\x1b[0m", *_lines(f"{etype.__name__}: {value}")]
    for i, frame in enumerate(frames[-4:]):  # the check's line, then the student's functions, innermost last
        label = shell.compile.format_code_name(frame.filename)
        where = f"{label[0]} {label[1]}" if label else os.path.basename(frame.filename)
        scope = "" if frame.name == "<module>" else f", in {frame.name}"
        lines += _lines(f"{'raised at' if i == len(frames[-4:]) - 1 else 'called from'} {where}, line "
                        f"{frame.lineno}{scope}:", "  ")
        if frame.line:
            lines += _lines(frame.line.strip(), "      ")[:2]
    innermost = tb
    while innermost.tb_next is not None:
        innermost = innermost.tb_next
    package = (os.path.dirname(os.path.realpath(__file__)) + os.sep,)
    if len(frames) > 1 and not _is_library(innermost.tb_frame.f_code.co_filename, package):
        lines += _lines("Hint: the error is in your code, not in the check: run the call in a cell of its own "
                        "and print what it uses (%tb: full traceback)")
    shell._showtraceback(etype, value, lines)
    return lines


def _before_cell(*_):
    _COUNTS.update(passed=0, failed=0)


def _after_cell(result):
    if _COUNTS["passed"] and not _COUNTS["failed"] and result.success:
        n = _COUNTS["passed"]
        print(f"✓ all {n} check{'s' if n > 1 else ''} in this cell passed" if n > 1 else "✓ the check passed")


def install(shell=None) -> bool:
    """Make IPython ``shell`` (default: the running one) report checks and errors as the module docstring says.

    Called when this module is imported; returns False outside IPython. Installing twice changes nothing.
    """
    if shell is None:
        if "IPython" not in sys.modules:
            return False
        from IPython import get_ipython

        shell = get_ipython()
        if shell is None or not hasattr(shell, "set_custom_exc"):
            return False
    if getattr(shell, "_course_checks_installed", False):
        return True
    shell.events.register("pre_run_cell", _before_cell)
    shell.events.register("post_run_cell", _after_cell)
    shell.set_custom_exc((Exception,), compact_error)
    shell._course_checks_installed = True
    return True


install()
