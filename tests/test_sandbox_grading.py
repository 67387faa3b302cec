"""Autograding in the sandbox, end to end with nbgrader: generated submissions attack the grader.

A copy of the course (its nbgrader_config.py and solutions/a1) is graded with ``nbgrader autograde``,
the grading kernelspec installed into a private Jupyter path. Submissions:

- alice: the instructor's solutions (must get full marks);
- bob: blank, plus a cell that tries to steal the solutions and run them, read the gradebook, the course
  folder, the instructor's home and Jupyter's connection files, write into the course folder, the
  solutions and another student's folders, find the grader's secrets in its environment or /proc,
  connect to a server on the host's loopback, and leave processes behind;
- dave: the solutions plus the same attacks (must still get full marks);
- fay: the solutions, with a ``conv2d_forward`` that writes to stderr (logging, a lowercase warning, a
  progress bar), and a last cell that ends the kernel with ``os._exit(0)``: full marks through nbgrader's own
  ``autograde`` too.

Bob and dave also try to read the course secret behind each student's hidden cases; alice and dave are
judged on cases of their own.

A blank release notebook scores 0 (every answer raises NotImplementedError), so bob deserves 0.
Without bubblewrap, grading refuses; with the instructor's switch the kernel runs unsandboxed.
"""

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import nbformat
import numpy as np
import pytest

from course_tools.sandbox import kernel, kernelspec

from suite_helpers import auto_scores, require_sandbox

pytestmark = [pytest.mark.nbgrader, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = "a1"
SECRET = "s3cret-" + uuid.uuid4().hex
LEFTOVER = "course-sandbox-leftover-" + uuid.uuid4().hex

ATTACK = r'''# A submission that attacks its grader. Every attempt must fail inside the sandbox.
import json as _json, os as _os, socket as _socket, subprocess as _sp, sys as _sys
_P = _json.loads(r"""PARAMS""")
_log = {}

def _attempt(name, fn):
    try:
        _log[name] = "SUCCEEDED: " + str(fn())[:200]
    except BaseException as e:  # noqa: B036
        _log[name] = f"failed: {type(e).__name__}: {e}"

def _steal():  # run the instructor's solution cells: a blank notebook would then pass every test
    nb = _json.load(open(_P["solution"]))
    for cell in nb["cells"]:
        if cell["cell_type"] == "code" and cell["metadata"].get("nbgrader", {}).get("solution"):
            exec("".join(cell["source"]), globals())
    return "solutions executed"

def _environ_secret():
    return next(k for k, v in _os.environ.items() if _P["secret"] in v)

def _proc_secret():
    for pid in _os.listdir("/proc"):
        try:
            if _P["secret"].encode() in open(f"/proc/{pid}/environ", "rb").read():
                return pid
        except (OSError, ValueError):
            pass
    raise LookupError("secret in no /proc/*/environ")

_attempt("read_solutions", _steal)
_attempt("read_gradebook", lambda: len(open(_P["gradebook"], "rb").read()))
_attempt("read_seeds_key", lambda: len(open(_P["seeds_key"], "rb").read()))
_attempt("list_course_folder", lambda: _os.listdir(_P["course"]))
_attempt("read_home", lambda: open(_P["home_canary"]).read())
_attempt("list_jupyter_runtime", lambda: _os.listdir(_P["runtime"]))
_attempt("write_course_folder", lambda: open(_os.path.join(_P["course"], "pwned.txt"), "w").write("x"))
_attempt("overwrite_solutions", lambda: open(_P["solution"], "w").write("{}"))
_attempt("append_gradebook", lambda: open(_P["gradebook"], "ab").write(b"x"))
_attempt("overwrite_other_submission", lambda: open(_P["other_submission"], "w").write("{}"))
_attempt("write_other_autograded", lambda: open(_P["other_autograded"], "w").write("x"))
_attempt("environment_secret", _environ_secret)
_attempt("proc_environ_secret", _proc_secret)
_attempt("network", lambda: _socket.create_connection(("127.0.0.1", _P["port"]), timeout=3).close())
_code = f"import os, time\n# {_P['token']}\nif os.fork() == 0:\n    os.setsid()\ntime.sleep(600)\n"
_sp.Popen([_sys.executable, "-c", _code], start_new_session=True)
_log["background_process"] = "started"
with open("attack_log.json", "w") as _f:  # its own folder is writable
    _json.dump(_log, _f)
'''


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    require_sandbox()
    assert (ROOT / "solutions" / ASSIGNMENT).is_dir(), f"solutions/{ASSIGNMENT} is missing"
    base = tmp_path_factory.mktemp("sandbox")
    course = base / "course"
    course.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "solutions" / ASSIGNMENT, course / "solutions" / ASSIGNMENT)
    home = base / "home"
    home.mkdir()
    (home / "canary.txt").write_text("instructor's private file")
    kernelspec.install(base / "jupyter")  # a private Jupyter path: the test leaves .venv alone
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "COURSE_"))}
    env.update(
        HOME=str(home),
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "/usr/bin:/bin")]),
        JUPYTER_PATH=str(base / "jupyter" / "share" / "jupyter"),
        JUPYTERHUB_API_TOKEN=SECRET,
        AWS_SECRET_ACCESS_KEY=SECRET,
        COURSE_TEST_SECRET=SECRET,
    )
    _nbgrader(course, env, "generate_assignment", ASSIGNMENT, "--force")
    return {"root": course, "home": home, "env": env}


