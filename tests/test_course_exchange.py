"""The hub's exchange (deploy/course_exchange.py): which inbound entries collect takes, with what time.

Unit level, on a folder made here (the hub suite, tests/test_hub_e2e.py, drives the same code with real
accounts through the formgrader).
"""

from __future__ import annotations

import datetime
import importlib.util
import os
import pwd
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("course_exchange", ROOT / "deploy" / "course_exchange.py")
exchange = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(exchange)

ME = pwd.getpwuid(os.geteuid()).pw_name
FORMAT = "%Y-%m-%d %H:%M:%S.%f UTC"


def _entry(inbound, name, files=("a1.ipynb",)):
    folder = inbound / name
    folder.mkdir()
    for f in files:
        (folder / f).write_text("{}")
    return folder


def _stamp(delta_s=0):
    return (datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=delta_s)).strftime(FORMAT)


def test_a_genuine_submission_is_taken_with_its_time(tmp_path):
    stamp = _stamp()
    _entry(tmp_path, f"{ME}+a1+{stamp}")
    record, why = exchange.check_entry(str(tmp_path), f"{ME}+a1+{stamp}")
    assert why is None and record["username"] == ME and not record.get("changed")


@pytest.mark.parametrize("name, reason", [
    (f"{ME}+a1+not-a-timestamp", "no valid timestamp"),
    (f"{ME}+a1+2026-13-45 99:00:00.000000 UTC", "no valid timestamp"),
    ("no-plus-signs", "is not STUDENT+ASSIGNMENT+TIMESTAMP"),
    (f"{ME}+a1+2099-01-01 00:00:00.000000 UTC", "dated in the future"),
])
def test_malformed_or_future_entries_are_skipped_with_a_reason(tmp_path, name, reason):
    _entry(tmp_path, name)
    record, why = exchange.check_entry(str(tmp_path), name)
    assert record is None and reason in why


def test_a_submission_backdated_by_hand_gets_the_time_of_its_last_change(tmp_path):
    # a folder made now, named (and timestamp.txt written) as if an hour ago
    name = f"{ME}+a1+{_stamp(-3600)}"
    _entry(tmp_path, name, files=("a1.ipynb", "timestamp.txt"))
    record, why = exchange.check_entry(str(tmp_path), name)
    assert why is None and record["changed"]
    age = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) - record["timestamp"]
    assert abs(age.total_seconds()) < 60, record


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_an_entry_not_owned_by_the_student_it_names_is_skipped(tmp_path):
    name = f"{ME}+a1+{_stamp()}"
    folder = _entry(tmp_path, name)
    os.chown(folder / "a1.ipynb", 65534, 65534)  # nobody
    record, why = exchange.check_entry(str(tmp_path), name)
    assert record is None and "is not theirs" in why
