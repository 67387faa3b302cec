"""One spec per exercise: its cases, its reference, its tolerances and hints, and the one self-check.

An ``Exercise`` says everything the course knows about one function students write:

* ``cases(seed)``: seeded random cases (a list of dicts: the arguments of one call), the hidden tests' and
  the unit tests'; ``examples()``: a few fixed, readable cases the notebook self-check runs first;
* ``call(fn, case)``: how to call the student's function on a case (default ``fn(**case)``, arrays copied);
* ``reference(case)``: the expected output, computed by the course's own implementation (``course_utils``);
* ``tolerance(dtype)``: (rtol, atol) by the dtype of the student's output (``TOLERANCES``);
* ``hints``: one line per failure kind (``"shape"``, ``"values"``, or an output's name such as ``"dx"``);
* ``describe(case)``, ``numpy_only`` (the assignment says "NumPy only") and ``uses`` (other exercises the
  function calls, by their names in the notebook -> the course's function that stands in for them while
  this one is judged, ``judged_alone``); ``judge(case, got)`` replaces the comparison where no reference
  output exists (a filterbank's design, a training loop's accuracy): it returns None when ``got`` is right,
  else what is wrong, or (what is wrong, the ``hints`` key of the hint to show);
* ``mistakes``: the plausible wrong implementations students write (``Mistake``: an id, the wrong output for
  a case, one sentence naming it); ``diagnose`` names the one a wrong answer matches, in the self-check's
  message ("Diagnosis: ...") and in the hidden tests' verdict.

``check(name, fn)`` is the notebook's self-check (one call per exercise); an assignment's item id
(``"a1_conv2d_forward"``, ``ITEMS``) names the same spec, and the hidden tests (``course_tools.grading``)
judge the same cases with the same tolerances.
"""

from __future__ import annotations

import contextlib
import importlib
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from course_utils import checks

#: what a self-check prints for a function that still raises NotImplementedError (the same everywhere)
NOT_ATTEMPTED = "not attempted yet: {name} still raises NotImplementedError; write it, run its cell, then this one"

#: (rtol, atol) by the dtype of the student's output. float64 is the default; for lower precisions atol is
#: relative to the largest expected value: a correct float32 algorithm differs from the float64 reference by
#: a few units in its last place, summed over up to a few hundred terms
TOLERANCES = {"float64": (1e-6, 1e-8), "float32": (1e-4, 1e-5), "float16": (1e-2, 1e-2), "bfloat16": (3e-2, 3e-2)}
#: the precisions whose atol scales with the expected values (today's hidden-test rule)
LOW_PRECISION = {k: v for k, v in TOLERANCES.items() if k != "float64"}


def implementation(fn):
    """Mark ``fn`` as the course's own implementation of an exercise (a reference written in a spec): the
    hidden tests make it a tripwire, like everything in ``course_utils.reference``. Returns ``fn``."""
    fn._course_implementation = True
    return fn


def kwargs_call(fn, case: dict):
    """``fn(**case)``, with every array argument copied (a function that writes into its input changes nothing)."""
    return fn(**{k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in case.items()})


def describe_arrays(case: dict) -> str:
    """``x shape (2, 3, 5, 5), stride=2``: arrays by their shape, other arguments by their value."""
    return ", ".join(f"{k} shape {tuple(v.shape)}" if isinstance(v, np.ndarray) else f"{k}={v!r}"
                     for k, v in case.items())


class Variants(tuple):
    """Several wrong outputs of one mistake (the ways students write it): ``Mistake.output`` may return
    ``Variants(output, other_output, ...)``."""

    def __new__(cls, *outputs):
        return super().__new__(cls, outputs)


@dataclass(frozen=True)
class Mistake:
    """A plausible wrong implementation of an exercise, and the one sentence that names it.

    ``output(case)``: what the wrong implementation returns for ``case`` (in the form of the exercise's
    ``reference``; ``Variants(...)`` for several ways of making it), written beside the reference and marked
    ``@implementation``; or, for an exercise judged without a reference output, ``matches(case, got)``: True
    when the outputs ``got`` show the mistake's symptom; or, for a mistake that makes the function fail,
    ``raised(error)``: True when the exception the student's function raised shows it (``diagnose_error``).
    """

    id: str
    diagnosis: str
    output: Callable[[dict], Any] | None = None
    matches: Callable[[dict, list], bool] | None = None
    raised: Callable[[Exception], bool] | None = None


