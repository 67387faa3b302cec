"""The class report (``course_tools/grading/report.py``): its numbers are the CSV's, it is one offline file,
and it renders in a real browser.

The CSV is written by ``grade.write_csv`` itself (the format ``make grade`` writes: three assignments in one
file, failures, statuses, hand grading pending), then given ``<item> mistake`` columns as the diagnoses add.
"""

from __future__ import annotations

import csv
import re
import statistics
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest

from course_tools.grading.grade import NEEDS_HAND_GRADING, Outcome, write_csv
from course_tools.grading.report import (
    MISTAKE_SUFFIX,
    histogram_counts,
    main,
    max_points_from_sources,
    message_parts,
    write_report,
)

from suite_helpers import REPO

POINTS = {  # as in solutions/<aid>/<aid>.ipynb (test_max_points_come_from_the_source_notebooks)
    "a1": {"a1_fc_params": 1, "a1_lc_params": 1, "a1_conv_params": 1, "a1_conv_output_size": 2,
           "a1_conv2d_forward": 6, "a1_filterbank_design": 2, "a1_apply_filterbank": 2, "a1_written": 3},
    "a2": {"a2_tied_weight_gradient": 1, "a2_conv2d_backward": 6, "a2_maxpool2d_forward": 2,
           "a2_maxpool2d_backward": 3, "a2_avgpool2d_forward": 1, "a2_avgpool2d_backward": 2,
           "a2_receptive_field": 3, "a2_written": 3},
    "a3": {"a3_accuracy": 2, "a3_train": 6, "a3_fgsm": 3, "a3_written": 3},
}
MAX_POINTS = {item: float(p) for items in POINTS.values() for item, p in items.items()}
WEIRD = "o'neil <b>&co</b>"  # a student id the page must escape
CALLED = ("a1_fc_params lost its points: AssertionError: a1_fc_params: your code called the course's "
          "implementation course_utils.counting.fc_params; this exercise asks you to write it yourself "
          "(0 points for this item)")

# (student, assignment) -> (status, {item: score or None (hand grading pending)}; items not named: full points,
# message parts, {item: mistake id})
SUBMISSIONS = {
    ("ada", "a1"): ("ok", {"a1_written": 2.5}, [], {}),
    ("ada", "a2"): ("ok", {"a2_written": None}, [NEEDS_HAND_GRADING], {}),
    ("ada", "a3"): ("ok", {"a3_written": 3}, [], {}),
    ("ben", "a1"): ("ok", {"a1_conv2d_forward": 0, "a1_written": 1},
                    ["a1_conv2d_forward lost its points: AssertionError: case 3: values differ"],
                    {"a1_conv2d_forward": "flipped_kernel"}),
    ("ben", "a2"): ("ok", {"a2_conv2d_backward": 0, "a2_maxpool2d_backward": 0, "a2_written": 2},
                    ["a2_conv2d_backward lost its points: AssertionError: dw differs",
                     "a2_maxpool2d_backward lost its points: AssertionError: ties"],
                    {"a2_conv2d_backward": "dw_not_flipped", "a2_maxpool2d_backward": "ties_share_gradient"}),
    ("ben", "a3"): ("timeout", {k: 0 for k in POINTS["a3"]}, ["stopped after the 300 s limit for a whole notebook"],
                    {}),
    ("cleo", "a1"): ("ok", {"a1_fc_params": 0, "a1_conv2d_forward": 0, "a1_written": None}, [CALLED,
                     "a1_conv2d_forward lost its points: AssertionError: case 0: shape (2, 3, 5, 5) != (2, 3, 4, 4)",
                     NEEDS_HAND_GRADING], {"a1_conv2d_forward": "no_padding"}),
    ("cleo", "a2"): ("kernel died", {"a2_receptive_field": 0, "a2_written": 0},
                     ["the kernel died in a2.ipynb, cell 31 (the submission's code ended it): the cells from there "
                      "on were not run", "a2_receptive_field lost its points: KernelDied: the kernel died"], {}),
    ("dev", "a1"): ("ok", {"a1_conv_output_size": 0, "a1_conv2d_forward": 0, "a1_written": 3},
                    ["a1_conv_output_size lost its points: AssertionError: rounds up",
                     "a1_conv2d_forward lost its points: AssertionError: case 1: values differ"],
                    {"a1_conv_output_size": "ceil_instead_of_floor", "a1_conv2d_forward": "flipped_kernel"}),
    ("dev", "a3"): ("limit: memory", {"a3_train": 0, "a3_fgsm": 0, "a3_written": None},
                    ["sandbox limit hit: memory (peak 2.0 GiB of 2.0 GiB)", NEEDS_HAND_GRADING],
                    {"a3_fgsm": "sign_missing"}),
    ("eve", "a1"): ("no notebook", {k: 0 for k in POINTS["a1"]},
                    ["expected a1.ipynb; found no notebook: not graded"], {}),
    ("eve", "a2"): ("ok", {"a2_avgpool2d_backward": 1, "a2_written": 3},
                    ["a2_avgpool2d_backward lost its points: no error output (partial credit)"], {}),
    ("fay", "a1"): ("ok", {"a1_conv2d_forward": 0, "a1_apply_filterbank": 0, "a1_written": 2},
                    ["a1_conv2d_forward lost its points: AssertionError: case 2: values differ",
                     "a1_apply_filterbank lost its points: AssertionError: one map per filter"],
                    {"a1_conv2d_forward": "flipped_kernel", "a1_apply_filterbank": "filters_summed"}),
    ("fay", "a3"): ("ok", {"a3_accuracy": 0, "a3_written": 2},
                    ["a3_accuracy lost its points: AssertionError: counts instead of a fraction"],
                    {"a3_accuracy": "sum_not_mean"}),
    (WEIRD, "a1"): ("ok", {"a1_written": 3}, ["notebook renamed by the student: graded a1-Copy1.ipynb as a1.ipynb"],
                    {}),
    (WEIRD, "a2"): ("error", {k: 0 for k in POINTS["a2"]},
                    ["autograding failed, score 0: a cell could not be interrupted, or nbgrader failed"], {}),
}


