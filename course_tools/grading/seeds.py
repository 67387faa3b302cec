"""Hidden-test seeds per student: the cases a student could harvest are theirs alone.

The instructor's source notebook writes a *base* seed in each hidden check
(``hidden_check("a1_conv2d_forward", conv2d_forward, seed=1301)``); the cases an item builds from a seed
are public (``course_utils.exercises``), so one seed for the whole class would let a student who saw the cases (printed
into their feedback in a later cell, shared by a classmate, or worked out from the seed) hard-code answers
for them. At autograding, ``PerStudentSeeds`` (an nbgrader preprocessor, so every autograde path uses it:
``make grade``, ``nbgrader autograde``, the formgrader's button) replaces each base seed by

    seed = HMAC-SHA256(course secret, "assignment/student/item/base seed"), first 4 bytes, as an int

and ``make grade`` re-derives the same seed when it judges the saved outputs again (``grade._recheck``).
The same preprocessor writes each ``hidden_check(...)`` call out as ``verify.FRESH_LOADER``: the hidden test
then loads a fresh copy of ``verify.py`` from the grader's files (a notebook that patched the imported module
changes nothing), and no source cell has to repeat those lines.
Every student is judged by the same item (same case generator, same number of cases, same tolerances) on
cases of their own; re-grading a student gives the same cases, so a grade can be re-checked and defended.

The course secret is 32 random bytes in ``hidden-seeds.key`` beside the gradebook (``grading/``), created on
first use, readable by the course's staff group only (mode 0660 under the hub's umask 007, 0640 under
022): the grading sandbox never sees that folder, and a student never sees the secret or another student's
seed (feedback carries no hidden-test source).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import unicodedata

from nbgrader import utils
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

#: a hidden check in a test cell: ``check("item", function, seed=1234)`` (groups: item, seed)
CHECK_CALL_RE = re.compile(r"""(check\(\s*["'](\w+)["']\s*,\s*\w+\s*,\s*seed\s*=\s*)(\d+)(\s*\))""")
#: a hidden test's one call, on a line of its own: ``hidden_check("item", function, seed=1234)``
#: (groups: indentation, item, function, seed)
HIDDEN_CALL_RE = re.compile(
    r"""^([ \t]*)hidden_check\(\s*["'](\w+)["']\s*,\s*(\w+)\s*,\s*seed\s*=\s*(\d+)\s*\)[ \t]*$""", re.M)
SECRET_NAME = "hidden-seeds.key"


def base_checks(source: str) -> list[tuple[str, int]]:
    """[(item, base seed), ...] of the hidden checks in a test cell's source."""
    return [(item, int(seed)) for _, item, seed, _ in CHECK_CALL_RE.findall(source)]


def with_fresh_loader(source: str) -> str:
    """``source`` with each ``hidden_check(item, fn, seed=...)`` line written out as ``verify.FRESH_LOADER``."""
    from .verify import FRESH_LOADER

    def loader(match):
        indent, item, fn, seed = match.groups()
        text = FRESH_LOADER.format(item=item, fn=fn, seed=seed)
        return "\n".join(indent + line for line in text.splitlines())

    return HIDDEN_CALL_RE.sub(loader, source)


def secret_file(db_url: str, configured: str = "") -> str:
    """Where the course secret lives: ``configured``, else beside an SQLite gradebook (``db_url``)."""
    if configured:
        return configured
    if not db_url.startswith("sqlite:///"):
        raise ValueError(f"PerStudentSeeds.secret_file is not set and the gradebook {db_url!r} is not an SQLite "
                         "file beside which the course secret could live: set it in nbgrader_config.py")
    return os.path.join(os.path.dirname(os.path.abspath(db_url[len("sqlite:///"):])), SECRET_NAME)


def course_secret(path: str) -> bytes:
    """The course secret at ``path``: created (32 random bytes, never world-readable) if it does not exist."""
    try:
        with open(path, "rb") as fh:
            secret = fh.read()
    except FileNotFoundError:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o660)
        except FileExistsError:  # another grader created it just now
            return course_secret(path)
        with os.fdopen(fd, "wb") as fh:
            fh.write(os.urandom(32))
        return course_secret(path)
    if len(secret) < 16:
        raise ValueError(f"{path}: the course secret is {len(secret)} bytes long, expected 32 (delete the file to "
                         "make a new one before anything is graded; afterwards every student's cases would change)")
    return secret


def student_seed(secret: bytes, assignment: str, student: str, item: str, base: int) -> int:
    """The seed of ``item``'s hidden cases for one student (see the module docstring); 0 <= seed < 2**32.

    >>> student_seed(b"k" * 32, "a1", "alice", "a1_conv2d_forward", 1301) == \\
    ...     student_seed(b"k" * 32, "a1", "alice", "a1_conv2d_forward", 1301)
    True
    >>> student_seed(b"k" * 32, "a1", "alice", "a1_conv2d_forward", 1301) != \\
    ...     student_seed(b"k" * 32, "a1", "bob", "a1_conv2d_forward", 1301)
    True
    """
    student = unicodedata.normalize("NFC", student)
    message = f"{assignment}/{student}/{item}/{base}".encode()
    return int.from_bytes(hmac.new(secret, message, hashlib.sha256).digest()[:4], "big")


class PerStudentSeeds(NbGraderPreprocessor):
    """Autograde preprocessor: each hidden check's base seed becomes the student's own, and each
    ``hidden_check`` call loads a fresh copy of ``verify.py`` (module docstring)."""

    secret_file = Unicode(
        "", help="the course secret's file (default: hidden-seeds.key beside an SQLite gradebook)"
    ).tag(config=True)

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        secret = course_secret(secret_file(info["db_url"], self.secret_file))

        def personal(match):
            seed = student_seed(secret, info["assignment"], info["student"], match.group(2), int(match.group(3)))
            return f"{match.group(1)}{seed}{match.group(4)}"

        for cell in nb.cells:
            if cell.cell_type == "code" and utils.is_grade(cell) and "BEGIN HIDDEN TESTS" in cell.source:
                cell.source = with_fresh_loader(CHECK_CALL_RE.sub(personal, cell.source))
        return nb, resources