@dataclass(frozen=True)
class Exercise:
    """One exercise (see the module docstring). Only ``name`` and ``cases`` are required."""

    name: str
    cases: Callable[[int], list]
    reference: Callable[[dict], Any] | None = None
    examples: Callable[[], list] = lambda: []
    call: Callable[[Callable, dict], Any] = kwargs_call
    hints: dict = field(default_factory=dict)
    describe: Callable[[dict], str] = describe_arrays
    #: (rtol, atol) at float64 for this exercise (lower precisions: ``TOLERANCES``)
    float64: tuple = TOLERANCES["float64"]
    #: names of the outputs when the function returns a tuple ((dx, dw, db)), for messages and hints
    outputs: tuple = ()
    judge: Callable[[dict, list], str | tuple[str, str] | None] | None = None
    #: the output is one exact value (a count, a size): compared with ==, not within a tolerance
    exact: bool = False
    numpy_only: bool = True
    uses: dict = field(default_factory=dict)
    #: how many seeded cases the notebook self-check runs after the examples
    checked_cases: int = 4
    #: examples the notebook's self-check runs and an assignment's does not (its function's signature differs)
    notebook_examples: Callable[[], list] = lambda: []
    #: the plausible wrong implementations ``diagnose`` can name
    mistakes: tuple = ()

    def tolerance(self, dtype: str | None = None) -> tuple[float, float]:
        """(rtol, atol) for an output of ``dtype`` (None or "float64": this exercise's float64 tolerance)."""
        if dtype in LOW_PRECISION:
            low = LOW_PRECISION[dtype]
            return max(self.float64[0], low[0]), max(self.float64[1], low[1])
        return self.float64

    def hint(self, kind: str, output: str = "") -> str:
        return self.hints.get(output) or self.hints.get(kind) or self.hints.get("values", "")

    def verdict(self, case: dict, got: list, dtype: str | None = None) -> str | None:
        """None if ``got`` (the outputs as float64 arrays) is right for ``case``, else what is wrong."""
        if self.judge is not None:
            problem = self.judge(case, got)
            return problem[0] if isinstance(problem, tuple) else problem
        if self.exact:
            return exact(got, self.reference(case))
        rtol, atol = self.tolerance(dtype)
        return compare(got, self.reference(case), rtol, atol, self.outputs or None, scaled=dtype in LOW_PRECISION)


EXERCISES: dict[str, Exercise] = {}
#: assignment item id (the grade id of its test cell) -> exercise name
ITEMS: dict[str, str] = {}


def register(exercise: Exercise, *items: str) -> Exercise:
    """Add ``exercise`` to the registry, under its name and the assignment item ids in ``items``."""
    if exercise.name in EXERCISES:
        raise ValueError(f"register: exercise {exercise.name!r} is registered twice")
    EXERCISES[exercise.name] = exercise
    for item in items:
        ITEMS[item] = exercise.name
    return exercise


def get(name: str) -> Exercise:
    """The exercise called ``name``, or the one behind an assignment item id. Raises KeyError otherwise."""
    if name in ITEMS:
        name = ITEMS[name]
    try:
        return EXERCISES[name]
    except KeyError:
        raise KeyError(f"no exercise called {name!r}; known: {', '.join(sorted([*EXERCISES, *ITEMS]))}") from None


def compare(got: list, expected, rtol=1e-6, atol=1e-8, names=None, scaled=False) -> str | None:
    """None if ``got`` (list of arrays) matches ``expected`` (array or tuple of arrays), else what differs.

    ``scaled``: atol is relative to the largest expected value (outputs in a low precision).
    """
    expected = list(expected) if isinstance(expected, tuple | list) else [expected]
    if scaled:
        atol = atol * max([float(np.max(np.abs(np.asarray(e, dtype=np.float64)), initial=0.0))
                           for e in expected] + [1.0])
    if len(got) != len(expected):
        return f"expected {len(expected)} output(s), got {len(got)}"
    for i, (g, e) in enumerate(zip(got, expected)):
        e = np.asarray(e, dtype=np.float64)
        what = names[i] if names else "output"
        if g.shape != e.shape:
            return f"{what} has shape {g.shape}, expected {e.shape}"
        if not np.all(np.isfinite(g)) or not np.all(np.abs(g - e) <= atol + rtol * np.abs(e)):
            return f"{what} values differ from the expected ones (max abs error {np.nanmax(np.abs(g - e)):.3g})"
    return None