def make_class_csv(path: Path, mistakes: bool = True) -> Path:
    """The class CSV as ``make grade`` writes it, one run per assignment (rows merge into one file)."""
    for aid in POINTS:
        outcomes = []
        for (student, a), (status, scores, messages, _) in SUBMISSIONS.items():
            if a != aid:
                continue
            o = Outcome(student, aid, status=status, messages=list(messages),
                        max_scores={k: float(v) for k, v in POINTS[aid].items()})
            o.scores = {k: (None if scores.get(k, v) is None else float(scores.get(k, v)))
                        for k, v in POINTS[aid].items()}
            outcomes.append(o)
        write_csv(outcomes, str(path))
    if mistakes:  # the diagnoses' columns, one per item that has any
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            fields, rows = list(reader.fieldnames), list(reader)
        named = sorted({item for *_, found in SUBMISSIONS.values() for item in found})
        extra = [f"{item}{MISTAKE_SUFFIX}" for item in named if f"{item}{MISTAKE_SUFFIX}" not in fields]
        for row in rows:
            found = SUBMISSIONS[row["student"], row["assignment"]][3]
            for item in named:
                row[f"{item}{MISTAKE_SUFFIX}"] = found.get(item, "")
        at = fields.index("total")
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fields[:at] + extra + fields[at:])
            writer.writeheader()
            writer.writerows(rows)
    return path


