"""Limits on a grading kernel as a whole (all its processes together), through the OS's control groups.

Per-process limits (``setrlimit``) do not stop a submission that forks: a fork bomb, memory spread over
several children, files in a memory-backed ``/tmp``. Each sandboxed kernel therefore runs in a control
group of its own with

- ``pids.max`` = ``Limits.processes`` (processes *and* threads: a recursive fork bomb gets ``EAGAIN``),
- a memory limit = ``Limits.total_memory_mb`` over every process of the kernel, files in its private
  ``/tmp`` included (tmpfs pages are charged to the group that writes them), no swap beyond it,
- a CPU quota = ``Limits.cpu_percent`` of one core and half the default CPU weight, so that grading
  kernels yield to everything else on the machine when it is busy.

What the machine offers decides how (``detect``): ``systemd-run --scope`` where systemd runs the machine
(cgroup v2, the usual hub server; ``--user`` for an instructor who is not root), else the cgroup file
system itself (v2 at ``/sys/fs/cgroup``, or the v1 ``pids``/``memory``/``cpu`` hierarchies), the group
made below the launcher's own. Where none works (not root, no delegation), ``detect`` says why and the
kernel runs with per-process limits only (the launcher and ``make grade`` say so).

After the kernel ends, ``KernelGroup.limits_hit`` reads the group's event counters: which limits the
submission ran into (``"processes"``, ``"memory"``).
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import time
from dataclasses import dataclass, field

ROOT = "/sys/fs/cgroup"
V1_CONTROLLERS = ("pids", "memory", "cpu")
CPU_PERIOD_US = 100_000
_counter = itertools.count()


class CgroupUnavailable(RuntimeError):
    """No whole-kernel limit can be set on this machine (the message says why)."""


def _read(path: str) -> str:
    with open(path) as fh:
        return fh.read()


def _write(path: str, value) -> None:
    with open(path, "w") as fh:
        fh.write(str(value))


def _own_cgroups(proc_self="/proc/self/cgroup") -> dict[str, str]:
    """{controller (or "" for cgroup v2): path of this process's group} from /proc/self/cgroup."""
    found = {}
    for line in _read(proc_self).splitlines():
        _, controllers, path = line.split(":", 2)
        for c in controllers.split(",") if controllers else [""]:
            found[c] = path
    return found


def _events(path: str) -> dict[str, int]:
    """A flat-keyed cgroup file (``pids.events``, ``memory.events``, ``memory.oom_control``) as ints."""
    try:
        pairs = (line.split() for line in _read(path).splitlines())
        return {p[0]: int(p[1]) for p in pairs if len(p) == 2 and p[1].lstrip("-").isdigit()}
    except OSError:
        return {}


def _systemd_runs_machine() -> bool:
    try:
        return _read("/proc/1/comm").strip() == "systemd" and os.path.isdir("/run/systemd/system")
    except OSError:
        return False


@dataclass
class KernelGroup:
    """One kernel's control group: ``wrap`` its command, ``join`` in the child, read ``limits_hit``, ``remove``.

    backend: "systemd-run", "cgroup v2" or "cgroup v1".
    dirs: the group's folders in the cgroup file system (v1: one per controller; systemd-run: found from
    the kernel's pid once it runs).
    """

    backend: str
    limits: object
    name: str
    dirs: dict = field(default_factory=dict)
    prefix: list = field(default_factory=list)
    env: dict = field(default_factory=dict)  # what ``prefix`` needs in its environment (systemd-run --user)

    def wrap(self, command: list[str]) -> list[str]:
        """The command line that starts ``command`` in this group."""
        return [*self.prefix, *command]

    def join(self) -> None:
        """Move the calling process into the group (the launcher's child runs this just before exec)."""
        for d in self.dirs.values():
            _write(os.path.join(d, "cgroup.procs"), os.getpid())

    def found(self, pid: int) -> None:
        """systemd-run: learn the scope's folder from the kernel's pid (``/proc/PID/cgroup``)."""
        if self.backend == "systemd-run" and not self.dirs:
            try:
                self.dirs = {"": ROOT + _own_cgroups(f"/proc/{pid}/cgroup")[""]}
            except (OSError, KeyError):
                pass

    def limits_hit(self) -> list[str]:
        """Which whole-kernel limits the kernel ran into, from the group's event counters."""
        hit = []
        pids = self.dirs.get("pids", self.dirs.get(""))
        mem = self.dirs.get("memory", self.dirs.get(""))
        if pids and _events(os.path.join(pids, "pids.events")).get("max", 0) > 0:
            hit.append("processes")
        events = "memory.oom_control" if self.backend == "cgroup v1" else "memory.events"
        if mem and _events(os.path.join(mem, events)).get("oom_kill", 0) > 0:
            hit.append("memory")
        return hit

    def remove(self, wait_s: float = 5.0) -> None:
        """Kill what is left in the group and remove it (the sandbox's PID namespace usually emptied it)."""
        if self.backend == "systemd-run":
            return  # systemd removes a scope when its last process ends (--collect)
        deadline = time.monotonic() + wait_s
        for d in sorted(self.dirs.values(), key=len, reverse=True):
            while os.path.isdir(d):
                try:
                    os.rmdir(d)
                except OSError:
                    if time.monotonic() > deadline:
                        break
                    _kill_members(d)
                    time.sleep(0.05)


def _kill_members(d: str) -> None:
    try:
        if os.path.exists(os.path.join(d, "cgroup.kill")):
            _write(os.path.join(d, "cgroup.kill"), 1)
            return
        for pid in _read(os.path.join(d, "cgroup.procs")).split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    except OSError:
        pass


def _remove_stale(parent: str) -> None:
    """Remove empty groups left by launchers that were killed (``course-sandbox-PID-N``, PID no longer running)."""
    try:
        names = os.listdir(parent)
    except OSError:
        return
    for name in names:
        parts = name.split("-")
        if name.startswith("course-sandbox-") and len(parts) == 4 and parts[2].isdigit():
            if not os.path.exists(f"/proc/{parts[2]}"):
                try:
                    os.rmdir(os.path.join(parent, name))
                except OSError:
                    pass  # not empty (still in use) or not ours to remove


def _v1_settings(limits) -> dict[str, list[tuple[str, object]]]:
    mem = limits.total_memory_mb << 20
    return {
        "pids": [("pids.max", limits.processes)],
        # memsw (memory + swap) after the memory limit; it exists only where swap accounting is on
        "memory": [("memory.limit_in_bytes", mem), ("memory.memsw.limit_in_bytes?", mem)],
        "cpu": [("cpu.cfs_period_us", CPU_PERIOD_US), ("cpu.cfs_quota_us", limits.cpu_percent * CPU_PERIOD_US // 100),
                ("cpu.shares", 512)],
    }


def _v2_settings(limits) -> list[tuple[str, object]]:
    return [("pids.max", limits.processes), ("memory.max", limits.total_memory_mb << 20),
            ("memory.swap.max?", 0), ("cpu.max", f"{limits.cpu_percent * CPU_PERIOD_US // 100} {CPU_PERIOD_US}"),
            ("cpu.weight", 50)]


def _apply(folder: str, settings) -> None:
    for name, value in settings:
        optional = name.endswith("?")
        path = os.path.join(folder, name.rstrip("?"))
        if optional and not os.path.exists(path):
            continue
        _write(path, value)


def _make_v1(limits, name) -> KernelGroup:
    own = _own_cgroups()
    group = KernelGroup("cgroup v1", limits, name)
    try:
        for ctrl, settings in _v1_settings(limits).items():
            base = os.path.join(ROOT, ctrl)
            if ctrl not in own or not os.path.isdir(base):
                raise CgroupUnavailable(f"no cgroup v1 {ctrl} hierarchy at {base}")
            _remove_stale(base + own[ctrl])
            folder = os.path.join(base + own[ctrl], name)
            os.mkdir(folder)
            group.dirs[ctrl] = folder
            _apply(folder, settings)
    except OSError as e:
        group.remove(wait_s=0)
        raise CgroupUnavailable(f"cannot make a cgroup v1 group: {e}") from e
    except CgroupUnavailable:
        group.remove(wait_s=0)
        raise
    return group


def _make_v2(limits, name) -> KernelGroup:
    own = _own_cgroups().get("")
    if own is None or not os.path.exists(os.path.join(ROOT, "cgroup.controllers")):
        raise CgroupUnavailable(f"no cgroup v2 hierarchy at {ROOT}")
    missing = {"memory", "pids", "cpu"} - set(_read(os.path.join(ROOT, "cgroup.controllers")).split())
    if missing:
        raise CgroupUnavailable(f"cgroup v2 at {ROOT} lacks the {', '.join(sorted(missing))} controller(s)")
    # v2 allows controllers only in groups without processes of their own: a "course-sandbox" group at
    # the root (where this process is) holds the kernels' groups.
    if own != "/":
        raise CgroupUnavailable(f"this process is in cgroup {own}, not the root, and systemd does not run "
                                "the machine (no delegated group to make kernels' groups in)")
    parent = os.path.join(ROOT, "course-sandbox")
    try:
        os.makedirs(parent, exist_ok=True)
        for folder in (ROOT, parent):
            _write(os.path.join(folder, "cgroup.subtree_control"), "+memory +pids +cpu")
        _remove_stale(parent)
        folder = os.path.join(parent, name)
        os.mkdir(folder)
    except OSError as e:
        raise CgroupUnavailable(f"cannot make a cgroup v2 group under {parent}: {e}") from e
    group = KernelGroup("cgroup v2", limits, name, dirs={"": folder})
    try:
        _apply(folder, _v2_settings(limits))
    except OSError as e:
        group.remove(wait_s=0)
        raise CgroupUnavailable(f"cannot set limits in {folder}: {e}") from e
    return group


def _make_systemd(limits, name) -> KernelGroup:
    exe = shutil.which("systemd-run")
    if not exe:
        raise CgroupUnavailable("systemd runs the machine but systemd-run is not on PATH")
    user = ["--user"] if os.geteuid() != 0 else []
    props = [f"MemoryMax={limits.total_memory_mb}M", "MemorySwapMax=0", f"TasksMax={limits.processes}",
             f"CPUQuota={limits.cpu_percent}%", "CPUWeight=50"]
    prefix = [exe, *user, "--scope", "--quiet", "--collect", f"--unit={name}",
              *(a for p in props for a in ("-p", p)), "--"]
    # --user finds the user's systemd through these (nothing secret: the kernel may see them)
    env = {k: os.environ[k] for k in ("XDG_RUNTIME_DIR", "DBUS_SESSION_BUS_ADDRESS") if user and k in os.environ}
    return KernelGroup("systemd-run", limits, name, prefix=prefix, env=env)


def make_group(limits, name: str | None = None) -> KernelGroup:
    """A control group for one kernel with ``limits`` (a ``policy.Limits``). Raises CgroupUnavailable."""
    name = name or f"course-sandbox-{os.getpid()}-{next(_counter)}"
    if _systemd_runs_machine():
        return _make_systemd(limits, name)
    reasons = []
    for make in (_make_v2, _make_v1):
        try:
            return make(limits, name)
        except CgroupUnavailable as e:
            reasons.append(str(e))
    raise CgroupUnavailable("; ".join(reasons))


def detect(limits) -> str:
    """One line saying which whole-kernel limits this machine enforces (makes and removes a trial group)."""
    try:
        group = make_group(limits, name=f"course-sandbox-probe-{os.getpid()}")
    except CgroupUnavailable as e:
        return f"no whole-kernel limits ({e}): per-process limits only"
    if group.backend != "systemd-run":
        group.remove(wait_s=0)
    return (f"whole-kernel limits through {group.backend}: {limits.processes} processes, "
            f"{limits.total_memory_mb} MiB memory, {limits.cpu_percent}% of a core")