def exact(got: list, expected) -> str | None:
    """None if ``got`` is one value equal to ``expected`` (a count, a size), else what differs."""
    if len(got) != 1 or got[0].shape != () or got[0] != expected:
        return f"expected {expected}, got {got[0] if len(got) == 1 else got}"
    return None


def as_arrays(out) -> list[tuple[np.ndarray, str]]:
    """A function's output as [(float64 array, the dtype it had), ...] (tuples are separate outputs)."""
    if hasattr(out, "detach") and hasattr(out, "cpu"):  # a torch tensor (bfloat16 has no NumPy dtype)
        return [(out.detach().cpu().double().numpy(), str(out.dtype).removeprefix("torch."))]
    if isinstance(out, tuple):
        return [a for o in out for a in as_arrays(o)]
    dtype = getattr(out, "dtype", None)
    return [(np.array(out, dtype=np.float64), str(dtype) if dtype is not None else "")]


def low_dtype(dtypes) -> str | None:
    """The lowest precision among the outputs' dtypes (None: float64 or not a float): the tolerance's dtype."""
    low = sorted({d for d in dtypes if d in LOW_PRECISION})
    return low[0] if low else None


# ---------------------------------------------------------------- naming the student's mistake
def _agrees(ex: Exercise, got: list, wrong, dtype: str | None) -> bool:
    """Whether outputs ``got`` equal ``wrong`` (an output in the form of ``ex.reference``) within tolerance."""
    if ex.exact:
        return exact(got, wrong) is None
    rtol, atol = ex.tolerance(dtype)
    return compare(got, wrong, rtol, atol, scaled=dtype in LOW_PRECISION) is None


def _explains(ex: Exercise, mistake: Mistake, case: dict, got: list, dtype: str | None) -> bool:
    """Whether ``mistake`` explains the wrong outputs ``got`` of ``case``: they equal one of its wrong outputs,
    which the right answer does not (a case where the mistake changes nothing explains nothing)."""
    try:
        if mistake.raised is not None:
            return False
        if mistake.matches is not None:
            return bool(mistake.matches(case, got))
        wrongs = mistake.output(case)
        expected = None if ex.reference is None else [a for a, _ in as_arrays(ex.reference(case))]
        for wrong in wrongs if isinstance(wrongs, Variants) else (wrongs,):
            if (expected is None or not _agrees(ex, expected, wrong, dtype)) and _agrees(ex, got, wrong, dtype):
                return True
    except Exception:  # a wrong implementation that cannot run on this case explains nothing
        return False
    return False


def diagnose(ex: Exercise, case: dict, got: list, dtype: str | None = None, also=()) -> Mistake | None:
    """The known mistake (``ex.mistakes``) that the student's wrong outputs match, or None.

    ``got``: the student's outputs for ``case`` as the judge sees them (float64 arrays, ``as_arrays``),
    ``dtype`` the low precision they were computed in (their tolerance), ``also``: other cases the student
    was judged on, as (case, got, dtype). A mistake is named when, on ``case`` and on every other case the
    student gets wrong, the outputs equal the mistake's output within the exercise's tolerance while the
    right answer does not (a wrong answer that matches no mistake, or two mistakes at once, gets None). The
    first such mistake in ``ex.mistakes`` order wins. A right answer gets None.
    """
    if not ex.mistakes:
        return None
    wrong_cases = [(c, g, d) for c, g, d in [(case, got, dtype), *also] if ex.verdict(c, g, d) is not None]
    if not wrong_cases or wrong_cases[0][0] is not case:
        return None
    for mistake in ex.mistakes:
        if all(_explains(ex, mistake, c, g, d) for c, g, d in wrong_cases):
            return mistake
    return None


def diagnose_error(ex: Exercise, error: Exception) -> Mistake | None:
    """The known mistake of ``ex`` that the exception a student's function raised shows (``Mistake.raised``),
    or None."""
    for mistake in ex.mistakes:
        try:
            if mistake.raised is not None and mistake.raised(error):
                return mistake
        except Exception:  # naming the mistake never hides the failure
            continue
    return None


def with_diagnosis(message: str, mistake: Mistake | None) -> str:
    """A self-check's failure ``message`` with the line "Diagnosis: ..." before its hint (lines of
    ``checks.WIDTH`` characters at most)."""
    if mistake is None:
        return message
    lines = message.splitlines()
    at = next((i for i, line in enumerate(lines) if line.startswith("Hint:")), len(lines))
    return "\n".join([*lines[:at], *checks._lines(f"Diagnosis: {mistake.diagnosis}"), *lines[at:]])


