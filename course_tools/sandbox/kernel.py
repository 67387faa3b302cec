"""The grading kernel: starts the course's IPython kernel inside bubblewrap (``python -m course_tools.sandbox kernel``).

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

from . import cgroups, policy
from .relay import start_relays

ALLOW_ENV = "COURSE_ALLOW_UNSANDBOXED_GRADING"
BWRAP_ENV = "COURSE_SANDBOX_BWRAP"
#: where the launcher appends a JSON line naming the limits a kernel hit (set by ``make grade``'s workers)
REPORT_ENV = "COURSE_SANDBOX_REPORT"
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
            "`python -m course_tools.sandbox check`. Only for trusted notebooks (your own solutions), "
            f"set {ALLOW_ENV}=1 to grade without the sandbox."
        )


def unsandboxed_allowed(environ=None):
    """True when the instructor explicitly allowed grading without the sandbox."""
    environ = os.environ if environ is None else environ
    return environ.get(ALLOW_ENV, "").strip().lower() in ("1", "true", "yes")


#: the course's packages a grading kernel imports: the student package (checks, data, ...) and this one (the
#: hidden tests' machinery)
COURSE_PACKAGES = ("course_utils", "course_tools")


def course_package_dirs():
    """The folders of the course's packages, when they live outside the Python prefixes (an editable
    install: the course folder), else [] (installed into the environment, as on the hub)."""
    import importlib.util

    prefixes = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix)}
    dirs = [str(Path(importlib.util.find_spec(name).origin).resolve().parent) for name in COURSE_PACKAGES]
    return [] if all(any(d.startswith(p + os.sep) for p in prefixes) for d in dirs) else dirs


def _course_pythonpath(package_dirs):
    """PYTHONPATH inside: the folders holding the course's packages (only the packages themselves are bound)."""
    return os.pathsep.join(dict.fromkeys(str(Path(d).parent) for d in package_dirs)) or None


def _limit_resources(limits):
    """Runs in the child before exec: resource limits inherited by everything in the sandbox."""

    def apply():
        mib = 1 << 20
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_mb * mib,) * 2)
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds,) * 2)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_mb * mib,) * 2)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def inner_command(workdir, connection_file, kernel_args):
    """The kernel's own command line: isolated Python, our start-up (inner.py), then ipykernel."""
    return [sys.executable, "-I", "-m", "course_tools.sandbox.inner", "--workdir", os.fspath(workdir),
            "-f", connection_file, *kernel_args]


def sandbox_command(bwrap, connection, workdir, private_dir, kernel_args, limits=None):
    """Write the sandbox's files into ``private_dir`` and return the bwrap command line."""
    limits = limits or policy.Limits()
    socket_dir = os.path.join(private_dir, "sockets")
    etc_dir = os.path.join(private_dir, "etc")
    os.makedirs(socket_dir)
    os.makedirs(etc_dir)
    for name, text in policy.etc_files().items():
        Path(etc_dir, name).write_text(text)
    inner = dict(connection, transport="ipc", ip=f"{policy.SOCKET_DIR}/k")
    Path(socket_dir, "connection.json").write_text(json.dumps(inner))
    package_dirs = course_package_dirs()
    pythonpath = _course_pythonpath(package_dirs)
    ro_paths = policy.python_paths([sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix], package_dirs)
    path = os.pathsep.join([os.path.dirname(sys.executable), "/usr/local/bin", "/usr/bin", "/bin"])
    env = policy.clean_env(os.environ, path=path, pythonpath=pythonpath)
    command = inner_command(workdir, f"{policy.SOCKET_DIR}/connection.json", kernel_args)
    cmd = policy.bwrap_command(bwrap, workdir=workdir, socket_dir=socket_dir, etc_dir=etc_dir,
                               ro_paths=ro_paths, env=env, command=command, tmp_mb=limits.tmp_mb)
    return cmd, os.path.join(socket_dir, "k")


def folder_usage(path, max_entries):
    """(bytes on disk, files and folders) under ``path``, links not followed; stops counting past ``max_entries``."""
    used, entries, stack = 0, 0, [path]
    while stack and entries <= max_entries:
        try:
            with os.scandir(stack.pop()) as it:
                for entry in it:
                    entries += 1
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    used += st.st_blocks * 512
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
        except OSError:
            pass
    return used, entries


class DiskWatch:
    """What the kernel added to the folders it can write on the host's disk, against ``Limits.disk_*``."""

    def __init__(self, folders, limits):
        self.folders, self.limits = list(folders), limits
        self.base = [folder_usage(f, 10 * limits.disk_files) for f in self.folders]

    def exceeded(self):
        """None, or what went past the limit ("... MiB added" / "... files added")."""
        max_bytes, max_files = self.limits.disk_mb << 20, self.limits.disk_files
        added_bytes = added_files = 0
        for folder, (b0, n0) in zip(self.folders, self.base):
            b, n = folder_usage(folder, n0 + max_files)
            added_bytes, added_files = added_bytes + b - b0, added_files + n - n0
        if added_bytes > max_bytes:
            return f"{added_bytes / (1 << 20):.0f} MiB added to its folder (limit {self.limits.disk_mb} MiB)"
        if added_files > max_files:
            return f"more than {max_files} files added to its folder"
        return None


#: how often the launcher looks at the kernel's folder and its /tmp (seconds)
DISK_POLL_S = 0.2


def tmp_full(bwrap_pid):
    """True when the private /tmp of the sandbox that ``bwrap_pid`` started has less than 1 MiB left."""
    try:
        with open(f"/proc/{bwrap_pid}/task/{bwrap_pid}/children") as fh:
            inside = fh.read().split()
        st = os.statvfs(f"/proc/{inside[0]}/root/tmp")
    except (OSError, IndexError):
        return False
    return st.f_bavail * st.f_frsize < (1 << 20)


