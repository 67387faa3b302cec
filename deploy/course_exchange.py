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
        for folder, _dirs, files in os.walk(dest):
            os.chmod(folder, 0o770)
            for name in files:
                os.chmod(os.path.join(folder, name), 0o660)


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
