"""The grading sandbox's policy (course_utils.sandbox.policy / kernelspec): pure checks, no kernel started."""

import os

import pytest

from course_utils.sandbox import kernel, kernelspec, policy


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
    assert cmd[cmd.index("--chdir") + 1] == workdir


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


@pytest.mark.parametrize("name", ["memory_mb", "cpu_seconds", "wall_seconds", "file_mb"])
@pytest.mark.parametrize("bad", [0, -5, 1.5, "10", True])
def test_limits_reject_bad_values(name, bad):
    with pytest.raises(ValueError, match=f"Limits.{name}: expected a positive int, got"):
        policy.Limits(**{name: bad})


def test_kernelspec_runs_the_launcher_with_the_limits(tmp_path):
    folder = kernelspec.install(tmp_path, policy.Limits(memory_mb=1000, wall_seconds=30), python="/py")
    spec = kernelspec.installed_spec(tmp_path)
    assert folder == tmp_path / "share" / "jupyter" / "kernels" / kernelspec.KERNEL_NAME
    assert spec["argv"][:4] == ["/py", "-m", "course_utils.sandbox", "kernel"]
    argv = spec["argv"]
    assert argv[argv.index("--memory-mb") + 1] == "1000" and argv[argv.index("--wall-seconds") + 1] == "30"
    assert argv[-2:] == ["-f", "{connection_file}"]
    with pytest.raises(TypeError, match="limits: expected a course_utils.sandbox.Limits"):
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
    block = text[text.index("# --- sandbox (course_utils.sandbox) ---"):text.index("# --- end sandbox ---")]
    assert f'c.Execute.kernel_name = "{kernelspec.KERNEL_NAME}"' in block
    assert "Execute.kernel_name" not in text.replace(block, "")

def test_folders_leading_to_a_mount_under_tmp_are_read_only(tmp_path):
    workdir = "/tmp/course/grading/autograded/bob/a1"
    cmd = policy.bwrap_command("bwrap", workdir=workdir, socket_dir="/s", etc_dir="/e", ro_paths=[],
                               env={}, command=["x"])
    assert cmd.index("/tmp/course") < cmd.index(workdir)  # its own tmpfs, mounted before the workdir
    remounted = [cmd[i + 1] for i, a in enumerate(cmd) if a == "--remount-ro"]
    assert remounted == ["/", "/tmp/course"]
