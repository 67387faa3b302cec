"""nbgrader exchange hardened for a shared server (installed into the hub's environment by hub_env.py).

nbgrader 0.9.6's default exchange leaves each submission world-writable and only *warns* when a submission
claims to be from a student who does not own it. With these classes (selected by the role configs in
deploy/jupyter/*/nbgrader_config.py):

- ``OwnedSubmit``: right after submitting, the student's submission folder becomes 0770 and its files 0660.
  The exchange's ``inbound`` folder is setgid to the instructors' group, so the submission's group is the
  instructors': the student and the instructors can read it, no other student can.
- ``OwnerCheckedCollect``: every entry of the inbound folder is checked *before* the newest submission of
  each student is chosen, so a bad entry never hides a genuine one: an entry whose folder or files are not
  owned by the student its name claims (``nbgrader submit --student someone-else``, a planted folder), whose
  name has no valid timestamp, that cannot be read, or that is dated in the future is skipped and reported
  (in the formgrader's collect log and the CLI's) and never stops anyone else's collect. A submission's
  time is checked against the kernel's change times (``ctime``, which nobody but root can set back) of its
  folder and files: one changed after it was made, or made by hand with an earlier name, is collected with
  the time of its last change, so lateness is right.

- ``NamedReleaseFeedback``: feedback on a notebook that ``make grade`` graded under the course's name
  (the student had renamed it) is also released under the name it was submitted with, which is the name
  the student's ``fetch_feedback`` looks for.

``python -m course_exchange skipped EXCHANGE_COURSE_FOLDER [--remove]`` lists the entries the instructor's
collect skips (and, run as root, removes them: they belong to students).
"""

import datetime
import fnmatch
import json
import os
import pwd
import shutil
import sys

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.exchange.default.collect import ExchangeCollect, groupby
from nbgrader.exchange.default.release_feedback import ExchangeReleaseFeedback
from nbgrader.exchange.default.submit import ExchangeSubmit
from nbgrader.utils import notebook_hash, parse_utc

from course_tools.grading.config import RENAMED_NOTEBOOKS

#: seconds between nbgrader writing a submission's timestamp and this exchange's last change to its files
SUBMIT_SLACK_S = 120


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


def foreign_paths(folder, student, strict=False):
    """Paths under ``folder`` (itself included) that ``student`` does not own, or that are links.

    strict: raise OSError when a folder inside cannot be read (instead of skipping it silently).
    """
    bad = [folder] if _owner(folder) != student or os.path.islink(folder) else []
    for root, dirs, files in os.walk(folder, onerror=_raise if strict else None):
        for name in dirs + files:
            path = os.path.join(root, name)
            if _owner(path) != student or os.path.islink(path):
                bad.append(path)
    return bad


def last_change(folder):
    """The latest change time (ctime, UTC) of ``folder`` and everything in it."""
    latest = os.lstat(folder).st_ctime
    for root, dirs, files in os.walk(folder, onerror=_raise):
        for name in dirs + files:
            latest = max(latest, os.lstat(os.path.join(root, name)).st_ctime)
    return datetime.datetime.fromtimestamp(latest, datetime.UTC)


def _raise(error):
    raise error


def check_entry(inbound, name, now=None):
    """(record, None) for a genuine submission folder ``name`` in ``inbound``, or (None, why it is skipped).

    The record is nbgrader's (username, filename, timestamp), with the timestamp moved to the folder's
    last change when that is later than its name says (and ``changed`` set).
    """
    now = now or datetime.datetime.now(datetime.UTC)
    parts = name.rsplit("+", 3)
    if len(parts) < 3:
        return None, "its name is not STUDENT+ASSIGNMENT+TIMESTAMP"
    username = parts[0]
    try:
        claimed = parse_utc(parts[2])
    except (ValueError, OverflowError, TypeError) as e:
        return None, f"its name has no valid timestamp ({type(e).__name__})"
    if claimed.tzinfo is None:
        claimed = claimed.replace(tzinfo=datetime.UTC)
    path = os.path.join(inbound, name)
    try:
        bad = foreign_paths(path, username, strict=True)
        changed_at = last_change(path)
    except OSError as e:
        return None, f"it cannot be read ({e.strerror or e})"
    if bad:
        return None, f"it claims to be from {username} but {bad[0]} is not theirs"
    if claimed > now + datetime.timedelta(seconds=SUBMIT_SLACK_S):
        return None, f"it is dated in the future ({parts[2]})"
    record = {"username": username, "filename": name, "timestamp": claimed.replace(tzinfo=None)}
    if changed_at > claimed + datetime.timedelta(seconds=SUBMIT_SLACK_S):
        record.update(timestamp=changed_at.replace(tzinfo=None), changed=True, claimed=parts[2])
    return record, None