def _nbgrader(course, env, *args, check=True):
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                          capture_output=True, text=True, timeout=300)
    if check:
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def _solution_sources(course):
    source = nbformat.read(course / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells
            if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")}


def _submit(course, student, solved, attack_params=None, last_cells=(), first_lines=None):
    release = nbformat.read(course / "assignments" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    if solved:
        sources = _solution_sources(course)
        for cell in release.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if cell.cell_type == "code" and grade_id in sources:
                cell.source = sources[grade_id]
                if first_lines and "def conv2d_forward(" in cell.source:  # the answer's function body starts with them
                    head, _, body = cell.source.partition("def conv2d_forward(")
                    signature, _, rest = body.partition("\n")
                    cell.source = f"{head}def conv2d_forward({signature}\n{first_lines}\n{rest}"
    if attack_params is not None:
        first_code = next(i for i, c in enumerate(release.cells) if c.cell_type == "code")
        attack = nbformat.v4.new_code_cell(ATTACK.replace("PARAMS", json.dumps(attack_params)))
        release.cells.insert(first_code + 1, attack)
    release.cells += [nbformat.v4.new_code_cell(source) for source in last_cells]
    folder = course / "grading" / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True)
    nbformat.write(release, folder / f"{ASSIGNMENT}.ipynb")
    (folder / "timestamp.txt").write_text("2026-01-01 12:00:00.000000 UTC")
    return folder / f"{ASSIGNMENT}.ipynb"


FAY_STDERR = ("    import logging, sys\n    logging.warning('naive loops, this may take a while')\n"
              "    print('warning: lowercase', file=sys.stderr)\n    sys.stderr.write('\\r 50%|#####     | 5/10')")


def _digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _auto_scores(course):
    """{student: (auto-graded score, auto-graded max)} from the gradebook."""
    return auto_scores(course, ASSIGNMENT)


def _leftover_processes():
    found = []
    for pid in os.listdir("/proc"):
        try:
            if LEFTOVER.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(int(pid))
        except (OSError, ValueError):
            pass
    return found


@pytest.fixture(scope="module")
def graded(course):
    root, env = course["root"], course["env"]
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    alice_nb = _submit(root, "alice", solved=True)
    params = {
        "course": str(root),
        "solution": str(root / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"),
        "gradebook": str(root / "grading" / "gradebook.db"),
        "seeds_key": str(root / "grading" / "hidden-seeds.key"),
        "home_canary": str(course["home"] / "canary.txt"),
        "runtime": str(course["home"] / ".local" / "share" / "jupyter" / "runtime"),
        "other_submission": str(alice_nb),
        "other_autograded": str(root / "grading" / "autograded" / "alice" / ASSIGNMENT / "pwned.txt"),
        "secret": SECRET,
        "port": listener.getsockname()[1],
        "token": LEFTOVER,
    }
    _submit(root, "bob", solved=False, attack_params=params)
    _submit(root, "dave", solved=True, attack_params=params)
    _submit(root, "fay", solved=True, first_lines=FAY_STDERR, last_cells=["import os\nos._exit(0)"])
    protected = [root / "nbgrader_config.py", Path(params["solution"]), alice_nb]
    before = {p: _digest(p) for p in protected}
    start = time.perf_counter()
    done = _nbgrader(root, env, "autograde", ASSIGNMENT, "--force", check=False)
    seconds = time.perf_counter() - start
    print(f"\nsandboxed autograde of 4 submissions of {ASSIGNMENT}: {seconds:.1f} s "
          f"({seconds / 4:.1f} s per submission, including nbgrader's start-up)")
    try:
        listener.accept()
        connected = True
    except BlockingIOError:
        connected = False
    listener.close()
    return {"run": done, "scores": _auto_scores(root), "before": before, "connected": connected,
            "params": params, "root": root}


def test_autograde_succeeds_for_every_submission(graded):
    run = graded["run"]
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert set(graded["scores"]) == {"alice", "bob", "dave", "fay"}


def test_correct_submissions_get_full_marks(graded):
    scores = graded["scores"]
    for student in ("alice", "dave", "fay"):
        score, maximum = scores[student]
        assert maximum > 0 and score == maximum, (student, scores)


def test_stealing_the_solutions_earns_nothing(graded):
    score, maximum = graded["scores"]["bob"]
    assert maximum > 0 and score == 0, graded["scores"]


@pytest.mark.parametrize("student", ["bob", "dave"])
def test_every_attack_failed_inside_the_sandbox(graded, student):
    log_path = graded["root"] / "grading" / "autograded" / student / ASSIGNMENT / "attack_log.json"
    log = json.loads(log_path.read_text())
    assert len(log) == 15, log
    # The folders leading to its own folder exist (empty, read-only), nothing else of the course does.
    assert log.pop("list_course_folder") in ("SUCCEEDED: ['grading']", "failed: FileNotFoundError")
    assert log.pop("background_process") == "started"
    succeeded = {k: v for k, v in log.items() if v.startswith("SUCCEEDED")}
    assert not succeeded, succeeded
    # The files the grader can see are simply not there for the kernel.
    for name in ("read_solutions", "read_gradebook", "read_seeds_key", "read_home", "list_jupyter_runtime",
                 "overwrite_other_submission", "write_other_autograded"):
        assert "FileNotFoundError" in log[name], (name, log[name])
    for name in ("write_course_folder", "overwrite_solutions", "append_gradebook"):
        assert "Read-only file system" in log[name] or "FileNotFoundError" in log[name], (name, log[name])
    assert log["environment_secret"].startswith("failed: StopIteration")
    assert log["proc_environ_secret"].startswith("failed: LookupError")
    assert "ConnectionRefused" in log["network"] or "unreachable" in log["network"], log["network"]


def test_each_student_is_judged_on_cases_of_their_own(graded):
    from course_tools.grading.seeds import student_seed

    root = graded["root"]
    key = (root / "grading" / "hidden-seeds.key").read_bytes()
    seeds = {}
    for student in ("alice", "dave"):
        with np.load(root / "grading" / "autograded" / student / ASSIGNMENT / ".checks" / "a1_fc_params.npz") as f:
            seeds[student] = int(f["seed"])
        assert seeds[student] == student_seed(key, ASSIGNMENT, student, "a1_fc_params", 1101)
    assert len({*seeds.values(), 1101}) == 3


def test_nothing_outside_the_sandbox_changed(graded):
    root = graded["root"]
    for path, digest in graded["before"].items():
        assert _digest(path) == digest, f"{path} was modified during grading"
    assert not (root / "pwned.txt").exists()
    assert not Path(graded["params"]["other_autograded"]).exists()
    assert not graded["connected"], "a submission reached a server on the host's loopback"


def test_no_process_outlives_its_kernel(graded):
    deadline = time.monotonic() + 5
    while _leftover_processes() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _leftover_processes() == []


def test_grading_refuses_without_the_sandbox(course, graded):
    root = course["root"]
    _submit(root, "erin", solved=True)
    env = dict(course["env"], COURSE_SANDBOX_BWRAP=str(root / "no-such-bwrap"))
    refused = _nbgrader(root, env, "autograde", ASSIGNMENT, "--student", "erin", "--force", check=False)
    assert refused.returncode != 0
    assert "Refusing to run student code without the grading sandbox" in refused.stdout + refused.stderr
    assert not (root / "grading" / "autograded" / "erin" / ASSIGNMENT).exists()
    assert _auto_scores(root)["erin"][0] == 0


def _run_in_grading_kernel(course, env, code):
    """Start the course-sandbox kernel as nbgrader would (same kernelspec, same environment) and run code."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    workdir = course["root"] / "grading" / "autograded" / "probe"
    workdir.mkdir(parents=True, exist_ok=True)
    ksm = KernelSpecManager(kernel_dirs=[str(Path(env["JUPYTER_PATH"]) / "kernels")])
    km = KernelManager(kernel_name=kernelspec.KERNEL_NAME, kernel_spec_manager=ksm)
    km.start_kernel(cwd=str(workdir), env=env)
    out = []
    try:
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        kc.execute_interactive(code, timeout=60, output_hook=out.append)
        kc.stop_channels()
    finally:
        km.shutdown_kernel(now=True)
    return "".join(m["content"].get("text", "") for m in out if m["msg_type"] == "stream")


def test_the_instructor_switch_grades_without_the_sandbox(course):
    env = dict(course["env"], COURSE_SANDBOX_BWRAP="/nonexistent/bwrap")
    env[kernel.ALLOW_ENV] = "1"
    canary = str(course["home"] / "canary.txt")
    text = _run_in_grading_kernel(course, env, f"import os; print(os.environ.get('COURSE_SANDBOX'), "
                                                f"open({canary!r}).read())")
    assert text.strip() == "None instructor's private file"  # no sandbox: it sees what the grader sees
    env.pop(kernel.ALLOW_ENV)
    env.pop("COURSE_SANDBOX_BWRAP")
    text = _run_in_grading_kernel(course, env, "import os; print(os.environ.get('COURSE_SANDBOX'))")
    assert text.strip() == "1"
