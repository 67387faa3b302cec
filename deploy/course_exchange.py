"""nbgrader exchange hardened for a shared server (installed into the hub's environment by hub_env.py).

nbgrader 0.9.6's default exchange leaves each submission world-writable and only *warns* when a submission
claims to be from a student who does not own it. With these classes (selected by the role configs in
deploy/jupyter/*/nbgrader_config.py):

- ``OwnedSubmit``: right after submitting, the student's submission folder becomes 0770 and its files 0660.
  The exchange's ``inbound`` folder is setgid to the instructors' group, so the submission's group is the
  instructors': the student and the instructors can read it, no other student can.
- ``OwnerCheckedCollect``: the instructor collects only submissions whose folder *and* files are owned by
  the student named in the folder's name; anything else (``nbgrader submit --student someone-else``, a
  hand-made folder) is refused and logged, so nobody can replace another student's submission.
"""

import os
import pwd

from nbgrader.exchange.default.collect import ExchangeCollect
from nbgrader.exchange.default.submit import ExchangeSubmit


class OwnedSubmit(ExchangeSubmit):
    def copy_files(self):
        super().copy_files()
        dest = os.path.join(self.inbound_path, self.assignment_filename)
        staff_gid = os.stat(self.inbound_path).st_gid
        for folder, _dirs, files in os.walk(dest):
            os.chmod(folder, 0o770)
            for name in files:
                path = os.path.join(folder, name)
                if os.stat(path).st_gid != staff_gid:
                    _regroup(path, self.inbound_path)
                os.chmod(path, 0o660)


def _regroup(path, inbound):
    """Give ``path`` the staff group of ``inbound`` (setgid): rewrite it there and move it back.

    nbgrader writes timestamp.txt and submission_secret.txt after copytree has copied the folder's mode,
    which drops the folder's setgid bit, so they get the student's own group; a student cannot chgrp to
    a group they are not in, but a file created in the setgid inbound folder gets its group.
    """
    tmp = os.path.join(inbound, f".{os.path.basename(path)}.{os.getpid()}.{os.urandom(6).hex()}")
    with open(path, "rb") as src:
        data = src.read()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, path)


def _owner(path):
    try:
        return pwd.getpwuid(os.lstat(path).st_uid).pw_name
    except KeyError:
        return None


def foreign_paths(folder, student):
    """Paths under ``folder`` (itself included) that ``student`` does not own, or that are links."""
    bad = [folder] if _owner(folder) != student or os.path.islink(folder) else []
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = os.path.join(root, name)
            if _owner(path) != student or os.path.islink(path):
                bad.append(path)
    return bad


class OwnerCheckedCollect(ExchangeCollect):
    def init_src(self):
        super().init_src()
        kept = []
        for rec in self.src_records:
            path = os.path.join(self.inbound_path, rec["filename"])
            bad = foreign_paths(path, rec["username"])
            if bad:
                self.log.error("Refusing submission %s: it claims to be from %s but %s is not theirs",
                               rec["filename"], rec["username"], bad[0])
            else:
                kept.append(rec)
        self.src_records = kept
