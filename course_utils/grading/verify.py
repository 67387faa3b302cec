"""Hidden-test machinery: judge a student's function on seeded random cases, out of the student's reach.

A hidden test cell of an assignment calls ``check(item, student_function, seed=...)``. This:

1. builds the item's cases from the seed (random shapes, strides, paddings, ties...; see ``items.py``);
2. calls the student's function on each case with every function of the course's own implementations
   (``course_utils.reference``, ``counting``, ``torch_track``, ``widgets``) turned into a *tripwire*: the
   code object of each such function is swapped, so even a reference saved under another name before the
   test ran trips it. Calling the course's implementation scores 0 on the item;
3. saves the outputs to ``.checks/<item>.npz`` beside the notebook (arrays only, no pickle);
4. judges the saved outputs in a *fresh Python process* (``python -P -m course_utils.grading.verify``),
   which recomputes the expected values with the course's reference and compares them with its own
   pristine NumPy: redefining ``np.allclose``, ``np.testing``, ``math.isclose`` or ``course_utils.checks``
   in the notebook changes nothing there.

``make grade`` (``course_utils.grading.grade``) then judges the same ``.npz`` files once more in the
instructor's own process, from the seeds written in the instructor's source notebook: a submission that
silences its errors, disables ``check`` or forges the files still needs outputs that are right for cases
it was not shown. What no autograder in the student's process can rule out: a student who copies the
reference's *source text* into their answer (that is plagiarism, for a human to judge).
"""

from __future__ import annotations

import os
import subprocess
import sys
import types

CHECK_DIR = ".checks"
#: Modules whose functions a submission must not call (the course's own implementations).
FORBIDDEN_PREFIXES = (
    "course_utils.reference",
    "course_utils.counting",
    "course_utils.torch_track",
    "course_utils.widgets",
)
_PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

_TRIPPED: list[str] = []


def _record_trip(name: str):
    """Called by a tripwire: remember which course function was called, then refuse to run."""
    _TRIPPED.append(name)
    raise AssertionError(f"called the course's own implementation {name}")


def _tripwire(*args, **kwargs):  # its __code__ (renamed per function) replaces a forbidden function's
    raise __import__("course_utils.grading.verify", fromlist=["_"])._record_trip(
        __import__("sys")._getframe(0).f_code.co_qualname
    )


def _forbidden_functions():
    """Every plain function (and method) defined in an already-imported forbidden module."""
    import importlib

    for name in ("course_utils.reference", "course_utils.counting"):
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    seen = set()
    for mod_name, mod in list(sys.modules.items()):
        if not mod_name.startswith(FORBIDDEN_PREFIXES) or not isinstance(mod, types.ModuleType):
            continue
        for obj in list(vars(mod).values()):
            members = vars(obj).values() if isinstance(obj, type) else (obj,)
            for fn in members:
                fn = getattr(fn, "__func__", fn)
                if isinstance(fn, types.FunctionType) and id(fn) not in seen:
                    if (fn.__module__ or "").startswith(FORBIDDEN_PREFIXES) and not fn.__code__.co_freevars:
                        seen.add(id(fn))
                        yield fn


class tripwires:
    """Context manager: while active, calling any course implementation records its name and raises."""

    def __enter__(self):
        # the tripwires report to the imported module (a fresh copy of this file loaded by a hidden test
        # reads the same log)
        log = __import__("course_utils.grading.verify", fromlist=["_"])._TRIPPED
        del log[:]
        self.saved = []
        for fn in _forbidden_functions():
            trip = _tripwire.__code__.replace(
                co_name=fn.__code__.co_name, co_qualname=f"{fn.__module__}.{fn.__code__.co_qualname}"
            )
            self.saved.append((fn, fn.__code__))
            fn.__code__ = trip
        return log

    def __exit__(self, *exc):
        for fn, code in self.saved:
            fn.__code__ = code
        return False


def _as_arrays(out):
    """A student's output as a list of float64 arrays (tuples/lists of arrays stay separate outputs)."""
    import numpy as np

    if hasattr(out, "detach"):
        out = out.detach().cpu().numpy()
    if isinstance(out, tuple):
        return [a for o in out for a in _as_arrays(o)]
    return [np.array(out, dtype=np.float64)]


def check_path(item: str, folder: str = ".") -> str:
    return os.path.join(folder, CHECK_DIR, f"{item}.npz")


def check(item: str, fn, seed: int) -> None:
    """Run the hidden test ``item`` on the student's ``fn`` (see the module docstring). Raises AssertionError."""
    import numpy as np

    from .items import ITEMS

    spec = ITEMS[item]
    if not callable(fn):
        raise AssertionError(f"{item}: expected a function, got {type(fn).__name__}")
    outputs = {}
    cases = spec.cases(seed)  # built before the tripwires are set: the cases may use the reference
    with tripwires() as tripped:
        for i, case in enumerate(cases):
            try:
                out = spec.call(fn, case)
            except AssertionError:
                if tripped:
                    break
                raise
            except Exception as err:  # the student's code failed on this case
                if tripped:
                    break
                raise AssertionError(
                    f"{item}: hidden case {i} ({spec.describe(case)}) raised {type(err).__name__}: {err}"
                ) from None
            for j, arr in enumerate(_as_arrays(out)):
                outputs[f"c{i}_{j}"] = arr
    if tripped:
        raise AssertionError(
            f"{item}: your code called the course's implementation {tripped[0]}; "
            "this exercise asks you to write it yourself (0 points for this item)"
        )
    path = check_path(item)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fh:
        np.savez(fh, seed=np.array(seed), **outputs)
    verdict = _judge_in_clean_process(item, os.path.abspath(path))
    if verdict != "PASS":
        raise AssertionError(verdict)


_JUDGE = None  # the clean judging process, started by the first check of a kernel and reused


def _judge_in_clean_process(item: str, path: str) -> str:
    """Ask the judging process (``python -P -s -m course_utils.grading.verify --serve``) for a verdict."""
    global _JUDGE
    if _JUDGE is None or _JUDGE.poll() is not None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        env["PYTHONPATH"] = _PACKAGE_PARENT
        _JUDGE = subprocess.Popen(
            [sys.executable, "-P", "-s", "-m", "course_utils.grading.verify", "--serve"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=os.path.dirname(path),
        )
    _JUDGE.stdin.write(f"{item}\t{path}\n")
    _JUDGE.stdin.flush()
    return _JUDGE.stdout.readline().strip() or "the judging process died"


def judge_file(item: str, path: str, seed: int | None = None) -> str | None:
    """Judge saved outputs in *this* process: None if right, else a message. ``seed`` overrides the file's."""
    import numpy as np

    from .items import ITEMS

    spec = ITEMS[item]
    if not os.path.isfile(path):
        return f"{item}: no hidden-test outputs were saved (the hidden test did not run to the end)"
    try:
        with np.load(path, allow_pickle=False) as data:
            saved = {k: np.array(data[k]) for k in data.files}
    except Exception as err:
        return f"{item}: unreadable hidden-test outputs ({type(err).__name__})"
    file_seed = int(saved.pop("seed", -1))
    if seed is not None and file_seed != seed:
        return f"{item}: hidden-test outputs are for seed {file_seed}, expected {seed}"
    for i, case in enumerate(spec.cases(file_seed)):
        got = []
        while f"c{i}_{len(got)}" in saved:
            got.append(saved[f"c{i}_{len(got)}"])
        problem = spec.judge(case, got)
        if problem:
            return f"{item}: hidden case {i} ({spec.describe(case)}): {problem}"
    return None


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
