"""The pinned environment: requirements/*.in, their locks, pyproject's groups, environment.yml and the venv agree,
the nbgrader lab extension loads, students do not get the instructor's tools, and `make lab` serves."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from importlib import metadata
from pathlib import Path

import pytest

from suite_helpers import REPO, VENV_BIN, free_port

CONDA_NAMES = {"pytorch": "torch"}  # conda-forge name -> PyPI name


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(lines) -> dict[str, str]:
    pins = {}
    for raw in lines:
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)\s*==\s*([^\s;]+)", line)
        assert m, f"not an exact pin: {raw!r}"
        pins[_norm(m.group(1))] = m.group(2)
    return pins


GROUPS = ("student", "instructor", "dev")  # each installs the one before it (requirements/<group>.in: -r)


def group_in(group: str, follow: bool = False) -> dict[str, str]:
    """The exact pins of requirements/<group>.in (with ``follow``, also those of the files it includes)."""
    pins, lines = {}, []
    for raw in (REPO / "requirements" / f"{group}.in").read_text().splitlines():
        if raw.startswith("-r "):
            if follow:
                pins.update(group_in(raw.split()[1].removesuffix(".in"), follow=True))
            continue
        lines.append(raw)
    return {**pins, **_pins(lines)}


def group_lock(group: str) -> dict[str, str]:
    return _pins((REPO / "requirements" / f"{group}.lock").read_text().splitlines())


def environment_yml() -> dict[str, str]:
    """Parse the conda file's dependency list (plain YAML subset: '- name=version' and a 'pip:' list)."""
    pins = {}
    for raw in (REPO / "environment.yml").read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        m = re.fullmatch(r"-\s*([A-Za-z0-9_.\-]+)\s*(==|=)\s*([^\s]+)", line)
        if m and m.group(1) != "python":
            name = CONDA_NAMES.get(m.group(1), m.group(1))
            pins[_norm(name)] = m.group(3)
    return pins


def test_environment_yml_matches_the_student_group():
    req, env = group_in("student"), environment_yml()
    only_req = sorted(set(req) - set(env))
    only_env = sorted(set(env) - set(req))
    differ = sorted(
        f"{k}: requirements/student.in {req[k]} vs environment.yml {env[k]}"
        for k in set(req) & set(env) if req[k] != env[k]
    )
    assert not (only_req or only_env or differ), (
        f"requirements/student.in and environment.yml drifted apart: only in student.in {only_req}, "
        f"only in environment.yml {only_env}, different versions {differ}"
    )


@pytest.mark.parametrize("group", GROUPS)
def test_each_lock_pins_its_group_at_the_same_versions(group):
    req, lock = group_in(group, follow=True), group_lock(group)
    missing = sorted(set(req) - set(lock))
    differ = sorted(f"{k}: {req[k]} vs lock {lock[k]}" for k in set(req) & set(lock) if req[k] != lock[k])
    assert not missing and not differ, (
        f"requirements/{group}.lock is stale (run `make lock`): missing {missing}, differ {differ}"
    )
    assert not any("nvidia" in k or "cuda" in k for k in lock), "the lock pulls a CUDA build of torch"


def test_the_groups_nest_and_agree():
    """A student's lock is inside the instructor's, which is inside the developer's, with one version each;
    the student's lab carries none of the instructor's or developer's tools."""
    locks = {g: group_lock(g) for g in GROUPS}
    for small, big in zip(GROUPS, GROUPS[1:]):
        missing = sorted(set(locks[small]) - set(locks[big]))
        differ = sorted(k for k in set(locks[small]) & set(locks[big]) if locks[small][k] != locks[big][k])
        assert not missing and not differ, f"{small}.lock vs {big}.lock: missing {missing}, differ {differ}"
    tools = {*group_in("instructor"), *group_in("dev")} - {"nbconvert", "nbclient", "nbformat"}  # nbgrader's own
    assert not tools & set(locks["student"]), f"a student's lab installs {sorted(tools & set(locks['student']))}"


def test_pyproject_groups_name_the_same_packages_as_the_pins():
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]

    def names(reqs):
        return {_norm(re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0]) for r in reqs} - {"course-utils"}

    extras = project["optional-dependencies"]
    expected = {"student": names(project["dependencies"]) | names(extras["student"]),
                "instructor": names(extras["instructor"]), "dev": names(extras["dev"])}
    for group in GROUPS:
        assert set(group_in(group)) == expected[group], (
            f"pyproject.toml's {group} group and requirements/{group}.in name different packages: "
            f"{sorted(set(group_in(group)) ^ expected[group])}"
        )


def test_installed_versions_match_the_lock():
    lock = group_lock("dev")  # the suite runs in the whole environment (make test installs every group)
    wrong = []
    for name, version in lock.items():
        try:
            have = metadata.version(name)
        except metadata.PackageNotFoundError:
            wrong.append(f"{name}: not installed (lock {version})")
            continue
        if have.split("+")[0] != version:
            wrong.append(f"{name}: installed {have}, lock {version}")
    assert not wrong, "the venv does not match requirements/dev.lock (run `make setup`):\n" + "\n".join(wrong)