def mistake_named_in(ex: Exercise, text: str) -> Mistake | None:
    """The mistake of ``ex`` whose "Diagnosis: ..." line (``with_diagnosis``) stands in ``text`` (a self-check's
    error as a notebook shows it, wrapped or cut short with "…"), or None. How ``make grade`` records the
    mistake of an item whose visible check failed, so that its hidden test never ran."""
    import re

    found = re.search(r"Diagnosis: (.*?)(?:\s*Hint:|$)", " ".join(text.split()))
    said = found.group(1).rstrip("…. ").strip() if found else ""
    if len(said) < 20:  # too little left to tell two mistakes apart
        return None
    # the whole sentence, cut short ("…"), or followed by more text (a traceback after an error's diagnosis)
    return next((m for m in ex.mistakes
                 if (full := " ".join(m.diagnosis.split())).startswith(said) or said.startswith(full)), None)


# ---------------------------------------------------------------- each exercise judged on its own
def references(name: str) -> dict:
    """{name in the notebook: the course's function} for the exercise's ``uses`` (their modules imported)."""
    found = {}
    for used, where in get(name).uses.items():
        module, _, attr = where.partition(":")
        found[used] = getattr(importlib.import_module(module), attr)
    return found


@contextlib.contextmanager
def judged_alone(name: str, fn, wrap=None):
    """While active, the other exercises ``fn`` calls are the course's reference (``Exercise.uses``).

    ``with judged_alone("a1_apply_filterbank", apply_filterbank): ...`` runs ``apply_filterbank`` with the
    course's ``conv2d_forward``: ``fn`` looks it up by that name among its globals (the notebook's), which
    are rebound here and restored after, so a mistake in ``conv2d_forward`` costs that exercise only. The
    student's own version is replaced wherever the notebook's functions can reach it (another global name,
    a default argument, a closure). ``wrap(reference)`` adapts each reference (the hidden tests lift their
    tripwires while it runs). A callable without globals (a builtin, an object) is left as is. Raises
    KeyError for an unknown exercise.
    """
    uses = references(name)
    namespace = getattr(fn, "__globals__", None)
    if not uses or not isinstance(namespace, dict):
        yield
        return
    undo = []  # (restore function), run in reverse order
    absent = object()

    def put(holder, key, value):
        old = holder.get(key, absent)
        holder[key] = value
        undo.append(lambda: holder.pop(key, None) if old is absent else holder.__setitem__(key, old))

    try:
        for used, reference in uses.items():
            stand_in = wrap(reference) if wrap else reference
            own = namespace.get(used, absent)
            put(namespace, used, stand_in)
            if not isinstance(own, types.FunctionType):
                continue
            # the student's own version under other names too: an alias, a default argument, a closure
            for key, value in list(namespace.items()):
                if value is own:
                    put(namespace, key, stand_in)
            notebook_functions = [f for f in namespace.values()
                                  if isinstance(f, types.FunctionType) and f.__globals__ is namespace]
            for f in {id(f): f for f in [fn, *notebook_functions]}.values():
                if f.__defaults__ and any(d is own for d in f.__defaults__):
                    old_defaults = f.__defaults__
                    f.__defaults__ = tuple(stand_in if d is own else d for d in old_defaults)
                    undo.append(lambda f=f, d=old_defaults: setattr(f, "__defaults__", d))
                for key, d in (f.__kwdefaults__ or {}).items():
                    if d is own:
                        put(f.__kwdefaults__, key, stand_in)
                for cell in f.__closure__ or ():
                    try:
                        if cell.cell_contents is own:
                            cell.cell_contents = stand_in
                            undo.append(lambda c=cell, o=own: setattr(c, "cell_contents", o))
                    except ValueError:  # an empty cell
                        pass
        yield
    finally:
        for restore in reversed(undo):
            restore()


# ---------------------------------------------------------------- the notebook self-check
def _judged(ex: Exercise, out) -> tuple[list, str | None]:
    got = as_arrays(out)
    return [a for a, _ in got], low_dtype(d for _, d in got)


