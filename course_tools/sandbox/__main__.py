"""Command line: ``python -m course_tools.sandbox {install,check,kernel} ...`` (see the package docstring)."""

import argparse
import json
import os
import sys
import tempfile

from . import kernel, kernelspec

PROBE = r"""
import json, os, socket
seen = {"uid": os.getuid(), "root": sorted(os.listdir("/")), "env": sorted(os.environ)}
for name, path in CANARIES.items():
    try:
        open(path).read()
        seen[name] = "VISIBLE"
    except OSError as e:
        seen[name] = type(e).__name__
try:
    socket.create_connection(("127.0.0.1", PORT), timeout=2).close()
    seen["network"] = "CONNECTED"
except OSError as e:
    seen["network"] = type(e).__name__
print(json.dumps(seen))
"""


def check(timeout=60):
    """Start one sandboxed kernel through Jupyter and print what it can see; returns an exit code."""
    import socket

    from jupyter_client.manager import KernelManager

    kernel.check_sandbox()
    if kernelspec.installed_spec() is None:
        print(f"the {kernelspec.KERNEL_NAME} kernelspec is not installed in {sys.prefix}: "
              "run `python -m course_tools.sandbox install`", file=sys.stderr)
        return 1
    listener = socket.create_server(("127.0.0.1", 0))
    outputs = []
    with tempfile.TemporaryDirectory() as tmp, tempfile.NamedTemporaryFile(
        dir=os.path.expanduser("~"), prefix=".course-sandbox-canary-"
    ) as home_canary, tempfile.NamedTemporaryFile(dir=os.getcwd(), prefix=".course-sandbox-canary-") as here:
        canaries = {"home": home_canary.name, "cwd": here.name}
        code = PROBE.replace("CANARIES", repr(canaries)).replace("PORT", str(listener.getsockname()[1]))
        workdir = os.path.join(tmp, "work")
        os.mkdir(workdir)
        km = KernelManager(kernel_name=kernelspec.KERNEL_NAME)
        km.start_kernel(cwd=workdir)
        try:
            kc = km.client()
            kc.start_channels()
            kc.wait_for_ready(timeout=timeout)
            kc.execute_interactive(code, timeout=timeout, output_hook=lambda m: outputs.append(m))
            kc.stop_channels()
        finally:
            km.shutdown_kernel(now=True)
            listener.close()
    text = "".join(m["content"].get("text", "") for m in outputs if m["msg_type"] == "stream")
    seen = json.loads(text.strip().splitlines()[-1])
    print(json.dumps(seen, indent=1))
    escaped = "VISIBLE" in (seen["home"], seen["cwd"]) or seen["network"] == "CONNECTED"
    print("sandbox: " + ("ESCAPED" if escaped else "OK (home and this folder hidden, no network)"))
    return 1 if escaped else 0


def _start_run_stop(km_factory, code, timeout=120):
    """Seconds to start a kernel, run ``code`` and shut it down (what grading one notebook adds)."""
    import time

    start = time.perf_counter()
    km = km_factory()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = os.path.join(tmp, "work")
        os.mkdir(workdir)
        km.start_kernel(cwd=workdir)
        try:
            kc = km.client()
            kc.start_channels()
            kc.wait_for_ready(timeout=timeout)
            reply = kc.execute_interactive(code, timeout=timeout, output_hook=lambda msg: None)
            kc.stop_channels()
        finally:
            km.shutdown_kernel(now=False)
    if reply["content"]["status"] != "ok":
        raise RuntimeError(f"benchmark code failed: {reply['content']}")
    return time.perf_counter() - start


def bench(rounds=5, code="import numpy as np; np.linalg.svd(np.ones((200, 200)))"):
    """Print the sandbox's overhead: kernel start + run + stop, sandboxed and plain, interleaved."""
    import statistics

    from jupyter_client.kernelspec import KernelSpec
    from jupyter_client.manager import KernelManager

    kernel.check_sandbox()

    def plain():
        km = KernelManager()
        km._kernel_spec = KernelSpec(argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                                     display_name="plain", language="python")
        return km

    def sandboxed():
        km = KernelManager()
        spec = kernelspec.kernel_json()
        km._kernel_spec = KernelSpec(argv=spec["argv"], display_name="sandbox", language="python")
        return km

    times = {"plain": [], "sandbox": []}
    for _ in range(rounds):
        times["plain"].append(_start_run_stop(plain, code))
        times["sandbox"].append(_start_run_stop(sandboxed, code))
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"kernel start + `{code}` + stop, median of {rounds} interleaved rounds:")
    print(f"  plain ipykernel : {med['plain']:.2f} s")
    print(f"  grading sandbox : {med['sandbox']:.2f} s")
    print(f"  ratio sandbox/plain: {med['sandbox'] / med['plain']:.2f}  "
          f"(overhead {med['sandbox'] - med['plain']:+.2f} s per notebook)")
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["kernel"]:
        return kernel.main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m course_tools.sandbox")
    sub = parser.add_subparsers(dest="command", required=True)
    inst = sub.add_parser("install", help="install the course-sandbox kernelspec into this environment")
    inst.add_argument("--prefix", default=sys.prefix, help="environment prefix (default: this one)")
    kernel.add_limit_options(inst)
    sub.add_parser("check", help="start one sandboxed kernel and show what it sees")
    b = sub.add_parser("bench", help="kernel start-run-stop time, sandboxed vs plain, side by side")
    b.add_argument("--rounds", type=int, default=5)
    sub.add_parser("kernel", help="(used by the kernelspec) run a kernel in the sandbox")
    args = parser.parse_args(argv)
    if args.command == "install":
        print(kernelspec.install(args.prefix, kernel.limits_from_args(args)))
        return 0
    try:
        return bench(args.rounds) if args.command == "bench" else check()
    except kernel.SandboxUnavailable as e:
        print(e, file=sys.stderr)
        return kernel.EXIT_REFUSED


if __name__ == "__main__":
    sys.exit(main())
