"""The grading sandbox's policy (course_tools.sandbox.policy / kernelspec): pure checks, no kernel started."""

import os

import pytest

from course_tools.sandbox import cgroups, kernel, kernelspec, policy


def _command(tmp_path, env=None, ro_paths=("/opt/py", "/work/course/course_utils")):
    workdir = tmp_path / "grading" / "autograded" / "alice" / "a1"
    workdir.mkdir(parents=True)
    env = env or policy.clean_env({}, path="/usr/bin")
    return policy.bwrap_command("/usr/bin/bwrap", workdir=workdir, socket_dir="/tmp/s", etc_dir="/tmp/e",
                                ro_paths=list(ro_paths), env=env, command=["python", "-m", "x"]), str(workdir)


def _pairs(cmd, option):
    return [(cmd[i + 1], cmd[i + 2]) for i, a in enumerate(cmd) if a == option]


def test_every_namespace_is_unshared_and_privileges_dropped(tmp_path):
    cmd, _ = _command(tmp_path)
    for flag in ("--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--clearenv"):
        assert flag in cmd, flag
    assert cmd[cmd.index("--cap-drop") + 1] == "ALL"
    assert "--share-net" not in cmd


def test_only_the_notebook_folder_and_private_folders_are_writable(tmp_path):
    cmd, workdir = _command(tmp_path)
    writable = _pairs(cmd, "--bind")
    assert writable == [(workdir, workdir), ("/tmp/s", policy.SOCKET_DIR)]
    read_only = {src for src, _ in _pairs(cmd, "--ro-bind")}
    assert {"/usr", "/opt/py", "/work/course/course_utils"} <= read_only
    assert not any(p in read_only for p in ("/", "/home", "/root", "/work/course", "/etc"))
    assert cmd[cmd.index("--remount-ro") + 1] == "/"
    # it starts in its private, empty home (no start-up file of the submission is read); inner.py changes
    # into the notebook's folder after the kernel's start-up
    assert cmd[cmd.index("--chdir") + 1] == policy.SANDBOX_HOME


def test_private_tmp_has_a_size_limit(tmp_path):
    workdir = tmp_path / "w"
    workdir.mkdir()
    cmd = policy.bwrap_command("bwrap", workdir=workdir, socket_dir="/s", etc_dir="/e", ro_paths=[],
                               env={}, command=["x"], tmp_mb=64)
    i = cmd.index("--size")
    assert cmd[i + 1] == str(64 << 20) and cmd[i + 2:i + 4] == ["--tmpfs", "/tmp"]


def test_parents_are_mounted_before_children(tmp_path):
    workdir = tmp_path / "w"
    workdir.mkdir()
    inner = str(workdir / "venv")  # a read-only tree inside the notebook's folder stays read-only
    cmd = policy.bwrap_command("bwrap", workdir=workdir, socket_dir="/s", etc_dir="/e",
                               ro_paths=[inner], env={}, command=["x"])
    assert cmd.index(inner) > cmd.index(str(workdir))


def test_environment_is_a_fixed_set_without_secrets():
    outside = {"JUPYTERHUB_API_TOKEN": "t0k3n", "AWS_SECRET_ACCESS_KEY": "s", "JPY_PARENT_PID": "4242",
               "MPLBACKEND": "Agg", "HOME": "/root", "PATH": "/root/bin"}
    env = policy.clean_env(outside, path="/venv/bin:/usr/bin", pythonpath="/course")
    assert "t0k3n" not in env.values() and "AWS_SECRET_ACCESS_KEY" not in env
    assert env["HOME"] == policy.SANDBOX_HOME and env["PATH"] == "/venv/bin:/usr/bin"
    assert env["JPY_PARENT_PID"] == "1"  # a real PID would make ipykernel exit inside the PID namespace
    assert env["MPLBACKEND"] == "Agg" and env["PYTHONPATH"] == "/course"


def test_python_paths_keep_only_needed_folders():
    paths = policy.python_paths(["/work/c/.venv", "/usr", "/opt/py", "/opt/py/lib"], ["/work/c/course_utils"])
    assert paths == ["/opt/py", "/work/c/.venv", "/work/c/course_utils"]


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda t: "/", "root"),
        (lambda t: str(t), "home"),
        (lambda t: _with(t / "c", "nbgrader_config.py"), "course folder"),
        (lambda t: _with(t / "c", "gradebook.db"), "course folder"),
    ],
)
def test_unsafe_workdirs_are_refused(tmp_path, make, expected):
    home = tmp_path / "home"
    home.mkdir()
    reason = policy.unsafe_workdir_reason(make(tmp_path), str(home))
    assert reason is not None and expected in reason


