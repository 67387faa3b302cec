"""JupyterHub + nbgrader exchange end to end, with real Linux accounts on loopback (marker ``hub``; needs root).

The test builds (or reuses) the hub environment (deploy/hub_env.py), creates an instructor and three
students (homes 0700), starts the hub with deploy/jupyterhub_config.py on free loopback ports, and drives
the whole cycle through the hub's REST API and the users' servers: the instructor generates and releases
a1 (formgrader API), each student fetches it, fills it (alice correct, bob partly wrong, carol blank) and
submits (assignment-list API); the instructor collects, autogrades (in the grading sandbox), generates and
releases feedback; each student fetches feedback. Then it checks the grades and isolation. Everything it
created (users, groups, exchange, state) is removed at the end, and leftovers of a killed run first.
"""

import ast
import datetime
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from suite_helpers import auto_scores

pytestmark = [pytest.mark.hub, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
PREFIX = Path(os.environ.get("COURSE_HUB_PREFIX", "/opt/course-hub"))
USER_PREFIX = "cnnhub-"
INSTRUCTOR = USER_PREFIX + "instr"
TA = USER_PREFIX + "ta"  # a second member of the course staff: shares the course folder and its gradebook
STUDENTS = [USER_PREFIX + n for n in ("alice", "bob", "carol")]
STAFF_GROUP = USER_PREFIX + "staff"
ASSIGNMENT = "a1"


def _requirements():
    if os.geteuid() != 0:
        reason = "the hub test creates Linux users and runs servers as them: it needs root"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " (CI=true: never skipped)")
        pytest.skip(reason)
    for tool in ("useradd", "userdel", "runuser", "npm", "/usr/bin/python3.11"):
        if not _which(tool):
            pytest.fail(f"{tool} is missing: install Debian's passwd, util-linux, npm, python3.11, python3-venv")
    assert (ROOT / "solutions" / ASSIGNMENT).is_dir(), f"solutions/{ASSIGNMENT} is missing"


def _which(tool):
    return tool if os.path.isabs(tool) and os.access(tool, os.X_OK) else shutil.which(tool)


def _run(cmd, check=True, **kw):
    done = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if check and done.returncode != 0:
        raise AssertionError(f"{cmd} failed ({done.returncode}): {done.stdout[-2000:]}{done.stderr[-2000:]}")
    return done


def _uid(name):
    done = _run(["id", "-u", name], check=False)
    return int(done.stdout) if done.returncode == 0 else None


def _kill_user_processes(uid):
    """SIGKILL every process owned by ``uid`` (the test's own users only), by pid."""
    for _ in range(50):
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit() and _owned_by(p, uid)]
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.1)


def _owned_by(pid, uid):
    try:
        return os.stat(f"/proc/{pid}").st_uid == uid
    except FileNotFoundError:
        return False


def _remove_users():
    for name in [INSTRUCTOR, TA, *STUDENTS]:
        uid = _uid(name)
        if uid is not None:
            _kill_user_processes(uid)
            _run(["userdel", "-r", name], check=False)
    _run(["groupdel", STAFF_GROUP], check=False)


