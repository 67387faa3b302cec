"""The grading kernel: starts the course's IPython kernel inside bubblewrap (``python -m course_utils.sandbox kernel``).

Jupyter runs this as the kernel process (see kernelspec.py). It

1. checks that bubblewrap can create the sandbox, and refuses to start otherwise (so grading fails with
   a clear message) unless the instructor set ``COURSE_ALLOW_UNSANDBOXED_GRADING=1``;
2. makes a private folder for the kernel's sockets, a connection file for inside the sandbox and the
   sandbox's ``/etc/passwd``;
3. sets the resource limits, starts ``bwrap ... python -m ipykernel_launcher`` and relays Jupyter's ports
   to the kernel's Unix sockets (relay.py);
4. when the kernel exits (or the wall-clock limit passes) kills everything left in the sandbox.
"""

import argparse
import asyncio
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from . import policy
from .relay import start_relays

ALLOW_ENV = "COURSE_ALLOW_UNSANDBOXED_GRADING"
BWRAP_ENV = "COURSE_SANDBOX_BWRAP"
EXIT_REFUSED = 3


class SandboxUnavailable(RuntimeError):
    """Bubblewrap is missing or cannot create the sandbox's namespaces on this machine."""


def find_bwrap(environ=None):
    """Path of bubblewrap: ``$COURSE_SANDBOX_BWRAP`` if set, else ``bwrap`` on PATH, else /usr/bin/bwrap."""
    environ = os.environ if environ is None else environ
    return environ.get(BWRAP_ENV) or shutil.which("bwrap") or "/usr/bin/bwrap"


def check_sandbox(bwrap=None):
    """Raise SandboxUnavailable (saying why and what to do) unless bubblewrap can create the sandbox."""
    bwrap = bwrap or find_bwrap()
    if not os.path.isfile(bwrap) or not os.access(bwrap, os.X_OK):
        problem = f"bubblewrap is not installed ({bwrap} is not an executable file)"
    else:
        probe = [bwrap, *policy.namespace_args(), "--ro-bind", "/", "/", "--", "/bin/true"]
        try:
            done = subprocess.run(probe, capture_output=True, text=True, timeout=20)
            problem = None if done.returncode == 0 else (
                f"{bwrap} cannot create the sandbox: {done.stderr.strip() or f'exit {done.returncode}'}"
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            problem = f"{bwrap} cannot create the sandbox: {e}"
    if problem:
        raise SandboxUnavailable(
            f"Refusing to run student code without the grading sandbox: {problem}. "
            "Install it with `apt-get install bubblewrap` (and allow unprivileged user namespaces: "
            "sysctl kernel.unprivileged_userns_clone=1 where that exists), then check with "
            "`python -m course_utils.sandbox check`. Only for trusted notebooks (your own solutions), "
            f"set {ALLOW_ENV}=1 to grade without the sandbox."
        )


def unsandboxed_allowed(environ=None):
    """True when the instructor explicitly allowed grading without the sandbox."""
    environ = os.environ if environ is None else environ
    return environ.get(ALLOW_ENV, "").strip().lower() in ("1", "true", "yes")


def _course_utils_pythonpath():
    """The folder to put on PYTHONPATH inside, when course_utils lives outside the Python prefixes."""
    package = Path(__file__).resolve().parent.parent
    parent = str(package.parent)
    prefixes = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix)}
    return None if any(parent.startswith(p + os.sep) for p in prefixes) else parent


def _limit_resources(limits):
    """Runs in the child before exec: resource limits inherited by everything in the sandbox."""

    def apply():
        mib = 1 << 20
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_mb * mib,) * 2)
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds,) * 2)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_mb * mib,) * 2)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def sandbox_command(bwrap, connection, workdir, private_dir, kernel_args):
    """Write the sandbox's files into ``private_dir`` and return the bwrap command line."""
    socket_dir = os.path.join(private_dir, "sockets")
    etc_dir = os.path.join(private_dir, "etc")
    os.makedirs(socket_dir)
    os.makedirs(etc_dir)
    for name, text in policy.etc_files().items():
        Path(etc_dir, name).write_text(text)
    inner = dict(connection, transport="ipc", ip=f"{policy.SOCKET_DIR}/k")
    Path(socket_dir, "connection.json").write_text(json.dumps(inner))
    package_dir = str(Path(__file__).resolve().parent.parent)
    pythonpath = _course_utils_pythonpath()
    ro_paths = policy.python_paths(
        [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix],
        [package_dir] if pythonpath else [],
    )
    path = os.pathsep.join([os.path.dirname(sys.executable), "/usr/local/bin", "/usr/bin", "/bin"])
    env = policy.clean_env(os.environ, path=path, pythonpath=pythonpath)
    command = [sys.executable, "-m", "ipykernel_launcher", "-f",
               f"{policy.SOCKET_DIR}/connection.json", *kernel_args]
    cmd = policy.bwrap_command(bwrap, workdir=workdir, socket_dir=socket_dir, etc_dir=etc_dir,
                               ro_paths=ro_paths, env=env, command=command)
    return cmd, os.path.join(socket_dir, "k")