def _with(folder, name):
    folder.mkdir()
    (folder / name).write_text("")
    return str(folder)


def test_a_submission_folder_is_fine(tmp_path):
    folder = tmp_path / "grading" / "autograded" / "bob" / "a1"
    folder.mkdir(parents=True)
    assert policy.unsafe_workdir_reason(str(folder), str(tmp_path / "home")) is None


@pytest.mark.parametrize("name", list(policy.Limits.__dataclass_fields__))
@pytest.mark.parametrize("bad", [0, -5, 1.5, "10", True])
def test_limits_reject_bad_values(name, bad):
    with pytest.raises(ValueError, match=f"Limits.{name}: expected a positive int, got"):
        policy.Limits(**{name: bad})


def test_kernelspec_runs_the_launcher_with_the_limits(tmp_path):
    limits = policy.Limits(memory_mb=1000, wall_seconds=30, processes=64, total_memory_mb=2000, tmp_mb=100,
                           disk_mb=50, disk_files=500, cpu_percent=150)
    folder = kernelspec.install(tmp_path, limits, python="/py")
    spec = kernelspec.installed_spec(tmp_path)
    assert folder == tmp_path / "share" / "jupyter" / "kernels" / kernelspec.KERNEL_NAME
    # -I: the launcher, started in the submission folder, imports nothing from it
    assert spec["argv"][:5] == ["/py", "-I", "-m", "course_tools.sandbox", "kernel"]
    argv = spec["argv"]
    assert argv[argv.index("--memory-mb") + 1] == "1000" and argv[argv.index("--wall-seconds") + 1] == "30"
    assert argv[-2:] == ["-f", "{connection_file}"]
    assert kernelspec.installed_limits(tmp_path) == limits  # every limit round-trips through the kernelspec
    with pytest.raises(TypeError, match="limits: expected a course_tools.sandbox.Limits"):
        kernelspec.kernel_json({"memory_mb": 1})


def test_missing_or_broken_bubblewrap_is_refused_with_instructions(tmp_path):
    with pytest.raises(kernel.SandboxUnavailable, match="bubblewrap is not installed"):
        kernel.check_sandbox(str(tmp_path / "no-bwrap"))
    with pytest.raises(kernel.SandboxUnavailable, match="cannot create the sandbox") as err:
        kernel.check_sandbox("/bin/false")
    assert kernel.ALLOW_ENV in str(err.value) and "apt-get install bubblewrap" in str(err.value)


def test_unsandboxed_grading_needs_the_explicit_switch():
    assert not kernel.unsandboxed_allowed({})
    assert not kernel.unsandboxed_allowed({kernel.ALLOW_ENV: "0"})
    assert kernel.unsandboxed_allowed({kernel.ALLOW_ENV: "1"})


def test_the_course_config_selects_the_sandbox_kernel():
    # (Loading the whole config imports the grading machinery; test_sandbox_grading.py grades through it.)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    text = open(os.path.join(root, "nbgrader_config.py")).read()
    block = text[text.index("# --- sandbox (course_tools.sandbox) ---"):text.index("# --- end sandbox ---")]
    assert f'c.Execute.kernel_name = "{kernelspec.KERNEL_NAME}"' in block
    assert "Execute.kernel_name" not in text.replace(block, "")


def test_folders_leading_to_a_mount_under_tmp_are_read_only(tmp_path):
    workdir = "/tmp/course/grading/autograded/bob/a1"
    cmd = policy.bwrap_command("bwrap", workdir=workdir, socket_dir="/s", etc_dir="/e", ro_paths=[],
                               env={}, command=["x"])
    assert cmd.index("/tmp/course") < cmd.index(workdir)  # its own tmpfs, mounted before the workdir
    remounted = [cmd[i + 1] for i, a in enumerate(cmd) if a == "--remount-ro"]
    assert remounted == ["/", "/tmp/course"]


# ---------------------------------------------------------------- the kernel's start-up (inner.py)

