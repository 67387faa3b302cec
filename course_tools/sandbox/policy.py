"""What the grading sandbox lets a student's kernel see and do: the bubblewrap command line.

Pure functions (no side effects) so that the policy can be read, and tested, on its own.
The kernel sees:

- the system's programs and libraries (``/usr`` and Debian's ``/bin``, ``/lib`` links) read-only,
- the course's Python (the virtual environment and the Python it was made from) read-only,
- the ``course_utils`` package folder read-only (not the rest of the course folder),
- its own notebook folder read-write (the ``workdir``),
- a private, empty, size-limited ``/tmp`` and ``HOME=/tmp/home`` (where the kernel starts),
- a private folder for its sockets (``/run/kernel``),
- a fresh ``/proc`` of its own PID namespace and a minimal ``/dev``,

and nothing else: no home folders, no ``solutions/``, no gradebook, no other student's folder, no exchange.
Every namespace is unshared (user, mount, PID, network, IPC, UTS, cgroup), capabilities are dropped, new
user namespaces are disabled, the environment is cleared, and everything is killed when the kernel ends.
"""

import os
from dataclasses import dataclass
from pathlib import Path

#: Inside the sandbox: where the kernel's sockets and connection file live.
SOCKET_DIR = "/run/kernel"
#: Inside the sandbox: the kernel's home folder (on the private tmpfs).
SANDBOX_HOME = "/tmp/home"
#: Inside the sandbox: the user the kernel runs as (mapped to the grader's own uid outside).
SANDBOX_UID = 1000
SANDBOX_USER = "student"

#: Environment variables copied into the sandbox when set (nothing secret; everything else is dropped).
ENV_PASSTHROUGH = (
    "LANG",
    "LC_ALL",
    "TZ",
    "MPLBACKEND",
    "PYTHONHASHSEED",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
)

#: System files the kernel may read (the dynamic linker's cache, time zone, Debian's alternatives links,
#: the font configuration matplotlib's text rendering reads).
ETC_FILES = (
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/alternatives",
    "/etc/mime.types",
    "/etc/fonts",
)


@dataclass(frozen=True)
class Limits:
    """Resource limits for one grading kernel: per process (setrlimit, before bubblewrap starts) and for the
    kernel as a whole (its control group, ``cgroups.py``; its private ``/tmp``; its folder, watched by the
    launcher). Defaults: ``python -m course_tools.sandbox install --help``; cost: deploy/README.md.

    Per process:
    memory_mb: address space (RLIMIT_AS), in MiB.
    cpu_seconds: CPU time (RLIMIT_CPU), in seconds.
    file_mb: largest file the kernel may write (RLIMIT_FSIZE), in MiB.

    The whole kernel:
    wall_seconds: wall-clock time; the sandbox is killed after it.
    processes: processes and threads at once (cgroup ``pids.max``).
    total_memory_mb: memory of all its processes together, its ``/tmp`` files included (cgroup), in MiB.
    cpu_percent: CPU time it may use, in percent of one core (cgroup CPU quota).
    tmp_mb: size of its private, memory-backed ``/tmp`` (bubblewrap ``--size``), in MiB.
    disk_mb: bytes it may add to its notebook's folder (the only place on disk it can write), in MiB;
        past it, or past ``disk_files`` new files and folders, the kernel is killed.
    disk_files: files and folders it may add to its notebook's folder.
    """

    memory_mb: int = 4096
    cpu_seconds: int = 600
    wall_seconds: int = 900
    file_mb: int = 512
    processes: int = 256
    total_memory_mb: int = 4096
    cpu_percent: int = 100
    tmp_mb: int = 512
    disk_mb: int = 100
    disk_files: int = 10_000

    def __post_init__(self):
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"Limits.{name}: expected a positive int, got {value!r}")

    def as_args(self) -> list[str]:
        """``--memory-mb 4096 --cpu-seconds 600 ...``: the launcher's options for these limits."""
        return [a for name in self.__dataclass_fields__ for a in (option_name(name), str(getattr(self, name)))]


def option_name(field_name: str) -> str:
    """The launcher's option for a field of ``Limits``: ``total_memory_mb`` -> ``--total-memory-mb``."""
    return "--" + field_name.replace("_", "-")


def namespace_args():
    """Bubblewrap options that create the sandbox's namespaces and drop its privileges."""
    return [
        "--unshare-all",  # user, mount, PID, network (loopback only), IPC, UTS, cgroup
        "--unshare-user",
        "--uid", str(SANDBOX_UID),
        "--gid", str(SANDBOX_UID),
        "--disable-userns",  # student code cannot make namespaces of its own
        "--cap-drop", "ALL",
        "--die-with-parent",  # the launcher dies -> everything in the sandbox dies
        "--hostname", "grading-sandbox",
    ]


def python_paths(prefixes, package_dirs):
    """The folders the course's Python needs, deduplicated, without those already under ``/usr``.

    prefixes: ``sys.prefix``, ``sys.base_prefix``, ... (the venv and the Python it was made from).
    package_dirs: folders of packages imported from outside the prefixes (``course_utils`` in an
    editable install): only the package folder itself, never its parent (the course folder).
    """
    paths = []
    for p in [*prefixes, *package_dirs]:
        p = os.path.realpath(os.fspath(p))
        if p == "/usr" or p.startswith("/usr/"):
            continue
        if not any(p == q or p.startswith(q + os.sep) for q in paths):
            paths = [q for q in paths if not q.startswith(p + os.sep)] + [p]
    return sorted(paths)


