"""Hidden-test machinery: judge a student's function on seeded random cases, out of the student's reach.

A hidden test cell of an assignment is one call, ``hidden_check(item, student_function, seed=...)``; at
autograding ``seeds.PerStudentSeeds`` rewrites it to load a fresh copy of this file first (``FRESH_LOADER``),
so a notebook that patches ``course_tools.grading.verify`` in ``sys.modules`` changes nothing. ``check``:

1. builds the item's cases from the seed (random shapes, strides, paddings, ties...): the item id names an
   exercise's spec in ``course_utils.exercises`` (the same cases, tolerances and references as the
   notebooks' self-checks);
2. calls the student's function on each case with every function of the course's own implementations
   (all of ``course_utils`` but the machinery in ``ALLOWED_PREFIXES``) turned into a *tripwire*: the
   code object of each such function is swapped, so even a reference saved under another name before the
   test ran trips it. Calling the course's implementation scores 0 on the item; so does calling another
   library's (torch, scipy, scikit-image, OpenCV) on an item that asks for NumPy only. Each item is judged
   on its own: another exercise the function calls (``apply_filterbank`` calls ``conv2d_forward``) is the
   course's reference while it runs (``judged_alone``), so one mistake costs one item;
3. saves the outputs to ``.checks/<item>.npz`` beside the notebook (arrays only, no pickle);
4. judges the saved outputs in a *fresh Python process* (``python -P -m course_tools.grading.verify``),
   which recomputes the expected values with the course's reference and compares them with its own
   pristine NumPy (and names the known mistake the outputs match, ``course_utils.exercises.diagnose``:
   "... Diagnosis: ... [mistake: flipped_kernel]"): redefining ``np.allclose``, ``np.testing``,
   ``math.isclose`` or ``course_utils.checks`` in the notebook changes nothing there.

``make grade`` (``course_tools.grading.grade``) then judges the same ``.npz`` files once more in the
instructor's own process, on the student's own cases (``seeds.py``: each student's seeds derive from a
course secret and the student's id, so hidden cases seen once cannot be hard-coded): a submission that
silences its errors, disables ``check`` or forges the files still needs outputs that are right for cases
it was not shown. The course's functions are found by their files too (a module loaded again under another
name), and on a NumPy-only item other libraries' compiled functions and torch's switches that turn the torch
guard off are tripwires as well. What no checker in the student's own process can rule out: a student who
copies the reference's *source text* into their answer (plagiarism, for a human to judge), or who rewrites
the kernel's Python itself (an IPython AST transformer that swallows the tripwire's error, then saves the
reference's outputs for their own cases): the outputs are then right, and only the calls are illegal. Closing
that needs a grading kernel in which the course's implementations are not installed at all.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
import types
from typing import NamedTuple

CHECK_DIR = ".checks"
#: The parts of the student package a submission may use while its functions are judged: the self-check
#: helpers, the exercises' specs (but not the references they call, nor the functions they mark as the
#: course's implementation, ``course_utils.exercises.core.implementation``), the data loaders, the input
#: checks they share (``_validate``) and the figures' text alternatives (``alt_text``: a figure the student's
#: function shows goes through it). Every other module of ``course_utils`` (the reference, counting, the
#: PyTorch track, widgets, registration, ... and any module added later) is the course's own implementation of
#: something students write: calling it scores 0. (The instructor's package, ``course_tools``, is not given
#: to students and holds no implementation of an exercise.)
ALLOWED_PREFIXES = ("course_utils.checks", "course_utils.data", "course_utils.exercises", "course_utils._validate",
                    "course_utils.alt_text")
#: Other libraries' implementations of what a NumPy-only item asks for (convolution, pooling, filters,
#: autograd for a backward pass): calling them scores 0 on such an item. torch is caught as a whole
#: (``torch.overrides.TorchFunctionMode`` sees every torch call, however the function was saved).
OTHER_IMPLEMENTATIONS = ("scipy.signal", "scipy.ndimage", "skimage", "cv2")
_PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_COURSE_UTILS_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(__import__("course_utils").__file__)))

_PACKAGE_DIR = os.path.join(_COURSE_UTILS_PARENT, "course_utils")
#: the same parts of the package as files (a module loaded again under another name keeps its file)
ALLOWED_FILES = ("checks.py", "data", "exercises", "_validate.py", "alt_text.py", "__init__.py")

_TRIPPED: list[str] = []
#: the attribute ``course_utils.exercises.core.implementation`` sets on a spec's own implementation of an
#: exercise (an expected output computed without ``course_utils.reference``): a tripwire like the reference
IMPLEMENTATION = "_course_implementation"


def is_forbidden_module(name: str, numpy_only: bool = False) -> bool:
    """True for the modules whose functions a submission must not call (see ALLOWED_PREFIXES)."""
    def under(prefix):
        return name == prefix or name.startswith(prefix + ".")

    if under("course_utils"):
        return name != "course_utils" and not any(under(p) for p in ALLOWED_PREFIXES)
    return numpy_only and any(under(p) for p in OTHER_IMPLEMENTATIONS)


def is_forbidden_file(path) -> bool:
    """True for a file of the course's own implementations (whatever name its module was loaded under)."""
    if not isinstance(path, str) or not path:
        return False
    rel = os.path.relpath(os.path.realpath(path), os.path.realpath(_PACKAGE_DIR))
    return not rel.startswith(os.pardir) and rel.split(os.sep)[0] not in ALLOWED_FILES