def _diagnose_call(ex: Exercise, fn, case: dict, out, rest: list) -> Mistake | None:
    """``diagnose`` for the self-check: ``out`` failed on ``case``; ``fn`` also runs on the ``rest`` of the
    cases, so that a mistake is named only if it explains every case the function gets wrong, as the hidden
    tests' judge does (a case where ``fn`` raises is no evidence)."""
    if not ex.mistakes:
        return None
    try:
        also = []
        for other in rest:
            try:
                also.append((other, *_judged(ex, ex.call(fn, other))))
            except Exception:
                continue
        return diagnose(ex, case, *_judged(ex, out), also=also)
    except Exception:  # naming the mistake never hides the failure
        return None


def _fail(ex: Exercise, case: dict, expected: str | None, got: str, hint: str, detail: str = ""):
    checks._fail(f"{ex.name}: {ex.describe(case)}", expected, got, hint, detail)


def _check_case(ex: Exercise, case: dict, out) -> None:
    got = as_arrays(out)
    arrays, dtype = [a for a, _ in got], low_dtype(d for _, d in got)
    if ex.judge is not None:
        problem = ex.judge(case, arrays)
        if problem:
            problem, kind = problem if isinstance(problem, tuple) else (problem, "values")
            _fail(ex, case, None, problem, ex.hint(kind))
        return
    expected = ex.reference(case)
    if ex.exact:
        if len(arrays) != 1 or arrays[0].shape != () or arrays[0] != expected:
            _fail(ex, case, repr(expected), checks._short(out), ex.hint("values"))
        return
    expected = list(expected) if isinstance(expected, tuple | list) else [expected]
    if len(arrays) != len(expected):
        _fail(ex, case, f"{len(expected)} output(s)" + (f" ({', '.join(ex.outputs)})" if ex.outputs else ""),
              f"{len(arrays)}", ex.hint("shape"))
    rtol, atol = ex.tolerance(dtype)
    for i, (a, e) in enumerate(zip(arrays, expected)):
        e = np.asarray(e, dtype=np.float64)
        name = ex.outputs[i] if ex.outputs else ""
        what = f"{ex.name}: {name + ' for ' if name else ''}{ex.describe(case)}"
        if a.shape != e.shape:
            checks._fail(what, f"shape {e.shape}", f"shape {a.shape}", ex.hint("shape", name),
                         "(the shapes differ, so values were not compared)")
        if dtype in LOW_PRECISION:
            atol = atol * max(float(np.max(np.abs(e), initial=0.0)), 1.0)
        checks._compare_arrays(a, e, what, ex.hint("values", name), close=True, rtol=rtol, atol=atol)


def check(name: str, fn, seed: int = 0) -> None:
    """The self-check of exercise ``name`` (or of an assignment item id) on your function ``fn``.

    Runs the exercise's fixed examples, then a few of its seeded random cases (``seed``), and compares each
    output with the course's reference, within the exercise's tolerance for the output's dtype. Prints one
    "OK" line when all agree; raises ``checks.CheckFailed`` naming the case, the expected and the actual
    value, the known mistake it matches (``diagnose``: a "Diagnosis: ..." line) and a hint at the first that
    does not. A function that still raises NotImplementedError prints
    ``NOT_ATTEMPTED`` in a notebook (so that it runs top to bottom); in an assignment (``name`` an item id)
    the error goes on, and the test fails. Other exercises ``fn`` calls are the course's while it runs
    (``judged_alone``).
    """
    ex = get(name)
    graded = name in ITEMS
    cases = [*ex.examples(), *([] if graded else ex.notebook_examples()), *ex.cases(seed)[: ex.checked_cases]]
    with judged_alone(name, fn):
        for k, case in enumerate(cases):
            try:
                out = ex.call(fn, case)
            except NotImplementedError:
                if graded:
                    raise
                print(NOT_ATTEMPTED.format(name=getattr(fn, "__name__", ex.name)))
                return
            except Exception as error:
                mistake = diagnose_error(ex, error)
                if mistake is None:
                    raise
                raise checks.CheckFailed(with_diagnosis(
                    f"{ex.name}: {ex.describe(case)}\nyour function raised {type(error).__name__}: {error}",
                    mistake)) from error
            try:
                _check_case(ex, case, out)
            except checks.CheckFailed as failed:
                mistake = _diagnose_call(ex, fn, case, out, cases[k + 1:])
                if mistake is None:
                    raise
                raise checks.CheckFailed(with_diagnosis(str(failed), mistake)) from None
    n = f"{len(cases)} case{'s' * (len(cases) > 1)}"
    verdict = "passes every test" if ex.reference is None else "agrees with the course's reference"
    checks._ok(f"{ex.name} {verdict} on {n}")