class OwnerCheckedCollect(ExchangeCollect):
    def init_src(self):
        if self.coursedir.course_id == "":
            self.fail("No course id specified. Re-run with --course flag.")
        self.course_path = os.path.join(self.root, self.coursedir.course_id)
        self.inbound_path = os.path.join(self.course_path, "inbound")
        if not os.path.isdir(self.inbound_path):
            self.fail(f"Course not found: {self.inbound_path}")
        student = self.coursedir.student_id or "*"  # a glob, as in nbgrader's own collect
        records = []
        for name in sorted(os.listdir(self.inbound_path)):
            parts = name.rsplit("+", 3)
            if len(parts) >= 2 and parts[1] != self.coursedir.assignment_id:
                continue
            if not fnmatch.fnmatchcase(parts[0], student):
                continue
            record, why = check_entry(self.inbound_path, name)
            if why:
                self.log.error("Refusing submission %s: %s (skipped; the others are collected)", name, why)
                continue
            if record.get("changed"):
                self.log.warning("Submission %s was changed after it was made: collected with the time of its "
                                 "last change, %s UTC", name, record["timestamp"])
            records.append(record)
        with Gradebook(self.coursedir.db_url, self.coursedir.course_id) as gb:
            try:
                self.duedate = gb.find_assignment(self.coursedir.assignment_id).duedate
            except MissingEntry:
                self.duedate = None
        self.src_records = []
        for recs in groupby(records, lambda r: r["username"]).values():
            recs = self._sort_by_timestamp(recs)
            on_time = [r for r in recs if self.duedate is not None and r["timestamp"] <= self.duedate]
            use_on_time = self.duedate is not None and self.before_duedate and on_time
            self.src_records.append(on_time[0] if use_on_time else recs[0])

    def do_copy(self, src, dest):
        super().do_copy(src, dest)
        rec = next((r for r in self.src_records if os.path.join(self.inbound_path, r["filename"]) == src), None)
        if rec is not None and rec.get("changed"):  # the collected copy carries the true time
            with open(os.path.join(dest, "timestamp.txt"), "w") as fh:
                fh.write(rec["timestamp"].strftime("%Y-%m-%d %H:%M:%S.%f") + " UTC")


class NamedReleaseFeedback(ExchangeReleaseFeedback):
    def copy_files(self):
        super().copy_files()
        excluded = set(filter(None, (self.coursedir.student_id_exclude or "").split(",")))
        feedback_root = os.path.join(self.coursedir.root, self.coursedir.feedback_directory)
        for student in sorted(os.listdir(feedback_root)):
            if student in excluded or not fnmatch.fnmatchcase(student, self.coursedir.student_id or "*"):
                continue
            submitted = self.coursedir.format_path(self.coursedir.submitted_directory, student,
                                                   self.coursedir.assignment_id)
            renamed = os.path.join(submitted, RENAMED_NOTEBOOKS)
            feedback = self.coursedir.format_path(self.coursedir.feedback_directory, student,
                                                  self.coursedir.assignment_id)
            if not os.path.isfile(renamed) or not os.path.isdir(feedback):
                continue
            with open(renamed, encoding="utf-8") as fh:
                names = json.load(fh)
            with open(os.path.join(feedback, "submission_secret.txt")) as fh:
                secret = fh.read()
            for course_name, submitted_name in names.items():
                html = os.path.join(feedback, f"{course_name}.html")
                if os.path.isfile(html):
                    dest = os.path.join(self.dest_path, notebook_hash(secret=secret, notebook_id=submitted_name))
                    shutil.copy(html, dest + "-tmp.html")
                    os.replace(dest + "-tmp.html", dest + ".html")
                    self.log.info("Released feedback for %s's %s also as %r (the name it was submitted under)",
                                  student, course_name, submitted_name)


def _skipped_by_owner(folder):
    """[(entry, why)] that the course folder's owner (the instructor whose collect runs) would skip.

    Run as root, the checks run with the owner's identity (so an entry the instructor cannot read is
    found), and root's own rights come back afterwards for removing them.
    """
    inbound = os.path.join(folder, "inbound")
    owner = os.stat(folder).st_uid
    as_owner = os.geteuid() == 0 and owner != 0
    saved = (os.getegid(), os.getgroups())
    if as_owner:
        user = pwd.getpwuid(owner)
        os.setegid(user.pw_gid)
        os.setgroups(os.getgrouplist(user.pw_name, user.pw_gid))
        os.seteuid(owner)
    try:
        return [(name, why) for name in sorted(os.listdir(inbound)) for _, why in [check_entry(inbound, name)] if why]
    finally:
        if as_owner:
            os.seteuid(0)
            os.setegid(saved[0])
            os.setgroups(saved[1])


def main(argv=None):
    """``skipped EXCHANGE_COURSE_FOLDER [--remove]``: the inbound entries collect skips (remove them as root)."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) < 2 or argv[0] != "skipped":
        print("usage: python -m course_exchange skipped EXCHANGE_COURSE_FOLDER [--remove]", file=sys.stderr)
        return 2
    for name, why in _skipped_by_owner(argv[1]):
        print(f"{name}: {why}")
        if "--remove" in argv:
            shutil.rmtree(os.path.join(argv[1], "inbound", name))
            print("  removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