def _record_trip(name: str):
    """Called by a tripwire: remember which forbidden function was called, then refuse to run."""
    _TRIPPED.append(name)
    raise AssertionError(f"called {name}, which this exercise does not allow")


def _tripwire(*args, **kwargs):  # its __code__ (renamed per function) replaces a forbidden function's
    raise __import__("course_tools.grading.verify", fromlist=["_"])._record_trip(
        __import__("sys")._getframe(0).f_code.co_qualname
    )


def _reachable_modules(fn):
    """Modules the student's function can reach in one step (its globals, defaults, closure), with names."""
    values = [*(getattr(fn, "__globals__", None) or {}).values(), *(getattr(fn, "__defaults__", None) or ())]
    for cell in getattr(fn, "__closure__", None) or ():
        try:
            values.append(cell.cell_contents)
        except ValueError:
            pass
    holder = types.ModuleType("the student's namespace")
    holder.__dict__.update({f"_{i}": v for i, v in enumerate(values) if not isinstance(v, types.ModuleType)})
    return [("", holder), *((getattr(v, "__name__", ""), v) for v in values if isinstance(v, types.ModuleType))]


def _forbidden_functions(numpy_only=False, fn=None, forbidden_file=is_forbidden_file):
    """Every plain function (and method) defined in an already-imported forbidden module or file, and those
    the student's function ``fn`` holds (a module of the course loaded under another name and dropped from
    ``sys.modules`` still has its functions' files). ``forbidden_file``: ``is_forbidden_file``, or a cache of
    it that lives while no student code runs (the files' links cannot change meanwhile)."""
    import importlib

    for name in ("course_utils.reference", "course_utils.counting"):
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    seen = set()
    reachable = _reachable_modules(fn) if fn is not None else []
    for mod_name, mod in [*sys.modules.items(), *reachable]:
        if not isinstance(mod, types.ModuleType) or not (
                is_forbidden_module(mod_name, numpy_only) or forbidden_file(getattr(mod, "__file__", None))
                or mod_name == "" or mod_name.startswith("course_utils.exercises.")):
            continue
        for obj in list(vars(mod).values()):
            members = vars(obj).values() if isinstance(obj, type) else (obj,)
            for fn in members:
                fn = getattr(fn, "__func__", fn)
                if not isinstance(fn, types.FunctionType) or id(fn) in seen or fn.__code__.co_freevars:
                    continue
                if is_forbidden_module(fn.__module__ or "", numpy_only) or forbidden_file(fn.__code__.co_filename) \
                        or getattr(fn, IMPLEMENTATION, False):
                    seen.add(id(fn))
                    yield fn


def _forbidden_builtins(numpy_only=False):
    """(module, name) of the compiled functions (C, Cython) of other libraries a NumPy-only item may not call,
    and torch's switches that turn the torch guard off: they are swapped for tripwires while a check runs."""
    if not numpy_only:
        return
    for mod_name, mod in list(sys.modules.items()):
        if isinstance(mod, types.ModuleType) and is_forbidden_module(mod_name, numpy_only):
            for name, obj in list(vars(mod).items()):
                if callable(obj) and not isinstance(obj, type | types.ModuleType | types.FunctionType):
                    yield mod, name
    torch_c = getattr(sys.modules.get("torch"), "_C", None)
    for name in ("DisableTorchFunction", "DisableTorchFunctionSubclass"):
        if hasattr(torch_c, name):
            yield torch_c, name