def _free_port_block(n=3):
    """A port p such that p .. p+n-1 are free on 127.0.0.1 (hub public, hub API, proxy API)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base + n < 65000 and all(_port_free(base + i) for i in range(n)):
            return base
    raise RuntimeError("no block of free ports")


def _port_free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


@pytest.fixture(scope="module")
def hub():
    _requirements()
    import requests

    started = time.perf_counter()
    _run(["/usr/bin/python3.11", str(ROOT / "deploy" / "hub_env.py"), "--prefix", str(PREFIX)], timeout=900)
    env_s = time.perf_counter() - started
    _remove_users()  # leftovers of a killed run (uids are reused: remove them before anything else)
    base = Path(tempfile.mkdtemp(prefix=USER_PREFIX, dir="/tmp"))
    base.chmod(0o755)
    proc = None
    try:
        _run(["groupadd", STAFF_GROUP])
        for name in [INSTRUCTOR, TA, *STUDENTS]:
            _run(["useradd", "-m", "-K", "HOME_MODE=0700", "-s", "/bin/bash", name])
        for name in (INSTRUCTOR, TA):
            _run(["usermod", "-aG", STAFF_GROUP, name])
        course_id = _course_id()
        # The course folder the staff shares (as deploy/run_hub.sh makes it): the staff group's, setgid.
        (base / "courses").mkdir(mode=0o755)
        course = base / "courses" / course_id
        (course / "solutions").mkdir(parents=True)
        shutil.copy(ROOT / "nbgrader_config.py", course)
        shutil.copytree(ROOT / "solutions" / ASSIGNMENT, course / "solutions" / ASSIGNMENT)
        _run(["chown", "-R", f"{INSTRUCTOR}:{STAFF_GROUP}", str(course)])
        _run(["chmod", "-R", "g+rwX,o-rwx", str(course)])
        _run(["find", str(course), "-type", "d", "-exec", "chmod", "g+s", "{}", "+"])
        # The exchange: root owned and not writable by anyone else; the course folder is the instructor's.
        exchange = base / "exchange"
        exchange.mkdir(mode=0o755)
        (exchange / course_id).mkdir()
        _run(["chown", f"{INSTRUCTOR}:{STAFF_GROUP}", str(exchange / course_id)])
        (exchange / course_id).chmod(0o2755)
        state = base / "state"
        state.mkdir(mode=0o700)
        port = _free_port_block()
        token = secrets.token_hex(32)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "COURSE_"))}
        env.update(COURSE_HUB_PREFIX=str(PREFIX), COURSE_HUB_STATE=str(state), COURSE_EXCHANGE=str(exchange),
                   COURSE_HUB_PORT=str(port), COURSE_HUB_INSTRUCTORS=f"{INSTRUCTOR},{TA}",
                   COURSE_HUB_COURSE_DIR=str(course),
                   COURSE_HUB_STUDENTS=",".join(STUDENTS), COURSE_HUB_SERVICE_TOKEN=token)
        log = open(state / "hub.log", "w")
        proc = subprocess.Popen([str(PREFIX / "venv" / "bin" / "jupyterhub"), "-f",
                                 str(ROOT / "deploy" / "jupyterhub_config.py")],
                                cwd=state, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        api = requests.Session()
        api.headers["Authorization"] = f"token {token}"
        _wait(lambda: api.get(f"{url}/hub/api/").status_code == 200, 60, "the hub to answer", state)
        yield {"url": url, "api": api, "course": course, "exchange": exchange / course_id, "state": state,
               "course_id": course_id, "env_s": env_s, "started": started, "requests": requests}
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        _remove_users()
        shutil.rmtree(base, ignore_errors=True)


def _course_id():
    tree = ast.parse((ROOT / "nbgrader_config.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "c.CourseDirectory.course_id":
            return ast.literal_eval(node.value)
    raise AssertionError("no course id in nbgrader_config.py")


def _wait(ok, timeout, what, state=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if ok():
                return
        except Exception:
            pass
        time.sleep(0.3)
    tail = (state / "hub.log").read_text()[-4000:] if state else ""
    raise AssertionError(f"timed out waiting for {what}\n{tail}")


class Server:
    """One user's single-user server, reached through the hub's proxy with the user's own token."""

    def __init__(self, hub, name, token):
        self.name, self.base = name, f"{hub['url']}/user/{name}"
        self.http = hub["requests"].Session()
        self.http.headers["Authorization"] = f"token {token}"
        self.course_id = hub["course_id"]

    def call(self, method, path, expect=200, **kw):
        r = self.http.request(method, self.base + path, timeout=300, **kw)
        assert r.status_code == expect, f"{self.name} {method} {path}: {r.status_code} {r.text[:2000]}"
        try:
            return r.json()  # nbgrader's handlers answer JSON without saying so
        except ValueError:
            return r

    def nbgrader(self, path):
        """POST to a formgrader API endpoint; nbgrader answers 200 with success true/false."""
        result = self.call("POST", f"/formgrader/api{path}")
        assert result.get("success"), f"{path}: {json.dumps(result)[:3000]}"
        return result

    def assignment_action(self, action):
        result = self.call("POST", f"/assignments/{action}",
                           data={"assignment_id": ASSIGNMENT, "course_id": self.course_id})
        assert result.get("success"), f"{self.name} {action}: {json.dumps(result)[:3000]}"
        return result


