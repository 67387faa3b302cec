"""The instructor's hand grades and comments survive every re-grading.

``make grade`` grades each submission afresh (nbgrader would otherwise keep stale scores when a run fails),
which deletes the submission from the gradebook, and with it what the instructor entered in the formgrader:
each ``Grade``'s ``manual_score`` / ``extra_credit`` and each ``Comment``'s ``manual_comment``. So before a
submission is removed, ``save`` writes that hand work to ``grading/handwork/<student>/<assignment>.json``
(kept: a failed grading, which leaves no grades, loses nothing either), together with the text of the
answers it was given for; after autograding, ``restore`` puts it back. A hand grade whose answer changed
since (a re-submission) is kept but flagged: ``needs_manual_grade`` is set again, and the returned messages
say which item to review.
"""

from __future__ import annotations

import hashlib
import json
import os

from nbgrader.api import MissingEntry


def _path(root: str, student: str, aid: str) -> str:
    return os.path.join(root, "grading", "handwork", student, f"{aid}.json")


def _answers(notebooks: dict[str, list[dict]]) -> dict[str, dict[str, str]]:
    """{notebook: {grade id: sha256 of the answer it grades}} from an autograded folder's notebooks
    (``config.read_notebooks``).

    A written answer (a graded solution cell) is its own answer; a test cell grades every code solution
    cell of its notebook together.
    """
    found = {}
    for name, cells in notebooks.items():
        meta = [(c, c.get("metadata", {}).get("nbgrader", {})) for c in cells]
        source = lambda c: "".join(c.get("source", ""))  # noqa: E731
        all_solutions = "\n".join(source(c) for c, m in meta if m.get("solution") and c.get("cell_type") == "code")
        digests = {}
        for cell, m in meta:
            if m.get("grade"):
                text = source(cell) if m.get("solution") else all_solutions
                digests[m["grade_id"]] = hashlib.sha256(text.encode()).hexdigest()
        found[name] = digests
    return found


def save(gb, root: str, student: str, aid: str, notebooks: dict[str, list[dict]]) -> None:
    """Record the submission's hand grades and comments before it is graded again; ``notebooks``: its
    autograded notebooks as they were graded by hand (``config.read_notebooks``)."""
    try:
        submission = gb.find_submission(aid, student)
    except MissingEntry:
        return
    answers = _answers(notebooks)
    work = {"grades": [], "comments": []}
    for nb in submission.notebooks:
        for g in nb.grades:
            if g.manual_score is not None or g.extra_credit:
                work["grades"].append({"notebook": nb.name, "name": g.name, "manual_score": g.manual_score,
                                       "extra_credit": g.extra_credit,
                                       "answer": answers.get(nb.name, {}).get(g.name)})
        for c in nb.comments:
            if c.manual_comment:
                work["comments"].append({"notebook": nb.name, "name": c.name, "manual_comment": c.manual_comment})
    # (a submission missing from the gradebook, after a failed grading, leaves an earlier record as it is)
    path = _path(root, student, aid)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(work, fh, indent=1, ensure_ascii=False)
    os.replace(tmp, path)


def restore(gb, root: str, student: str, aid: str, notebooks: dict[str, list[dict]]) -> list[str]:
    """Put the recorded hand work back into the freshly autograded submission (``notebooks``: its autograded
    notebooks, ``config.read_notebooks``); returns messages."""
    path = _path(root, student, aid)
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as fh:
        work = json.load(fh)
    answers = _answers(notebooks)
    messages, kept = [], 0
    for g in work["grades"]:
        try:
            grade = gb.find_grade(g["name"], g["notebook"], aid, student)
        except MissingEntry:
            messages.append(f"{g['name']}: hand grade {g['manual_score']} kept in {path} (the item is gone)")
            continue
        grade.manual_score, grade.extra_credit = g["manual_score"], g["extra_credit"]
        changed = g["answer"] is not None and answers.get(g["notebook"], {}).get(g["name"]) != g["answer"]
        grade.needs_manual_grade = changed
        kept += 1
        if changed:
            messages.append(f"{g['name']}: the answer changed since it was graded by hand "
                            f"(hand grade {g['manual_score']} kept; review it in the formgrader)")
    for c in work["comments"]:
        try:
            gb.find_comment(c["name"], c["notebook"], aid, student).manual_comment = c["manual_comment"]
            kept += 1
        except MissingEntry:
            messages.append(f"{c['name']}: hand comment kept in {path} (the cell is gone)")
    gb.db.commit()
    if kept:
        messages.append(f"kept {kept} hand grade(s)/comment(s)")
    return messages
