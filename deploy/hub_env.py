"""Build (or reuse) the environment a JupyterHub's users run: ``python deploy/hub_env.py [--prefix /opt/course-hub]``.

Every user's server and kernel runs the course's Python as that user, so the environment must be readable and
executable by everyone. The project's own ``.venv`` is made from a Python that may live in a private home
(``/root/.pyenv`` here, mode 0700), so the hub gets its own environment in ``PREFIX/venv``, built from the system's
Python (Debian ``/usr/bin/python3.11``, package ``python3-venv``) and installed from the top-level pins of the
instructor's group (``requirements/instructor.in``, which includes the student's). Not from
``requirements/instructor.lock``: the lock is resolved for the project's Python 3.11.7, and some of its pins need
Python >= 3.11.5, which Debian 12's 3.11.2 is not; pip resolves the dependencies below the pins for this Python.
The course's packages (``course_utils``, ``course_tools``) are copied into it (no link to the instructor's
checkout) with the hardened exchange (``course_exchange.py``), the per-role Jupyter configuration goes to
``PREFIX/etc/{instructor,student}``, the grading sandbox's kernelspec is installed, and configurable-http-proxy
goes into ``PREFIX/node_modules`` from the npm registry (``deploy/package.json`` pins it).

The environment is rebuilt only when ``requirements/*.in``, ``deploy/package.json`` or the Python change
(a stamp file records their hash); the course's packages and the kernelspec are refreshed on every run (seconds).
Prints the prefix. Needs no root (but the prefix must be writable); ``make hub`` and tests/test_hub_e2e.py
call it.
"""

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PREFIX = "/opt/course-hub"
SYSTEM_PYTHON = "/usr/bin/python3.11"
#: What users' servers and kernels need: the instructor's group (a student's lab, nbgrader's exchange and
#: formgrader, jupyterhub-singleuser), not the developer's tools.
USER_REQUIREMENTS = ROOT / "requirements" / "instructor.in"


def _stamp(python):
    h = hashlib.sha256()
    for path in (*sorted((ROOT / "requirements").glob("*.in")), ROOT / "deploy" / "package.json"):
        h.update(path.read_bytes())
    h.update(subprocess.run([python, "-VV"], capture_output=True, text=True, check=True).stdout.encode())
    return h.hexdigest()


def _run(cmd, **kw):
    print("+", " ".join(map(str, cmd)), file=sys.stderr, flush=True)
    subprocess.run(list(map(str, cmd)), check=True, **kw)


def build(prefix=DEFAULT_PREFIX, python=SYSTEM_PYTHON, force=False):
    """Create or refresh the hub environment under ``prefix``; returns ``Path(prefix)``."""
    prefix = Path(prefix)
    if not os.path.isfile(python):
        raise FileNotFoundError(f"python: {python} does not exist (install Debian's python3.11 and python3-venv)")
    os.umask(0o022)  # everything readable by every user
    venv = prefix / "venv"
    stamp_file = prefix / ".stamp"
    stamp = _stamp(python)
    if force or not stamp_file.exists() or stamp_file.read_text() != stamp:
        shutil.rmtree(prefix, ignore_errors=True)
        prefix.mkdir(parents=True)
        _run([python, "-m", "venv", venv])
        pip = [venv / "bin" / "python", "-m", "pip", "install", "-qq", "--disable-pip-version-check"]
        _run([*pip, "-r", USER_REQUIREMENTS])
        shutil.copy(ROOT / "deploy" / "package.json", prefix / "package.json")
        _run(["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", prefix], cwd=prefix)
        stamp_file.write_text(stamp)
    purelib = "import sysconfig; print(sysconfig.get_path('purelib'))"
    site = Path(subprocess.run([venv / "bin" / "python", "-c", purelib],
                               capture_output=True, text=True, check=True).stdout.strip())
    for package in ("course_utils", "course_tools"):  # the student package and the instructor's tools
        shutil.rmtree(site / package, ignore_errors=True)
        shutil.copytree(ROOT / package, site / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(ROOT / "deploy" / "course_exchange.py", site / "course_exchange.py")
    shutil.rmtree(prefix / "etc", ignore_errors=True)
    shutil.copytree(ROOT / "deploy" / "jupyter", prefix / "etc", ignore=shutil.ignore_patterns("__pycache__"))
    settings = venv / "share" / "jupyter" / "lab" / "settings"  # JupyterLab's settings for everyone (saved widgets)
    settings.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "deploy" / "lab" / "overrides.json", settings / "overrides.json")
    _run([venv / "bin" / "python", "-m", "course_tools.sandbox", "install"])
    os.chmod(prefix, 0o755)
    return prefix


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefix", default=os.environ.get("COURSE_HUB_PREFIX", DEFAULT_PREFIX))
    parser.add_argument("--python", default=SYSTEM_PYTHON)
    parser.add_argument("--force", action="store_true", help="rebuild even when the stamp matches")
    args = parser.parse_args(argv)
    print(build(args.prefix, args.python, args.force))
    return 0


if __name__ == "__main__":
    sys.exit(main())