def clean_env(environ, *, path, pythonpath=None):
    """The sandbox's whole environment: a fixed set plus the harmless variables of ENV_PASSTHROUGH.

    environ: the launcher's environment (only ENV_PASSTHROUGH is read from it).
    path: the PATH inside the sandbox.
    pythonpath: where ``course_utils`` is found, or None when it is inside the venv.
    """
    env = {
        "PATH": path,
        "HOME": SANDBOX_HOME,
        "USER": SANDBOX_USER,
        "LOGNAME": SANDBOX_USER,
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "COURSE_SANDBOX": "1",
        # ipykernel: 1 means "no parent to watch" (inside the PID namespace the parent is PID 1 anyway);
        # a real PID from outside would make the kernel exit at once.
        "JPY_PARENT_PID": "1",
    }
    env.update({k: environ[k] for k in ENV_PASSTHROUGH if k in environ})
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    return env


def bwrap_command(bwrap, *, workdir, socket_dir, etc_dir, ro_paths, env, command, tmp_mb=None):
    """The full bubblewrap command line that runs ``command`` in the sandbox.

    bwrap: path of the bwrap executable.
    workdir: the notebook's folder, bound read-write at the same path (the kernel changes into it itself,
        after its start-up: see inner.py; bubblewrap starts it in its empty home).
    socket_dir: a private folder outside, bound read-write at SOCKET_DIR (kernel sockets, connection file).
    etc_dir: a folder outside holding the sandbox's ``passwd`` and ``group`` files.
    ro_paths: folders bound read-only at the same path (see python_paths).
    env: the complete environment inside (see clean_env).
    command: the program and its arguments, as seen inside.
    tmp_mb: size of the private ``/tmp`` in MiB (None: bubblewrap's default, half the machine's memory).
    """
    workdir = os.path.realpath(os.fspath(workdir))
    args = [os.fspath(bwrap), *namespace_args(), "--clearenv"]
    for key, value in sorted(env.items()):
        args += ["--setenv", key, value]
    # The system: /usr read-only; /bin, /lib, ... as on the host (links on merged-/usr Debian).
    args += ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        host = Path("/", name)
        if host.is_symlink():
            args += ["--symlink", os.readlink(host), str(host)]
        elif host.is_dir():
            args += ["--ro-bind", str(host), str(host)]
    for f in ETC_FILES:
        args += ["--ro-bind-try", f, f]
    for name in ("passwd", "group"):
        args += ["--ro-bind", os.path.join(etc_dir, name), f"/etc/{name}"]
    args += ["--proc", "/proc", "--dev", "/dev"]
    if tmp_mb:
        args += ["--size", str(tmp_mb << 20)]  # applies to the --tmpfs that follows
    args += ["--tmpfs", "/tmp", "--dir", SANDBOX_HOME]
    # bwrap creates the folders leading to each mount point; under "/" they end up read-only (see the end),
    # but under the private /tmp they would be writable: give each such tree a tmpfs made read-only below.
    skeletons = sorted({_tmp_top(p) for p in [*ro_paths, workdir] if _tmp_top(p)})
    # Mount parents before children: a read-write workdir inside a read-only tree stays writable,
    # a read-only tree inside the workdir stays read-only.
    mounts = [(p, "--ro-bind") for p in ro_paths] + [(workdir, "--bind")] + [(p, "--tmpfs") for p in skeletons]
    for p, how in sorted(mounts, key=lambda m: (m[0].rstrip("/").count("/"), m[1] != "--tmpfs", m[1])):
        args += [how, p] if how == "--tmpfs" else [how, p, p]
    args += ["--bind", os.fspath(socket_dir), SOCKET_DIR]
    for p in ["/", *skeletons]:
        args += ["--remount-ro", p]
    args += ["--chdir", SANDBOX_HOME, "--", *command]
    return args


def _tmp_top(path):
    """``/tmp/X`` when ``path`` is ``/tmp/X/...`` (strictly below it), else None."""
    parts = os.path.realpath(os.fspath(path)).split(os.sep)
    return os.sep.join(parts[:3]) if len(parts) > 3 and parts[1] == "tmp" else None


def etc_files():
    """Contents of the sandbox's ``/etc/passwd`` and ``/etc/group`` (one user: SANDBOX_USER)."""
    uid = SANDBOX_UID
    return {
        "passwd": f"{SANDBOX_USER}:x:{uid}:{uid}:{SANDBOX_USER}:{SANDBOX_HOME}:/bin/sh\n",
        "group": f"{SANDBOX_USER}:x:{uid}:\n",
    }


def unsafe_workdir_reason(workdir, home):
    """Why ``workdir`` must not be handed to student code read-write, or None when it is fine.

    A grading kernel gets its notebook's folder read-write; refuse folders that hold more than one
    submission's files: the file system root, a home folder or its parents, a course folder.
    """
    workdir = os.path.realpath(os.fspath(workdir))
    if workdir == "/":
        return "the notebook's folder is the file system root"
    if home:
        home = os.path.realpath(home)
        if home == workdir or home.startswith(workdir.rstrip("/") + "/"):
            return f"the notebook's folder {workdir} is a home folder or contains one"
    for marker in ("nbgrader_config.py", "gradebook.db", "solutions"):
        if os.path.exists(os.path.join(workdir, marker)):
            return f"the notebook's folder {workdir} looks like a course folder (it has {marker})"
    return None