class Tables(HTMLParser):
    """Every <table id=...>'s rows: [(the row's attributes, [cell texts])]; every <img>'s attributes."""

    def __init__(self):
        super().__init__()
        self.tables, self.images, self._table, self._row, self._cell = {}, [], None, None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self._table = self.tables.setdefault(attrs.get("id", ""), [])
        elif tag == "tr" and self._table is not None:
            self._row = (attrs, [])
            self._table.append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "img":
            self.images.append(attrs)

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row[1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table":
            self._table = self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _fmt(x: float) -> str:
    text = f"{x:.2f}".rstrip("0").rstrip(".")
    return text


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    scores = make_class_csv(folder / "scores.csv")
    out = write_report(scores, folder / "report.html", MAX_POINTS)
    page = out.read_text(encoding="utf-8")
    parsed = Tables()
    parsed.feed(page)
    with open(scores, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return out, page, parsed, rows


def test_the_csv_is_the_one_make_grade_writes(report):
    _, _, _, rows = report
    assert {(r["student"], r["assignment"]) for r in rows} == set(SUBMISSIONS)
    assert {r["a1_written"] for r in rows if r["assignment"] == "a2"} == {""}, "other assignments' items are empty"
    row = next(r for r in rows if (r["student"], r["assignment"]) == ("cleo", "a1"))
    assert row["to grade by hand"] == "a1_written" and row["a1_written"] == "" and row["max"] == "18.0"


def test_item_means_and_pass_rates_are_the_csvs(report):
    _, _, parsed, rows = report
    for aid, items in POINTS.items():
        table = parsed.tables[f"items-{aid}"]
        shown = {attrs["data-item"]: cells for attrs, cells in table if "data-item" in attrs}
        assert set(shown) == set(items), aid
        mine = [r for r in rows if r["assignment"] == aid]
        rates = []
        for item, points in items.items():
            scores = [float(r[item]) for r in mine if r[item] != ""]
            passed = sum(s == points for s in scores)
            pending = sum(item in r["to grade by hand"].split() for r in mine)
            _, max_cell, mean_cell, rate_cell, graded_cell, pending_cell = shown[item]
            assert max_cell == _fmt(points), item
            assert mean_cell == f"{statistics.fmean(scores):.2f}", item
            assert rate_cell == f"{100 * passed / len(scores):.0f}% ({passed}/{len(scores)})", item
            assert (graded_cell, pending_cell) == (str(len(scores)), str(pending)), item
            rates.append(passed / len(scores))
        order = [attrs["data-item"] for attrs, _ in table if "data-item" in attrs]
        assert [round(r, 9) for r in sorted(rates)] == [round(r, 9) for r in
                                                       (rates[list(items).index(i)] for i in order)], \
            "hardest (lowest pass rate) first"
        hardest = [cells[0] for attrs, cells in table if "data-item" in attrs and "hardest" in cells[0]]
        assert hardest and all(c.startswith(order[0]) or "hardest" in c for c in hardest)


def test_totals_histogram_and_student_counts_are_the_csvs(report):
    _, page, parsed, rows = report
    for aid, items in POINTS.items():
        mine = [r for r in rows if r["assignment"] == aid]
        totals = [float(r["total"]) for r in mine]
        assert re.search(rf'data-students="{len({r["student"] for r in mine})}"', page.split(f'id="h-{aid}"')[1])
        edges, counts = histogram_counts(totals, sum(items.values()))
        assert sum(counts) == len(mine) and edges[0] == 0 and edges[-1] >= sum(items.values())
        for t in totals:  # each total falls in the bin the report counts it in
            i = next(i for i in range(len(counts)) if t < edges[i + 1] or i == len(counts) - 1)
            assert edges[i] <= t
        alt = next(img["alt"] for img in parsed.images if f"Histogram of {aid} totals" in img["alt"])
        assert f"out of {_fmt(sum(items.values()))} points, {len(mine)} submissions" in alt
        assert [int(n) for n in re.findall(r": (\d+)(?=;|\.)", alt)] == counts, alt
        assert f"Mean {_fmt(statistics.fmean(totals))}, median {_fmt(statistics.median(totals))}" in alt


def test_the_attention_list_is_the_csvs(report):
    _, page, parsed, rows = report
    expected = {(r["student"], r["assignment"]) for r in rows
                if r["status"] != "ok" or r["to grade by hand"] or "your code called" in r["message"]}
    listed = parsed.tables["attention"][1:]
    assert {(a["data-student"], a["data-assignment"]) for a, _ in listed} == expected
    by_key = {(a["data-student"], a["data-assignment"]): cells for a, cells in listed}
    for r in rows:
        key = (r["student"], r["assignment"])
        if key not in expected:
            continue
        student, assignment, status, why, to_grade, message = by_key[key]
        assert (student, assignment, status) == (r["student"], r["assignment"], r["status"])
        assert (to_grade if to_grade != "–" else "") == r["to grade by hand"]
        for part in r["message"].split("; "):
            assert " ".join(part.split()) in message, (key, part)
        assert ("hand grading pending" in why) == bool(r["to grade by hand"])
        assert (f"status: {r['status']}" in why) == (r["status"] != "ok")
    assert "called the course's implementation" in by_key["cleo", "a1"][3]
    assert page.count("<li>expected a1.ipynb; found no notebook: not graded</li>") == 1, "one note, not two"
    rows_by_key = {(r["student"], r["assignment"]): r for r in rows}
    problem = [rows_by_key[a["data-student"], a["data-assignment"]]["status"] != "ok"
               or "your code called" in rows_by_key[a["data-student"], a["data-assignment"]]["message"]
               for a, _ in listed]
    assert problem == sorted(problem, reverse=True) and True in problem and False in problem, \
        "problems before hand grading only"
    assert page.count('id="n-hand"') == 1 and f'id="n-hand">{sum(bool(r["to grade by hand"]) for r in rows)}<' in page


def test_frequent_mistakes_are_counted_from_the_mistake_columns(report):
    _, _, parsed, rows = report
    for aid in POINTS:
        mine = [r for r in rows if r["assignment"] == aid]
        expected = Counter((item[: -len(MISTAKE_SUFFIX)], r[item]) for r in mine for item in r
                           if item.endswith(MISTAKE_SUFFIX) and r[item])
        shown = {(a["data-item"], a["data-mistake"]): int(cells[-1]) for a, cells in parsed.tables[f"mistakes-{aid}"]
                 if "data-mistake" in a}
        assert shown == dict(expected), aid
    a1 = [a.get("data-mistake") for a, _ in parsed.tables["mistakes-a1"] if a.get("data-item") == "a1_conv2d_forward"]
    assert a1 == ["flipped_kernel", "no_padding"], "most frequent first"
    assert Counter(r["a1_conv2d_forward mistake"] for r in rows)["flipped_kernel"] == 3


def test_without_mistake_columns_it_says_so(tmp_path):
    scores = make_class_csv(tmp_path / "scores.csv", mistakes=False)
    page = write_report(scores, tmp_path / "report.html").read_text(encoding="utf-8")  # no max_points either
    assert "no diagnoses recorded" in page and "data-mistake" not in page
    parsed = Tables()
    parsed.feed(page)
    rows = {a["data-item"]: cells for a, cells in parsed.tables["items-a1"] if "data-item" in a}
    assert rows["a1_conv2d_forward"][1] == "6 (seen)", "without max_points: the highest score seen, marked"


def test_one_offline_file_that_escapes_what_students_wrote(report):
    out, page, parsed, _ = report
    assert "http" not in page.lower()
    assert all(src.startswith("data:image/png;base64,") for src in re.findall(r'src="([^"]*)"', page))
    assert not re.search(r"<(script|link|iframe|object|embed)\b", page) and "url(" not in page
    assert len(parsed.images) == len(POINTS) and all(img["alt"] and img["src"].startswith("data:")
                                                      for img in parsed.images)
    assert WEIRD not in page and "o&#x27;neil &lt;b&gt;&amp;co&lt;/b&gt;" in page
    tables = re.findall(r"<table\b.*?</table>", page, re.S)
    assert tables and all("<thead>" in t and '<th scope="col"' in t and "<caption>" in t for t in tables)
    assert out.stat().st_size < 400_000


def test_message_notes_that_hold_a_semicolon_stay_whole():
    cleo = "; ".join(SUBMISSIONS["cleo", "a1"][2])
    assert message_parts(cleo) == SUBMISSIONS["cleo", "a1"][2]
    assert message_parts("expected a1.ipynb; found no notebook: not graded") == \
        ["expected a1.ipynb; found no notebook: not graded"]
    kept = "a1_written: the answer changed (hand grade 2 kept; review it in the formgrader)"
    assert message_parts(f"{kept}; {NEEDS_HAND_GRADING}") == [kept, NEEDS_HAND_GRADING]
    assert message_parts("") == []


def test_max_points_come_from_the_source_notebooks():
    assert max_points_from_sources(REPO) == MAX_POINTS


def test_command_line(tmp_path, capsys):
    scores = make_class_csv(tmp_path / "scores.csv")
    assert main(["--course", str(REPO), "--csv", str(scores)]) == 0
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "(seen)" not in page, "points read from the course's source notebooks"
    assert main(["--course", str(tmp_path), "--csv", str(tmp_path / "missing.csv")]) == 1
    assert "make grade" in capsys.readouterr().err