def _report(limits_hit, details):
    """Tell the instructor (stderr) and the grader (``$COURSE_SANDBOX_REPORT``, one JSON line) what was hit."""
    for name in limits_hit:
        print(f"course_tools.sandbox: limit: {name}: {details.get(name, '')}".rstrip(": "),
              file=sys.stderr, flush=True)
    path = os.environ.get(REPORT_ENV)
    if path and limits_hit:
        with open(path, "a") as fh:
            fh.write(json.dumps({"limits": limits_hit, "details": details}) + "\n")


async def _run(cmd, connection, socket_prefix, limits, watched):
    servers = await start_relays(connection, socket_prefix)
    try:
        group = cgroups.make_group(limits)
    except cgroups.CgroupUnavailable as e:
        group = None
        print(f"course_tools.sandbox: WARNING: no whole-kernel limits on this kernel ({e}); "
              "per-process limits only.", file=sys.stderr, flush=True)
    env = {}
    if group is not None:
        cmd, env = group.wrap(cmd), group.env
    disk = DiskWatch(watched, limits)
    rlimits = _limit_resources(limits)

    def preexec():
        rlimits()
        if group is not None:
            group.join()

    # bwrap itself gets an (almost) empty environment: its own /proc/PID/environ is readable from inside.
    # Its own session: a SIGINT sent to the launcher's process group must not kill bwrap (and the kernel).
    proc = await asyncio.create_subprocess_exec(
        *cmd, stdin=subprocess.DEVNULL, env=env, preexec_fn=preexec, start_new_session=True
    )
    loop = asyncio.get_running_loop()
    # Interrupts reach the kernel as control messages (the kernelspec's interrupt_mode is "message").
    loop.add_signal_handler(signal.SIGINT, lambda: None)
    loop.add_signal_handler(signal.SIGTERM, proc.terminate)
    hit, details = [], {}
    deadline = loop.time() + limits.wall_seconds
    try:
        while True:
            try:
                code = await asyncio.wait_for(proc.wait(), timeout=DISK_POLL_S)
                break
            except TimeoutError:
                pass
            if group is not None:
                group.found(proc.pid)
            if "tmp" not in hit and tmp_full(proc.pid):
                hit.append("tmp")  # the student's writes fail with "No space left on device"; the kernel goes on
                details["tmp"] = f"its private /tmp is full ({limits.tmp_mb} MiB)"
            problem = await asyncio.to_thread(disk.exceeded)
            if problem or loop.time() > deadline:
                name = "disk" if problem else "time"
                hit.append(name)
                details[name] = problem or f"the kernel ran longer than {limits.wall_seconds} s; killed"
                proc.kill()
                code = await proc.wait()
                break
    finally:
        for server in servers:
            server.close()
        if group is not None:
            hit += [h for h in group.limits_hit() if h not in hit]
            group.remove()
        details.setdefault("processes", f"{limits.processes} processes and threads at once")
        details.setdefault("memory", f"{limits.total_memory_mb} MiB for all its processes together")
        _report(hit, {k: v for k, v in details.items() if k in hit})
    return code


def run_kernel(connection_file, kernel_args, limits, workdir=None):
    """Start the sandboxed kernel for ``connection_file`` and wait for it; returns its exit code."""
    workdir = os.path.realpath(workdir or os.getcwd())
    bwrap = find_bwrap()
    try:
        check_sandbox(bwrap)
    except SandboxUnavailable as e:
        if not unsandboxed_allowed():
            print(f"course_tools.sandbox: {e}", file=sys.stderr, flush=True)
            return EXIT_REFUSED
        print(f"course_tools.sandbox: WARNING: {ALLOW_ENV} is set: running this kernel WITHOUT the "
              "sandbox (student code has your rights).", file=sys.stderr, flush=True)
        keep = (*policy.ENV_PASSTHROUGH, "PATH", "HOME", "JPY_PARENT_PID")
        env = {k: v for k, v in os.environ.items() if k in keep}
        command = inner_command(workdir, connection_file, kernel_args)
        os.execve(command[0], command, env)
    reason = policy.unsafe_workdir_reason(workdir, os.environ.get("HOME"))
    if reason:
        print(f"course_tools.sandbox: refusing to start: {reason}; the sandbox gives the kernel its "
              "notebook's folder read-write, so grade from a folder that holds one submission.",
              file=sys.stderr, flush=True)
        return EXIT_REFUSED
    connection = json.loads(Path(connection_file).read_text())
    with tempfile.TemporaryDirectory(prefix="course-sandbox-") as private_dir:
        cmd, socket_prefix = sandbox_command(bwrap, connection, workdir, private_dir, kernel_args, limits)
        watched = [workdir, os.path.dirname(socket_prefix)]
        return asyncio.run(_run(cmd, connection, socket_prefix, limits, watched))


def add_limit_options(parser):
    """One ``--NAME`` option per field of ``policy.Limits`` (its default as the default)."""
    defaults = policy.Limits()
    for name in defaults.__dataclass_fields__:
        parser.add_argument(policy.option_name(name), dest=name, type=int, default=getattr(defaults, name))


def limits_from_args(args):
    return policy.Limits(**{name: getattr(args, name) for name in policy.Limits.__dataclass_fields__})


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m course_tools.sandbox kernel",
                                     description="Run an IPython kernel inside the grading sandbox.")
    parser.add_argument("-f", dest="connection_file", required=True, help="Jupyter connection file")
    add_limit_options(parser)
    args, kernel_args = parser.parse_known_args(argv)
    limits = limits_from_args(args)
    return run_kernel(args.connection_file, kernel_args, limits)
