"""``python -m course_tools.grading.release [ASSIGNMENT ...]``: regenerate ``assignments/`` from ``solutions/``.

Runs nbgrader's ``generate_assignment`` (byte-deterministic) for every assignment folder in the source
directory (or the ones named), which also records the assignment, its cells and hidden tests in the
gradebook that ``make grade`` needs. Exits 1 if any assignment fails.
"""

from __future__ import annotations

import argparse
import os
import sys

from .config import course_root, load_config, make_api


def source_assignments(root: str, config=None) -> list[str]:
    """Assignment ids: folders of the source directory that hold at least one notebook."""
    config = config or load_config(root)
    source = os.path.join(root, config.CourseDirectory.get("source_directory", "source"))
    if not os.path.isdir(source):
        return []
    return sorted(
        name for name in os.listdir(source)
        if not name.startswith((".", "_")) and os.path.isdir(os.path.join(source, name))
        and any(f.endswith(".ipynb") for f in os.listdir(os.path.join(source, name)))
    )


def release(assignments=None, root: str | None = None, overrides=None, api=None) -> dict[str, dict]:
    """Generate the student version of each assignment; returns {assignment: nbgrader result dict}."""
    root = root or course_root()
    api = api or make_api(root, overrides)
    results = {}
    for aid in assignments or source_assignments(root, api.config):
        results[aid] = api.generate_assignment(aid, force=True, create=True)
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignments", nargs="*", help="assignment ids (default: all in solutions/)")
    args = parser.parse_args(argv)
    failed = 0
    for aid, result in release(args.assignments or None).items():
        if result["success"]:
            print(f"released {aid}")
        else:
            failed += 1
            print(f"FAILED {aid}:\n{result.get('error') or result.get('log')}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