async def _run(cmd, connection, socket_prefix, limits):
    servers = await start_relays(connection, socket_prefix)
    # bwrap itself gets an empty environment: its own /proc/PID/environ is readable from inside.
    # Its own session: a SIGINT sent to the launcher's process group must not kill bwrap (and the kernel).
    proc = await asyncio.create_subprocess_exec(
        *cmd, stdin=subprocess.DEVNULL, env={}, preexec_fn=_limit_resources(limits), start_new_session=True
    )
    loop = asyncio.get_running_loop()
    # Interrupts reach the kernel as control messages (the kernelspec's interrupt_mode is "message").
    loop.add_signal_handler(signal.SIGINT, lambda: None)
    loop.add_signal_handler(signal.SIGTERM, proc.terminate)
    try:
        code = await asyncio.wait_for(proc.wait(), timeout=limits.wall_seconds)
    except TimeoutError:
        print(f"course_utils.sandbox: the kernel ran longer than {limits.wall_seconds} s; killed.",
              file=sys.stderr, flush=True)
        proc.kill()
        code = await proc.wait()
    finally:
        for server in servers:
            server.close()
    return code


def run_kernel(connection_file, kernel_args, limits, workdir=None):
    """Start the sandboxed kernel for ``connection_file`` and wait for it; returns its exit code."""
    workdir = os.path.realpath(workdir or os.getcwd())
    bwrap = find_bwrap()
    try:
        check_sandbox(bwrap)
    except SandboxUnavailable as e:
        if not unsandboxed_allowed():
            print(f"course_utils.sandbox: {e}", file=sys.stderr, flush=True)
            return EXIT_REFUSED
        print(f"course_utils.sandbox: WARNING: {ALLOW_ENV} is set: running this kernel WITHOUT the "
              "sandbox (student code has your rights).", file=sys.stderr, flush=True)
        keep = (*policy.ENV_PASSTHROUGH, "PATH", "HOME", "JPY_PARENT_PID")
        env = {k: v for k, v in os.environ.items() if k in keep}
        os.execve(sys.executable, [sys.executable, "-m", "ipykernel_launcher", "-f", connection_file,
                                   *kernel_args], env)
    reason = policy.unsafe_workdir_reason(workdir, os.environ.get("HOME"))
    if reason:
        print(f"course_utils.sandbox: refusing to start: {reason}; the sandbox gives the kernel its "
              "notebook's folder read-write, so grade from a folder that holds one submission.",
              file=sys.stderr, flush=True)
        return EXIT_REFUSED
    connection = json.loads(Path(connection_file).read_text())
    with tempfile.TemporaryDirectory(prefix="course-sandbox-") as private_dir:
        cmd, socket_prefix = sandbox_command(bwrap, connection, workdir, private_dir, kernel_args)
        return asyncio.run(_run(cmd, connection, socket_prefix, limits))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m course_utils.sandbox kernel",
                                     description="Run an IPython kernel inside the grading sandbox.")
    parser.add_argument("-f", dest="connection_file", required=True, help="Jupyter connection file")
    parser.add_argument("--memory-mb", type=int, default=policy.Limits.memory_mb)
    parser.add_argument("--cpu-seconds", type=int, default=policy.Limits.cpu_seconds)
    parser.add_argument("--wall-seconds", type=int, default=policy.Limits.wall_seconds)
    parser.add_argument("--file-mb", type=int, default=policy.Limits.file_mb)
    args, kernel_args = parser.parse_known_args(argv)
    limits = policy.Limits(args.memory_mb, args.cpu_seconds, args.wall_seconds, args.file_mb)
    return run_kernel(args.connection_file, kernel_args, limits)