@pytest.fixture(scope="module")
def cycle(hub):
    api, url = hub["api"], hub["url"]
    users = [INSTRUCTOR, TA, *STUDENTS]
    for name in users:
        r = api.post(f"{url}/hub/api/users/{name}/server")
        assert r.status_code in (201, 202), (name, r.status_code, r.text)

    def ready(name):
        return api.get(f"{url}/hub/api/users/{name}").json()["servers"].get("", {}).get("ready")

    for name in users:
        _wait(lambda n=name: ready(n), 120, f"{name}'s server", hub["state"])
    servers = {}
    for name in users:
        r = api.post(f"{url}/hub/api/users/{name}/tokens",
                     json={"note": "e2e", "expires_in": 3600, "scopes": [f"access:servers!user={name}"]})
        assert r.status_code == 201, r.text
        servers[name] = Server(hub, name, r.json()["token"])
    spawned = time.perf_counter()

    instructor = servers[INSTRUCTOR]
    instructor.nbgrader(f"/assignment/{ASSIGNMENT}/assign")
    instructor.nbgrader(f"/assignment/{ASSIGNMENT}/release")
    sources = _solution_sources()

    def work(name):
        s = servers[name]
        listed = s.call("GET", "/assignments", params={"course_id": hub["course_id"]})
        assert listed.get("success"), f"{name} lists assignments: {json.dumps(listed)[:3000]}"
        assert any(a["assignment_id"] == ASSIGNMENT for a in listed["value"]), listed
        s.assignment_action("fetch")
        nb = s.call("GET", f"/api/contents/{ASSIGNMENT}/{ASSIGNMENT}.ipynb", params={"content": 1})["content"]
        nb = nbformat.from_dict(nb)
        _fill(nb, sources, {STUDENTS[0]: "correct", STUDENTS[1]: "partly wrong", STUDENTS[2]: "blank"}[name],
              hub["course"])
        s.call("PUT", f"/api/contents/{ASSIGNMENT}/{ASSIGNMENT}.ipynb", expect=200,
               json={"type": "notebook", "format": "json", "content": nb})
        s.assignment_action("submit")

    with ThreadPoolExecutor(3) as pool:
        list(pool.map(work, STUDENTS))
    instructor.nbgrader(f"/assignment/{ASSIGNMENT}/collect")
    for name in STUDENTS:
        instructor.nbgrader(f"/submission/{ASSIGNMENT}/{name}/autograde")
    instructor.nbgrader(f"/assignment/{ASSIGNMENT}/generate_feedback")
    instructor.nbgrader(f"/assignment/{ASSIGNMENT}/release_feedback")
    feedback = {}
    for name in STUDENTS:
        servers[name].assignment_action("fetch_feedback")
        listing = servers[name].call("GET", f"/api/contents/{ASSIGNMENT}/feedback")["content"]
        assert len(listing) == 1, listing
        html = servers[name].call("GET", f"/api/contents/{listing[0]['path']}/{ASSIGNMENT}.html",
                                  params={"content": 1})["content"]
        feedback[name] = html
    done = time.perf_counter()
    print(f"\nhub e2e: environment {hub['env_s']:.0f} s, users+hub+3 servers {spawned - hub['started']:.0f} s "
          f"(total since start), exchange cycle {done - spawned:.0f} s")
    return {"servers": servers, "feedback": feedback, "scores": _scores(hub["course"])}