def test_the_folder_serves_modules_to_the_students_code_only(tmp_path):
    import sys

    from course_tools.sandbox.inner import StudentFolderFinder

    (tmp_path / "helpers_7f3a.py").write_text("VALUE = 7\n")
    (tmp_path / "json").mkdir()
    (tmp_path / "json" / "__init__.py").write_text("raise ImportError('shadow json')\n")
    finder = StudentFolderFinder(str(tmp_path))
    sys.meta_path.append(finder)
    try:
        with pytest.raises(ModuleNotFoundError):  # asked for by a library (here: this test module)
            __import__("helpers_7f3a")
        cell = {"__name__": "__main__"}  # a notebook cell
        exec("import helpers_7f3a, json\nvalue, json_file = helpers_7f3a.VALUE, json.__file__", cell)
        assert cell["value"] == 7
        assert not cell["json_file"].startswith(str(tmp_path))  # installed names always resolve first
    finally:
        sys.meta_path.remove(finder)
        sys.modules.pop("helpers_7f3a", None)


def test_the_kernel_starts_isolated_in_its_home_and_changes_into_the_folder():
    cmd = kernel.inner_command("/work/sub", "/run/kernel/connection.json", ["--x"])
    assert cmd[1:4] == ["-I", "-m", "course_tools.sandbox.inner"]
    assert cmd[4:] == ["--workdir", "/work/sub", "-f", "/run/kernel/connection.json", "--x"]


# ---------------------------------------------------------------- whole-kernel limits (cgroups.py, the folder)

def _fake_group(tmp_path, backend, files):
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    dirs = {"pids": str(tmp_path / "pids"), "memory": str(tmp_path / "memory")} if backend == "cgroup v1" \
        else {"": str(tmp_path)}
    return cgroups.KernelGroup(backend, policy.Limits(), "g", dirs=dirs)


@pytest.mark.parametrize("backend, files, expected", [
    ("cgroup v1", {"pids/pids.events": "max 0\n", "memory/memory.oom_control": "under_oom 0\noom_kill 0\n"}, []),
    ("cgroup v1", {"pids/pids.events": "max 12\n", "memory/memory.oom_control": "oom_kill 0\n"}, ["processes"]),
    ("cgroup v1", {"pids/pids.events": "max 0\n", "memory/memory.oom_control": "oom_kill 2\n"}, ["memory"]),
    ("cgroup v2", {"pids.events": "max 3\n", "memory.events": "low 0\nhigh 0\nmax 9\noom 1\noom_kill 1\n"},
     ["processes", "memory"]),
    ("cgroup v2", {"pids.events": "max 0\n", "memory.events": "max 4\noom 0\noom_kill 0\n"}, []),
])
def test_limits_hit_are_read_from_the_groups_event_counters(tmp_path, backend, files, expected):
    assert _fake_group(tmp_path, backend, files).limits_hit() == expected


def test_systemd_run_scope_carries_every_whole_kernel_limit(monkeypatch):
    monkeypatch.setattr(cgroups.shutil, "which", lambda name: "/usr/bin/systemd-run")
    limits = policy.Limits(processes=99, total_memory_mb=1234, cpu_percent=150)
    group = cgroups._make_systemd(limits, "course-sandbox-1-0")
    cmd = group.wrap(["bwrap", "x"])
    assert cmd[0] == "/usr/bin/systemd-run" and "--scope" in cmd and cmd[-3:] == ["--", "bwrap", "x"]
    props = {cmd[i + 1] for i, a in enumerate(cmd) if a == "-p"}
    assert {"TasksMax=99", "MemoryMax=1234M", "MemorySwapMax=0", "CPUQuota=150%"} <= props


def test_v1_settings_name_the_limits():
    settings = cgroups._v1_settings(policy.Limits(processes=50, total_memory_mb=100, cpu_percent=50))
    assert ("pids.max", 50) in settings["pids"]
    assert ("memory.limit_in_bytes", 100 << 20) in settings["memory"]
    assert ("cpu.cfs_quota_us", 50_000) in settings["cpu"]


def test_the_folder_watch_counts_bytes_and_files_added(tmp_path):
    (tmp_path / "a1.ipynb").write_bytes(b"x" * 10_000)  # what was there before does not count
    watch = kernel.DiskWatch([str(tmp_path)], policy.Limits(disk_mb=1, disk_files=20))
    assert watch.exceeded() is None
    (tmp_path / "big.bin").write_bytes(b"x" * (2 << 20))
    assert "MiB added to its folder (limit 1 MiB)" in watch.exceeded()
    (tmp_path / "big.bin").unlink()
    sub = tmp_path / "many"
    sub.mkdir()
    for i in range(25):
        (sub / str(i)).touch()
    assert watch.exceeded() == "more than 20 files added to its folder"