def test_course_utils_is_installed_editable_from_this_checkout():
    import course_utils

    assert Path(course_utils.__file__).resolve().parent == REPO / "course_utils"


def _jupyter(*args) -> str:
    out = subprocess.run([str(VENV_BIN / "jupyter"), *args], capture_output=True, text=True, timeout=120)
    return out.stdout + out.stderr


def test_nbgrader_lab_extension_loads_and_students_lack_instructor_tools():
    listing = re.sub(r"\x1b\[[0-9;]*m", "", _jupyter("labextension", "list"))
    line = next((l for l in listing.splitlines() if "@jupyter/nbgrader" in l and "v0.9.6" in l), "")
    assert "enabled" in line and "OK" in line, f"nbgrader lab extension not loaded:\n{listing}"
    page_config_file = REPO / ".venv" / "etc" / "jupyter" / "labconfig" / "page_config.json"
    page_config = json.loads(page_config_file.read_text())
    disabled = page_config.get("disabledExtensions", {})
    # no instructor tools; no assignment or course list either, locally: they need the exchange a hub has
    for plugin in ("@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment",
                   "@jupyter/nbgrader:assignment-list", "@jupyter/nbgrader:course-list"):
        assert disabled.get(plugin) is True, f"{plugin} should be disabled for students: {page_config}"
    assert not disabled.get("@jupyter/nbgrader:validate-assignment"), "Validate must stay enabled for students"
    servers = re.sub(r"\x1b\[[0-9;]*m", "", _jupyter("server", "extension", "list"))
    for ext in ("formgrader", "assignment_list", "course_list"):
        assert re.search(rf"nbgrader\.server_extensions\.{ext}\s+disabled", servers), servers
    assert re.search(r"nbgrader\.server_extensions\.validate_assignment\s+enabled", servers), servers
    overrides = json.loads((REPO / ".venv" / "share" / "jupyter" / "lab" / "settings" / "overrides.json").read_text())
    assert overrides["@jupyter-widgets/jupyterlab-manager:plugin"]["saveState"] is True, overrides


def test_make_setup_is_idempotent():
    """A second `make setup` has nothing to do: make's question mode says the stamp is up to date."""
    result = subprocess.run(["make", "-q", "setup"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, (
        f"`make setup` would reinstall although nothing changed:\n{result.stdout}{result.stderr}"
    )


@pytest.mark.slow
def test_make_lab_serves_jupyterlab(tmp_path):
    port, token = free_port(), os.urandom(12).hex()
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path)}
    # as a user runs it: no --allow-root here, so that `make lab` run as root (containers, this CI) is tested
    args = f"--no-browser --ServerApp.ip=127.0.0.1 --port={port} --IdentityProvider.token={token}"
    proc = subprocess.Popen(
        ["make", "--no-print-directory", "lab", f"ARGS={args}"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline, status = time.time() + 90, None
        while time.time() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2) as r:
                    status = json.loads(r.read())
                    break
            except OSError:
                time.sleep(0.5)
        assert status is not None, f"JupyterLab did not answer /api/status (exit {proc.poll()})"
        assert "started" in status
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab?token={token}", timeout=10) as r:
            assert r.status == 200 and b"JupyterLab" in r.read()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_suite_runs_in_the_course_venv():
    venv = (REPO / ".venv").resolve()
    assert Path(sys.prefix).resolve() == venv, f"run the tests with .venv/bin/python, not {sys.executable}"


@pytest.mark.slow
def test_a_students_lab_alone_runs_the_course(tmp_path):
    """`make lab`'s install (the student group only) imports every module of course_utils and runs a notebook,
    without the instructor's or developer's tools."""
    venv = tmp_path / "student-venv"
    setup = subprocess.run(["make", "--no-print-directory", "setup-student", f"VENV={venv}"], cwd=REPO,
                           capture_output=True, text=True, timeout=900)
    assert setup.returncode == 0, f"make setup-student failed:\n{setup.stdout[-3000:]}{setup.stderr[-3000:]}"
    probe = (
        "import importlib, importlib.util, pkgutil, course_utils\n"
        "mods = [m.name for m in pkgutil.walk_packages(course_utils.__path__, 'course_utils.')"
        " if not m.name.endswith('__main__')]\n"
        "for m in mods: importlib.import_module(m)\n"
        "print(len(mods), sorted(p for p in ('pytest', 'hypothesis', 'playwright', 'ruff', 'jupyterhub')"
        " if importlib.util.find_spec(p)))\n"
    )
    out = subprocess.run([str(venv / "bin" / "python"), "-c", probe], cwd=tmp_path, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    count, tools = out.stdout.split(" ", 1)
    assert int(count) > 30 and tools.strip() == "[]", out.stdout
    run = subprocess.run([str(venv / "bin" / "jupyter"), "nbconvert", "--to", "notebook", "--execute",
                          "--output", str(tmp_path / "02.ipynb"), str(REPO / "notebooks" / "02_convolution.ipynb")],
                         cwd=tmp_path, capture_output=True, text=True, timeout=600,
                         env={**os.environ, "MPLBACKEND": "Agg"})
    assert run.returncode == 0, run.stderr[-3000:]