def _solution_sources():
    source = nbformat.read(ROOT / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    return [(c.metadata["nbgrader"]["grade_id"], c.source) for c in source.cells
            if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")]


STEAL = r"""# carol's extra cell: at grading time, run the instructor's solutions and read the gradebook.
import json, os
log = {}
for name, path in PATHS.items():
    try:
        text = open(path, "rb").read()
        if name == "solutions":
            for cell in json.loads(text)["cells"]:
                if cell["metadata"].get("nbgrader", {}).get("solution") and cell["cell_type"] == "code":
                    exec("".join(cell["source"]), globals())
        log[name] = "READ"
    except Exception as e:
        log[name] = type(e).__name__
log["token"] = "JUPYTERHUB_API_TOKEN" in os.environ
json.dump(log, open("attack_log.json", "w"))
"""


def _fill(nb, sources, how, course):
    """correct: every solution cell; partly wrong: the first half only; blank: as released, plus a cell
    that tries to steal the solutions (from the course folder ``course``) when the instructor autogrades it."""
    if how == "blank":
        paths = {"solutions": f"{course}/solutions/{ASSIGNMENT}/{ASSIGNMENT}.ipynb",
                 "gradebook": f"{course}/grading/gradebook.db"}
        first = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
        nb.cells.insert(first + 1, nbformat.v4.new_code_cell(STEAL.replace("PATHS", repr(paths))))
        return
    keep = dict(sources if how == "correct" else sources[: len(sources) // 2])
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.cell_type == "code" and grade_id in keep:
            cell.source = keep[grade_id]


def _scores(course):
    """{student: (auto-graded score, max)} from the instructor's gradebook (read as root)."""
    return auto_scores(course, ASSIGNMENT)


def _as(user, *cmd):
    return subprocess.run(["runuser", "-u", user, "--", *cmd], capture_output=True, text=True, timeout=120)


def test_grades(cycle):
    scores = cycle["scores"]
    print("grades:", scores)
    alice, bob, carol = (scores[s] for s in STUDENTS)
    assert alice[1] > 0 and alice[0] == alice[1], scores
    assert 0 < bob[0] < bob[1], scores
    assert carol[0] == 0, scores


def test_autograde_from_the_formgrader_ran_in_the_sandbox(hub, cycle):
    log_file = hub["course"] / "grading" / "autograded" / STUDENTS[2] / ASSIGNMENT / "attack_log.json"
    log = json.loads(log_file.read_text())
    print("carol's attack at grading time:", log)
    assert log == {"solutions": "FileNotFoundError", "gradebook": "FileNotFoundError", "token": False}
    assert cycle["scores"][STUDENTS[2]][0] == 0


def test_feedback_reaches_each_student_without_hidden_tests(cycle):
    for name, html in cycle["feedback"].items():
        assert name in html or ASSIGNMENT in html
        assert "BEGIN HIDDEN TESTS" not in html and "AUTOGRADER_HIDDEN" not in html


def test_a_student_cannot_read_another_students_work(hub, cycle):
    bob = STUDENTS[1]
    alice_home = f"/home/{STUDENTS[0]}"
    assert _as(bob, "cat", f"{alice_home}/{ASSIGNMENT}/{ASSIGNMENT}.ipynb").returncode != 0
    assert _as(bob, "ls", alice_home).returncode != 0
    inbound = hub["exchange"] / "inbound"
    assert _as(bob, "ls", str(inbound)).returncode != 0, "students must not list the inbound folder"
    alice_subs = [p for p in inbound.iterdir() if p.name.startswith(STUDENTS[0] + "+")]
    assert alice_subs
    for sub in alice_subs:
        assert _as(bob, "cat", str(sub / f"{ASSIGNMENT}.ipynb")).returncode != 0
        assert _as(bob, "ls", str(sub)).returncode != 0


def test_a_student_cannot_read_solutions_gradebook_or_hidden_tests(hub, cycle):
    bob = STUDENTS[1]
    course = hub["course"]
    for path in (course / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", course / "grading" / "gradebook.db",
                 course / "nbgrader_config.py"):
        assert path.exists(), path
        assert _as(bob, "cat", str(path)).returncode != 0, path
    released = hub["exchange"] / "outbound" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    text = _as(bob, "cat", str(released))
    assert text.returncode == 0 and "BEGIN HIDDEN TESTS" not in text.stdout and "BEGIN SOLUTION" not in text.stdout


def test_a_student_cannot_reach_another_users_server_or_the_formgrader(hub, cycle):
    bob = cycle["servers"][STUDENTS[1]]
    r = bob.http.get(f"{hub['url']}/user/{STUDENTS[0]}/api/contents/{ASSIGNMENT}", timeout=60)
    assert r.status_code == 403, r.status_code
    r = bob.http.get(f"{hub['url']}/user/{INSTRUCTOR}/api/contents", timeout=60)
    assert r.status_code == 403, r.status_code
    r = bob.http.get(f"{bob.base}/formgrader/api/assignments", timeout=60)
    assert r.status_code == 404, r.status_code


def test_a_student_cannot_submit_as_someone_else(hub, cycle):
    alice, bob = STUDENTS[0], STUDENTS[1]
    before = cycle["scores"][alice]
    env = ["env", f"JUPYTER_CONFIG_PATH={PREFIX}/etc/student", f"COURSE_ID={hub['course_id']}",
           f"COURSE_EXCHANGE={hub['exchange'].parent}", f"PATH={PREFIX}/venv/bin:/usr/bin:/bin", f"HOME=/home/{bob}"]
    forged = subprocess.run(["runuser", "-u", bob, "--", *env, "sh", "-c",
                             f"cd /home/{bob} && nbgrader submit {ASSIGNMENT} --student {alice}"],
                            capture_output=True, text=True, timeout=120)
    # Whether or not submit itself lets it through, collect must refuse it and alice's grade must not move.
    instructor = cycle["servers"][INSTRUCTOR]
    collected = instructor.nbgrader(f"/assignment/{ASSIGNMENT}/collect")
    instructor.nbgrader(f"/submission/{ASSIGNMENT}/{alice}/autograde")
    assert _scores(hub["course"])[alice] == before
    print(f"forged submit exit {forged.returncode}; collect log: {collected.get('log', '')[-600:]}")
    if forged.returncode == 0:
        assert "Refusing submission" in collected.get("log", ""), collected


def _now_stamp(delta_s=0):
    t = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=delta_s)
    return t.strftime("%Y-%m-%d %H:%M:%S.%f UTC")


def test_collect_takes_every_genuine_submission_whatever_else_is_in_inbound(hub, cycle):
    """Planted, malformed, unreadable and back-dated entries: each skipped or re-timed, nobody's work lost."""
    alice, bob, carol = STUDENTS
    inbound = hub["exchange"] / "inbound"
    before = _scores(hub["course"])
    planted = inbound / f"{alice}+{ASSIGNMENT}+{_now_stamp()}+x"     # bob, in alice's name, newest
    malformed = inbound / f"{bob}+{ASSIGNMENT}+not-a-timestamp"      # stopped everyone's collect before
    unreadable = inbound / f"{bob}+{ASSIGNMENT}+{_now_stamp(1)}"      # bob's own, but nobody may read it
    for folder in (planted, malformed, unreadable):
        assert _as(bob, "mkdir", str(folder)).returncode == 0
        assert _as(bob, "sh", "-c", f"echo '{{}}' > '{folder}/{ASSIGNMENT}.ipynb'").returncode == 0
    assert _as(bob, "chmod", "000", str(unreadable)).returncode == 0
    # alice makes a copy of her own submission by hand, named and stamped an hour earlier than now
    real = max(p for p in inbound.iterdir() if p.name.startswith(f"{alice}+") and p.stat().st_uid == _uid(alice))
    backdated = inbound / f"{alice}+{ASSIGNMENT}+{_now_stamp(-3600)}"
    assert _as(alice, "cp", "-r", str(real), str(backdated)).returncode == 0
    assert _as(alice, "sh", "-c", f"echo '{_now_stamp(-3600)}' > '{backdated}/timestamp.txt'").returncode == 0

    instructor = cycle["servers"][INSTRUCTOR]
    collected = instructor.nbgrader(f"/assignment/{ASSIGNMENT}/collect")
    log = collected.get("log", "")
    print("collect log:", log[-2500:])
    assert collected.get("success"), collected
    for folder, why in ((planted, "is not theirs"), (malformed, "no valid timestamp"), (unreadable, "cannot be read")):
        assert f"Refusing submission {folder.name}: it" in log and why in log, (folder.name, why)
    assert f"Submission {backdated.name} was changed after it was made" in log
    # every student's genuine work is there; alice's hand-made copy carries the time it was really made
    submitted = hub["course"] / "grading" / "submitted"
    for name in STUDENTS:
        assert (submitted / name / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").exists(), name
    stamp = (submitted / alice / ASSIGNMENT / "timestamp.txt").read_text().strip()
    made = datetime.datetime.strptime(stamp.removesuffix(" UTC"), "%Y-%m-%d %H:%M:%S.%f")
    age = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) - made
    assert abs(age.total_seconds()) < 600, stamp  # when the copy was made, not the hour-earlier name
    for name in (alice, bob):
        instructor.nbgrader(f"/submission/{ASSIGNMENT}/{name}/autograde")
    after = _scores(hub["course"])
    assert after[alice] == before[alice] and after[bob] == before[bob], (before, after)
    instructor.nbgrader(f"/assignment/{ASSIGNMENT}/generate_feedback")
    instructor.nbgrader(f"/assignment/{ASSIGNMENT}/release_feedback")
    for name in STUDENTS:  # and every student still gets feedback for the submission that was collected
        server = cycle["servers"][name]
        server.assignment_action("fetch_feedback")
        folders = server.call("GET", f"/api/contents/{ASSIGNMENT}/feedback")["content"]
        assert any(f["name"].endswith(".html") for folder in folders
                   for f in server.call("GET", f"/api/contents/{folder['path']}")["content"]), name
    # the documented command lists what collect skips and, as root, removes it
    python = PREFIX / "venv" / "bin" / "python"
    listed = _run([str(python), "-m", "course_exchange", "skipped", str(hub["exchange"]), "--remove"])
    for folder in (planted, malformed, unreadable):
        assert folder.name in listed.stdout and not folder.exists(), listed.stdout
    assert backdated.exists() and real.exists()


def test_the_formgrader_can_be_framed_by_the_instructors_jupyterlab_only(hub, cycle):
    """JupyterHub forbids every frame (frame-ancestors 'none'): the formgrader panel inside JupyterLab stayed blank."""
    instructor, bob = cycle["servers"][INSTRUCTOR], cycle["servers"][STUDENTS[1]]
    r = instructor.http.get(f"{instructor.base}/formgrader", timeout=60)
    assert r.status_code == 200 and r.headers.get("Content-Security-Policy") == "frame-ancestors 'self'", r.headers
    r = bob.http.get(f"{bob.base}/lab", timeout=60)
    assert "frame-ancestors 'none'" in r.headers.get("Content-Security-Policy", ""), r.headers


def test_feedback_reaches_a_student_who_renamed_the_notebook(hub, cycle):
    """`make grade` grades a renamed notebook under the course's name; its feedback must still be fetchable."""
    alice = STUDENTS[0]
    s, instructor = cycle["servers"][alice], cycle["servers"][INSTRUCTOR]
    renamed = "a1 Übung (copie)"
    s.call("PATCH", f"/api/contents/{ASSIGNMENT}/{ASSIGNMENT}.ipynb", json={"path": f"{ASSIGNMENT}/{renamed}.ipynb"})
    s.assignment_action("submit")
    instructor.nbgrader(f"/assignment/{ASSIGNMENT}/collect")
    env = ["env", f"HOME=/home/{INSTRUCTOR}", f"PATH={PREFIX}/venv/bin:/usr/bin:/bin", f"COURSE_ID={hub['course_id']}",
           f"COURSE_EXCHANGE={hub['exchange'].parent}", f"JUPYTER_CONFIG_PATH={PREFIX}/etc/instructor"]
    graded = _as(INSTRUCTOR, *env, "sh", "-c", f"umask 007 && cd {hub['course']} && "
                 f"python -m course_tools.grading.grade --student {alice} --assignment {ASSIGNMENT}")
    print(graded.stdout[-1500:], graded.stderr[-1500:])
    assert graded.returncode == 0 and "notebook renamed by the student" in graded.stdout, graded.stdout
    assert _scores(hub["course"])[alice] == cycle["scores"][alice]
    instructor.nbgrader(f"/assignment/{ASSIGNMENT}/release_feedback")
    s.assignment_action("fetch_feedback")
    folders = s.call("GET", f"/api/contents/{ASSIGNMENT}/feedback")["content"]
    names = {f["name"] for folder in folders
             for f in s.call("GET", f"/api/contents/{folder['path']}")["content"]}
    assert f"{renamed}.html" in names, names


def test_a_ta_shares_the_instructors_gradebook_and_releases_the_same_feedback(hub, cycle):
    """A TA set up as deploy/README.md says: one course folder, one gradebook, nobody's work replaced."""
    alice = STUDENTS[0]
    instructor, ta, student = cycle["servers"][INSTRUCTOR], cycle["servers"][TA], cycle["servers"][alice]

    def scores(server):
        return {s["student"]: s["score"] for s in server.call("GET", f"/formgrader/api/submissions/{ASSIGNMENT}")}

    assert scores(ta) == scores(instructor) and scores(ta), "the TA sees the instructor's gradebook"
    notebooks = instructor.call("GET", f"/formgrader/api/submitted_notebooks/{ASSIGNMENT}/{ASSIGNMENT}")
    of_alice = {"submission_id": next(n["id"] for n in notebooks if n["student"] == alice)}
    comment = next(c for c in instructor.call("GET", "/formgrader/api/comments", params=of_alice)
                   if c["name"] == "a1_written")
    grade = next(g for g in instructor.call("GET", "/formgrader/api/grades", params=of_alice)
                 if g["name"] == "a1_written")
    note = "Well argued, but (b) forgets the bias (the instructor)"
    instructor.call("PUT", f"/formgrader/api/comment/{comment['id']}", json={"manual_comment": note})
    instructor.call("PUT", f"/formgrader/api/grade/{grade['id']}", json={"manual_score": 2.0})
    # the TA, not the instructor, writes and releases the feedback: it holds the instructor's hand work
    ta.nbgrader(f"/assignment/{ASSIGNMENT}/generate_feedback")
    ta.nbgrader(f"/assignment/{ASSIGNMENT}/release_feedback")
    assert scores(ta)[alice] == scores(instructor)[alice]
    student.assignment_action("fetch_feedback")
    pages = [student.call("GET", f"/api/contents/{f['path']}", params={"content": 1})["content"]
             for folder in student.call("GET", f"/api/contents/{ASSIGNMENT}/feedback")["content"]
             for f in student.call("GET", f"/api/contents/{folder['path']}")["content"] if f["name"].endswith(".html")]
    assert any(note in page for page in pages), "the TA's release carries the instructor's comment"