def _tripping(qualname: str):
    def tripwire(*args, **kwargs):
        raise __import__("course_tools.grading.verify", fromlist=["_"])._record_trip(qualname)

    return tripwire


def _torch_guard():
    """A TorchFunctionMode that trips on every torch function (NumPy-only items), or None without torch."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None

    class NoTorch(torch.overrides.TorchFunctionMode):
        def __torch_function__(self, func, types_, args=(), kwargs=None):
            name = getattr(func, "__qualname__", None) or getattr(func, "__name__", repr(func))
            _record_trip(f"torch: {getattr(func, '__module__', None) or 'torch'}.{name}")

    return NoTorch()


class tripwires:
    """Context manager: while active, calling a forbidden function records its name and raises.

    numpy_only: also forbid other libraries' implementations (OTHER_IMPLEMENTATIONS and all of torch).
    A forbidden module first imported while the tripwires are active (a lazy import inside the student's
    function, which the tripwires could not see) is recorded as a trip when they end. ``exempt(fn)`` gives
    a version of ``fn`` that runs with the tripwires lifted (the course's reference, handed to the student's
    function by ``judged_alone``).
    """

    def __init__(self, numpy_only=False, fn=None):
        self.numpy_only, self.fn = numpy_only, fn

    def __enter__(self):
        # the tripwires report to the imported module (a fresh copy of this file loaded by a hidden test
        # reads the same log)
        log = __import__("course_tools.grading.verify", fromlist=["_"])._TRIPPED
        del log[:]
        self.log = log
        self.swaps = []  # (function, its own code, its tripwire)
        # each file resolved once (real paths: ~0.1 s a check otherwise); no student code runs until armed
        forbidden_file = functools.cache(is_forbidden_file)
        for fn in list(_forbidden_functions(self.numpy_only, self.fn, forbidden_file)):
            trip = _tripwire.__code__.replace(
                co_name=fn.__code__.co_name, co_qualname=f"{fn.__module__}.{fn.__code__.co_qualname}"
            )
            self.swaps.append((fn, fn.__code__, trip))
        #: what the tripwires of the course's own functions are called (whatever their module's name)
        self.course_names = {trip.co_qualname for fn, _, trip in self.swaps
                             if forbidden_file(fn.__code__.co_filename)}
        self.attributes = [(mod, name, getattr(mod, name), _tripping(f"{mod.__name__}.{name}"))
                           for mod, name in _forbidden_builtins(self.numpy_only)]
        self.modules_before = set(sys.modules)
        self._set(True)
        return log

    def _set(self, armed: bool) -> None:
        for fn, code, trip in self.swaps:
            fn.__code__ = trip if armed else code
        for mod, name, own, trip in self.attributes:
            setattr(mod, name, trip if armed else own)
        if armed:
            self.guard = _torch_guard() if self.numpy_only else None
            if self.guard is not None:
                self.guard.__enter__()
        elif self.guard is not None:
            self.guard.__exit__(None, None, None)

    def exempt(self, fn):
        """``fn``, callable while the tripwires are set (they are lifted while it runs)."""
        def trusted(*args, **kwargs):
            self._set(False)
            try:
                return fn(*args, **kwargs)
            finally:
                self.modules_before |= set(sys.modules)  # what the reference imported is not the student's
                self._set(True)

        return trusted

    def __exit__(self, *exc):
        self._set(False)
        new = sorted(m for m in set(sys.modules) - self.modules_before
                     if is_forbidden_module(m, self.numpy_only) or (self.numpy_only and m == "torch"))
        if new and not self.log:
            self.log.append(f"{new[0]} (imported by your code while it was being checked)")
        return False


def references(item: str) -> dict:
    """{name: the course's function} for ``item``'s ``Exercise.uses`` (their modules imported)."""
    from course_utils.exercises import references as found

    return found(item)


def judged_alone(item: str, fn, wrap=None):
    """``course_utils.exercises.judged_alone``: the other exercises ``fn`` calls are the course's meanwhile."""
    from course_utils.exercises import judged_alone as alone

    return alone(item, fn, wrap)


def check_path(item: str, folder: str = ".") -> str:
    return os.path.join(folder, CHECK_DIR, f"{item}.npz")


def check(item: str, fn, seed: int) -> None:
    """Run the hidden test ``item`` on the student's ``fn`` (see the module docstring). Raises AssertionError."""
    import numpy as np

    from course_utils.exercises import diagnose_error, get
    from course_utils.exercises.core import as_arrays

    spec = get(item)
    if not callable(fn):
        raise AssertionError(f"{item}: expected a function, got {type(fn).__name__}")
    outputs = {}
    cases = spec.cases(seed)  # built before the tripwires are set: the cases may use the reference
    references(item)  # imported now: what is first imported while the tripwires are set counts as the student's
    wires = tripwires(numpy_only=spec.numpy_only, fn=fn)
    with wires as tripped, judged_alone(item, fn, wrap=wires.exempt):
        for i, case in enumerate(cases):
            try:
                out = spec.call(fn, case)
            except AssertionError:
                if tripped:
                    break
                raise
            except Exception as err:  # the student's code failed on this case (the error may show a mistake)
                if tripped:
                    break
                raise AssertionError(diagnosed(
                    f"{item}: hidden case {i} ({spec.describe(case)}) raised {type(err).__name__}: {err}",
                    diagnose_error(spec, err))) from None
            for j, (arr, dtype) in enumerate(as_arrays(out)):
                outputs[f"c{i}_{j}"] = arr
                outputs[f"dtype_c{i}_{j}"] = np.array(dtype)
    if tripped:
        ours = tripped[0] in wires.course_names or tripped[0].startswith("course_utils")
        what = "the course's implementation" if ours else "another library's implementation"
        raise AssertionError(
            f"{item}: your code called {what} {tripped[0]}; this exercise asks you to write it yourself"
            + (" with NumPy only" if spec.numpy_only else "") + " (0 points for this item)"
        )
    path = check_path(item)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fh:
        np.savez(fh, seed=np.array(seed), **outputs)
    verdict = _judge_in_clean_process(item, os.path.abspath(path))
    if verdict != "PASS":
        raise AssertionError(verdict)


def hidden_check(item: str, fn, seed: int, judge=None):
    """A hidden test cell's one call: ``check(item, fn, seed)``; returns the judging process to reuse.

    ``judge``: the judging process an earlier hidden test of the same kernel started (``FRESH_LOADER`` keeps
    it in ``_verify_judge``): reused by items that are not NumPy-only (its torch is imported already). The
    first of those also imports ``torch._dynamo`` (which ``torch.optim`` needs, ~1 s) beside the judging
    process's start.
    """
    global _JUDGE
    from course_utils.exercises import get

    spec = get(item)
    if not spec.numpy_only and isinstance(judge, subprocess.Popen):
        _JUDGE = judge
    elif not spec.numpy_only and "torch" in sys.modules:
        import importlib
        import threading

        threading.Thread(target=importlib.import_module, args=("torch._dynamo",), daemon=True).start()
    check(item, fn, seed=seed)
    return _JUDGE


#: what ``seeds.PerStudentSeeds`` writes for each ``hidden_check(item, fn, seed=...)`` of a hidden test
#: at autograding: a fresh copy of this file, out of reach of a notebook that patched the imported one
FRESH_LOADER = (
    "import importlib.util as _u, os as _o, course_tools.grading as _g  # a fresh copy of verify.py: patching\n"
    "_s = _u.spec_from_file_location(  # course_tools.grading.verify in the notebook changes nothing\n"
    "    \"course_tools.grading._verify_fresh\", _o.path.join(_g.__path__[0], \"verify.py\"))\n"
    "_verify = _u.module_from_spec(_s)\n"
    "_s.loader.exec_module(_verify)\n"
    "_verify_judge = _verify.hidden_check({item!r}, {fn}, seed={seed}, judge=globals().get(\"_verify_judge\"))"
)


_JUDGE = None  # the clean judging process, started by the first check of a kernel and reused


def _judge_in_clean_process(item: str, path: str) -> str:
    """Ask the judging process (``python -P -s -m course_tools.grading.verify --serve``) for a verdict."""
    global _JUDGE
    if _JUDGE is None or _JUDGE.poll() is not None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys([_PACKAGE_PARENT, _COURSE_UTILS_PARENT]))
        _JUDGE = subprocess.Popen(
            [sys.executable, "-P", "-s", "-m", "course_tools.grading.verify", "--serve"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=os.path.dirname(path),
            # a process group of its own: at shutdown ipykernel signals the children in the kernel's group and
            # waits seconds for each that it never reaped; this one ends by itself when the kernel's pipe closes
            process_group=0,
        )
    _JUDGE.stdin.write(f"{item}\t{path}\n")
    _JUDGE.stdin.flush()
    return _JUDGE.stdout.readline().strip() or "the judging process died"


#: how a verdict names the known mistake it diagnosed (``Exercise.mistakes``): "... [mistake: flipped_kernel]"
MISTAKE_TAG = "[mistake: {}]"
_MISTAKE_RE = re.compile(r"\[mistake: ([A-Za-z0-9_]+)\]")


class Verdict(NamedTuple):
    """A hidden test's verdict: ``problem`` None when right, else the message (with the diagnosis and its
    ``MISTAKE_TAG`` when a known mistake explains the outputs); ``mistake`` the diagnosed mistake's id or None."""

    problem: str | None
    mistake: str | None = None


def diagnosed(message: str, mistake) -> str:
    """A verdict's ``message`` with the known ``mistake`` it shows (a ``Mistake`` or None): its diagnosis and
    ``MISTAKE_TAG``."""
    return message if mistake is None else f"{message}. Diagnosis: {mistake.diagnosis} {MISTAKE_TAG.format(mistake.id)}"


def mistake_in(message: str | None) -> str | None:
    """The mistake id a verdict's message names (its ``MISTAKE_TAG``), or None."""
    found = _MISTAKE_RE.search(message or "")
    return found.group(1) if found else None


def judge(item: str, path: str, seed: int | None = None) -> Verdict:
    """Judge saved outputs in *this* process (``judge_file``), and name the known mistake they match."""
    import numpy as np

    from course_utils.exercises import diagnose, get
    from course_utils.exercises.core import low_dtype

    spec = get(item)
    if not os.path.isfile(path):
        return Verdict(f"{item}: no hidden-test outputs were saved (the hidden test did not run to the end)")
    try:
        with np.load(path, allow_pickle=False) as data:
            saved = {k: np.array(data[k]) for k in data.files}
    except Exception as err:
        return Verdict(f"{item}: unreadable hidden-test outputs ({type(err).__name__})")
    file_seed = int(saved.pop("seed", -1))
    if seed is not None and file_seed != seed:
        return Verdict(f"{item}: hidden-test outputs are for seed {file_seed}, expected {seed}")
    judged, first = [], None  # every case as (case, outputs, dtype); the first wrong one: (i, problem)
    for i, case in enumerate(spec.cases(file_seed)):
        got, dtypes = [], []
        while f"c{i}_{len(got)}" in saved:
            dtypes.append(str(saved.get(f"dtype_c{i}_{len(got)}", "")))
            got.append(saved[f"c{i}_{len(got)}"])
        low = low_dtype(dtypes)
        judged.append((case, got, low))
        if first is None:
            problem = spec.verdict(case, got, low)
            if problem:
                first = i, problem
                if not spec.mistakes:
                    break
    if first is None:
        return Verdict(None)
    i, problem = first
    case, got, low = judged[i]
    if low:
        problem += f" (your output is {low}: compared with a tolerance for {low})"
    message = f"{item}: hidden case {i} ({spec.describe(case)}): {problem}"
    try:
        mistake = diagnose(spec, case, got, low, also=judged[:i] + judged[i + 1:])
    except Exception:  # naming the mistake never changes the verdict
        mistake = None
    return Verdict(diagnosed(message, mistake), mistake and mistake.id)


def judge_file(item: str, path: str, seed: int | None = None) -> str | None:
    """Judge saved outputs in *this* process: None if right, else a message (ending with the diagnosis and
    ``MISTAKE_TAG`` when a known mistake explains them: ``mistake_in``). ``seed`` overrides the file's."""
    return judge(item, path, seed).problem


def main(argv=None) -> int:
    """``verify ITEM PATH`` judges one file; ``verify --serve`` judges "ITEM<TAB>PATH" lines from stdin."""
    argv = argv or sys.argv[1:]
    if argv[:1] == ["--serve"]:
        for line in sys.stdin:
            item, _, path = line.rstrip("\n").partition("\t")
            try:
                problem = judge_file(item, path)
            except Exception as err:  # a verdict, never a crash: the kernel waits for one line
                problem = f"{item}: could not be judged ({type(err).__name__}: {err})"
            print((problem or "PASS").replace("\n", " "), flush=True)
        return 0
    problem = judge_file(*argv[:2])
    print(problem or "PASS")
    return 1 if problem else 0


if __name__ == "__main__":
    sys.exit(main())
