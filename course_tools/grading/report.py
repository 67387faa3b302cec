"""``python -m course_tools.grading.report``: the class at a glance, from ``grading/scores.csv``.

    python -m course_tools.grading.report [--course DIR] [--csv PATH] [--out PATH]

Writes ``grading/report.html``: ONE self-contained page (CSS inline, figures as inline base64 PNG drawn with
matplotlib's Agg canvas, no script, no network, no other file) that an instructor can open offline or mail:

- the submissions that need attention first: a status other than ``ok`` (timeout, kernel died, ``limit: ...``,
  no notebook, error, no feedback), a rule broken in an ``ok`` row (the message names a call of the course's
  or another library's implementation, an item zeroed by the re-check outside the kernel, a checks folder
  that the student's submission brought along), and hand grading pending (the ``to grade by hand`` column);
  each with student, assignment, status and the message;
- per assignment: how many students, the distribution of the totals out of ``max`` (histogram, with
  alt text that states every bin's count), mean and median;
- per item: max points, mean points, pass rate (full points), sorted hardest first (lowest pass rate, then
  lowest mean share of the points); items still to grade by hand count only where graded;
- per item: the most frequent diagnosed mistakes, read from the ``<item> mistake`` columns when the CSV has
  them ("no diagnoses recorded" otherwise).

The CSV is the one ``grade.write_csv`` writes: one row per (student, assignment), all assignments in one
file, a column per item (empty in the rows of other assignments, and while a hand-graded item waits),
``total``, ``max``, ``to grade by hand`` (item columns, space-separated), ``status``, ``message`` (the
run's notes joined by "; "). An item belongs to the assignments whose rows fill it or list it as to grade
by hand. Items' maximum points come from ``max_points`` ({item column: points}); the command line reads
them from the source notebooks (``max_points_from_sources``); an item missing there is given the highest
score seen and marked "(seen)".
"""

from __future__ import annotations

import argparse
import base64
import csv
import html
import io
import json
import math
import os
import re
import statistics
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

FIXED_COLUMNS = ("student", "assignment", "total", "max", "to grade by hand", "status", "message")
MISTAKE_SUFFIX = " mistake"
#: (text in the message of an ``ok`` row, what the attention list says about it)
RULE_NOTES = (
    ("your code called the course's implementation", "called the course's implementation"),
    ("your code called another library's implementation", "called another library's implementation"),
    ("after re-checking outside the kernel", "item zeroed by the re-check outside the kernel"),
    ("folder from the submission (not written by a student)", "submission brought its own checks folder"),
)
EPS = 1e-9
#: a note of the message column that starts so continues the one before (it held "; " itself)
CONTINUED = ("this exercise asks", "found ")


# ------------------------------------------------------------------------------------------------ the numbers
@dataclass
class ItemStats:
    item: str
    max_points: float
    max_seen: bool  # max_points not given: the highest score seen
    graded: int  # rows of the assignment with a score for this item
    pending: int  # rows still to grade by hand for this item
    mean: float | None
    passed: int  # graded rows at full points
    mistakes: list[tuple[str, int]] | None  # most frequent first; None: no mistake column for this item

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.graded if self.graded else None

    @property
    def mean_share(self) -> float | None:
        return self.mean / self.max_points if self.mean is not None and self.max_points > 0 else None


@dataclass
class AssignmentStats:
    assignment: str
    students: int
    max_total: float
    totals: list[float]
    partial: int  # totals that still miss hand grades
    items: list[ItemStats] = field(default_factory=list)  # hardest first


@dataclass
class Attention:
    student: str
    assignment: str
    status: str
    reasons: list[str]
    to_grade: str
    message: str


def _number(text: str | None) -> float | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def read_scores(scores_csv: Path) -> tuple[list[str], list[dict]]:
    """(column names, rows) of the class CSV."""
    with open(scores_csv, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        rows = [{k: (v or "") for k, v in r.items() if k is not None} for r in reader]
        return list(reader.fieldnames or []), rows


def item_columns(columns: list[str]) -> list[str]:
    return [c for c in columns if c not in FIXED_COLUMNS and not c.endswith(MISTAKE_SUFFIX)]


def _mistake_ids(text: str) -> list[str]:
    return [m for m in re.split(r"[\s,;]+", text.strip()) if m]


def class_stats(columns: list[str], rows: list[dict], max_points: dict | None = None) -> list[AssignmentStats]:
    """Per assignment (in sorted order) its totals and its items' statistics, hardest item first."""
    max_points = max_points or {}
    items = item_columns(columns)
    found = []
    for aid in sorted({r.get("assignment", "") for r in rows}):
        mine = [r for r in rows if r.get("assignment", "") == aid]
        pending_by_item = Counter(i for r in mine for i in r.get("to grade by hand", "").split())
        stats = []
        for item in items:
            scores = [v for r in mine if (v := _number(r.get(item))) is not None]
            pending = pending_by_item.get(item, 0)
            if not scores and not pending:
                continue  # another assignment's item
            given = _number(str(max_points[item])) if item in max_points else None
            top = given if given is not None else max(scores, default=0.0)
            column = item + MISTAKE_SUFFIX
            mistakes = None
            if column in columns:
                mistakes = Counter(m for r in mine for m in _mistake_ids(r.get(column, ""))).most_common()
                mistakes.sort(key=lambda kv: (-kv[1], kv[0]))
            stats.append(ItemStats(
                item=item, max_points=top, max_seen=given is None, graded=len(scores), pending=pending,
                mean=statistics.fmean(scores) if scores else None,
                passed=sum(s >= top - EPS for s in scores) if top > 0 else len(scores), mistakes=mistakes,
            ))
        stats.sort(key=lambda s: (s.pass_rate if s.pass_rate is not None else 2.0,
                                  s.mean_share if s.mean_share is not None else 2.0, s.item))
        maxes = Counter(m for r in mine if (m := _number(r.get("max"))) is not None)
        found.append(AssignmentStats(
            assignment=aid, students=len({r.get("student", "") for r in mine}),
            max_total=maxes.most_common(1)[0][0] if maxes else 0.0,
            totals=[_number(r.get("total")) or 0.0 for r in mine],
            partial=sum(bool(r.get("to grade by hand", "").strip()) for r in mine), items=stats,
        ))
    return found


def attention_list(rows: list[dict]) -> list[Attention]:
    """The submissions that need the instructor: status not ok, a rule broken, or hand grading pending."""
    found = []
    for r in rows:
        status, message, to_grade = r.get("status", "").strip(), r.get("message", ""), r.get("to grade by hand", "")
        reasons = []
        if status and status != "ok":
            reasons.append(f"status: {status}")
        reasons += [note for text, note in RULE_NOTES if text in message]
        if to_grade.strip():
            reasons.append("hand grading pending")
        if reasons:
            found.append(Attention(r.get("student", ""), r.get("assignment", ""), status or "(none)", reasons,
                                   to_grade.strip(), message))
    # problems first (status, then rules), hand grading only after; then by assignment and student
    return sorted(found, key=lambda a: (_rank(a), a.assignment, a.student))


def _rank(a: Attention) -> int:
    if a.status not in ("ok", "(none)"):
        return 0
    return 1 if a.reasons[0] != "hand grading pending" else 2


def max_points_from_sources(root: str | os.PathLike | None = None) -> dict[str, float]:
    """{item column as in scores.csv: points} from the graded cells of the source notebooks of the course."""
    from .config import course_root, load_config

    root = str(root or course_root())
    config = load_config(root)
    source = Path(root) / config.CourseDirectory.get("source_directory", "source")
    points = {}
    for nb_path in sorted(source.glob("*/*.ipynb")):
        aid = nb_path.parent.name
        try:
            cells = json.loads(nb_path.read_text(encoding="utf-8")).get("cells", [])
        except (OSError, ValueError):
            continue
        for cell in cells:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if meta.get("grade") and meta.get("grade_id"):
                gid = meta["grade_id"]
                points[gid if gid.startswith(aid) else f"{aid}:{gid}"] = float(meta.get("points", 0))
    return points


# ------------------------------------------------------------------------------------------------ the page
def _fmt(x: float | None, digits: int = 2) -> str:
    if x is None:
        return "–"
    text = f"{x:.{digits}f}".rstrip("0").rstrip(".")
    return text if text != "-0" else "0"


def _mean(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f}"


def _bins(max_total: float) -> list[float]:
    width = max(1, math.ceil(max_total / 10)) if max_total > 0 else 1
    n = max(1, math.ceil(max_total / width - EPS)) if max_total > 0 else 1
    return [i * width for i in range(n + 1)]


def histogram_counts(totals: list[float], max_total: float) -> tuple[list[float], list[int]]:
    """(bin edges, counts): bins of equal width from 0 to max; the last bin holds its right edge."""
    edges = _bins(max_total)
    counts = [0] * (len(edges) - 1)
    for t in totals:
        i = sum(t >= e - EPS for e in edges[1:-1])
        counts[min(max(i, 0), len(counts) - 1)] += 1
    return edges, counts


def _bin_label(edges, i) -> str:
    last = i == len(edges) - 2
    return f"{_fmt(edges[i])} to {_fmt(edges[i + 1])}" if last else f"{_fmt(edges[i])} to under {_fmt(edges[i + 1])}"


def _histogram_png(a: AssignmentStats, edges, counts) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 2.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    lefts = edges[:-1]
    widths = [edges[i + 1] - edges[i] for i in range(len(counts))]
    bars = ax.bar(lefts, counts, width=widths, align="edge", color="#4c72b0", edgecolor="#1b2a41", linewidth=1)
    ax.bar_label(bars, labels=[str(c) if c else "" for c in counts], padding=2, fontsize=9)
    ax.set_xlim(0, edges[-1])
    ax.set_xticks(edges)
    ax.set_xticklabels([_fmt(e) for e in edges], fontsize=9)
    ax.set_ylim(0, max(counts + [1]) * 1.25)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.tick_params(axis="y", labelsize=9)
    ax.set_xlabel(f"total points (out of {_fmt(a.max_total)})", fontsize=9)
    ax.set_ylabel("students", fontsize=9)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout(pad=0.4)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return base64.b64encode(buf.getvalue()).decode("ascii")


def histogram_alt(a: AssignmentStats, edges, counts) -> str:
    bins = "; ".join(f"{_bin_label(edges, i)}: {c}" for i, c in enumerate(counts))
    mean = _fmt(statistics.fmean(a.totals)) if a.totals else "–"
    median = _fmt(statistics.median(a.totals)) if a.totals else "–"
    return (f"Histogram of {a.assignment} totals out of {_fmt(a.max_total)} points, {len(a.totals)} submissions. "
            f"Submissions per range of points: {bins}. Mean {mean}, median {median}.")


CSS = """
:root { --ink: #1a1a1a; --muted: #555; --line: #c8c8c8; --band: #f3f4f6; --bar: #4c72b0; --warn: #8a1c1c; }
* { box-sizing: border-box; }
body { font: 15px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
       margin: 0 auto; padding: 1rem 1rem 2rem; max-width: 72rem; background: #fff; }
h1 { font-size: 1.6rem; margin: 0 0 .2rem; }
h2 { font-size: 1.3rem; margin: 2rem 0 .5rem; border-bottom: 2px solid var(--ink); padding-bottom: .15rem; }
h3 { font-size: 1.05rem; margin: 1.3rem 0 .4rem; }
p.meta, .note { color: var(--muted); margin: .2rem 0 .6rem; }
nav ul { display: flex; flex-wrap: wrap; gap: .3rem 1.2rem; padding: 0; margin: .4rem 0; list-style: none; }
a { color: #0b4f9c; }
table { border-collapse: collapse; width: 100%; margin: .3rem 0 1rem; font-size: .93rem; }
caption { text-align: left; font-weight: 600; padding: .2rem 0 .35rem; }
th, td { border: 1px solid var(--line); padding: .3rem .5rem; text-align: left; vertical-align: top; }
thead th { background: var(--band); }
td.message { width: 46%; }
#attention td.status { white-space: normal; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
thead th.num { white-space: normal; }
tbody tr:nth-child(even) { background: #fafafa; }
.flag { font-weight: 700; color: var(--warn); white-space: nowrap; }
.flag::before { content: "▲ "; }
.meter { display: inline-block; width: 3.5rem; height: .7rem; border: 1px solid #777; vertical-align: middle;
         margin-left: .4rem; background: #fff; }
.meter > span { display: block; height: 100%; background: var(--bar); }
ul.msg { margin: 0; padding-left: 1.1rem; }
ul.msg li { margin: 0; overflow-wrap: anywhere; }
ul.reasons { margin: 0; padding-left: 1.1rem; }
.status { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: .88rem; white-space: nowrap; }
figure { margin: .3rem 0 .8rem; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { color: var(--muted); font-size: .9rem; }
.summary { display: flex; flex-wrap: wrap; gap: .6rem 2rem; margin: .6rem 0; padding: 0; list-style: none; }
.summary li { border-left: 4px solid var(--ink); padding-left: .5rem; }
.summary b { font-size: 1.25rem; display: block; }
.scroll { overflow-x: auto; }
.grid { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 0 2rem; }
@media (max-width: 1000px) { .grid { grid-template-columns: minmax(0, 1fr); } }
"""


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def message_parts(message: str) -> list[str]:
    """The notes of a message column (joined by "; "), keeping together the notes that hold "; " themselves
    (an open parenthesis, verify's "...; this exercise asks ...", grade's "expected ...; found ...")."""
    parts = []
    for part in message.split("; "):
        if parts and (parts[-1].count("(") > parts[-1].count(")") or part.startswith(CONTINUED)):
            parts[-1] += "; " + part
        else:
            parts.append(part)
    return [p for p in parts if p.strip()]


def _message_list(message: str) -> str:
    parts = message_parts(message)
    if not parts:
        return '<span class="note">no message</span>'
    return '<ul class="msg">' + "".join(f"<li>{_e(p)}</li>" for p in parts) + "</ul>"


def _attention_html(attention: list[Attention]) -> str:
    if not attention:
        return '<p id="attention-none">Every submission graded with status ok, no rule broken, nothing left ' \
               'to grade by hand.</p>'
    rows = []
    for a in attention:
        reasons = '<ul class="reasons">' + "".join(f"<li>{_e(r)}</li>" for r in a.reasons) + "</ul>"
        rows.append(f'<tr data-student="{_e(a.student)}" data-assignment="{_e(a.assignment)}">'
                    f'<th scope="row">{_e(a.student)}</th><td>{_e(a.assignment)}</td>'
                    f'<td class="status">{_e(a.status)}</td><td>{reasons}</td><td>{_e(a.to_grade) or "–"}</td>'
                    f'<td class="message">{_message_list(a.message)}</td></tr>')
    return ('<div class="scroll"><table id="attention"><caption>Submissions that need attention: problems first, '
            'then hand grading pending</caption><thead><tr><th scope="col">student</th><th scope="col">assignment</th>'
            '<th scope="col">status</th><th scope="col">why listed</th><th scope="col">to grade by hand</th>'
            '<th scope="col">message</th></tr></thead><tbody>' + "".join(rows) + "</tbody></table></div>")


def _items_html(a: AssignmentStats) -> str:
    if not a.items:
        return '<p class="note">No item columns for this assignment.</p>'
    rows = []
    rates = [s.pass_rate for s in a.items if s.pass_rate is not None]
    hardest = min(rates) if rates else None
    for s in a.items:
        rate = s.pass_rate
        flag = ' <span class="flag">hardest</span>' if rate is not None and hardest is not None \
            and rate <= hardest + EPS and rate < 1 else ""
        meter = "" if rate is None else \
            f'<span class="meter" aria-hidden="true"><span style="width:{rate * 100:.0f}%"></span></span>'
        rate_text = "–" if rate is None else f"{rate * 100:.0f}% ({s.passed}/{s.graded})"
        seen = " (seen)" if s.max_seen else ""
        pending = f"{s.pending}" if s.pending else "0"
        rows.append(f'<tr data-item="{_e(s.item)}"><th scope="row">{_e(s.item)}{flag}</th>'
                    f'<td class="num">{_fmt(s.max_points)}{seen}</td><td class="num">{_mean(s.mean)}</td>'
                    f'<td class="num">{rate_text}{meter}</td><td class="num">{s.graded}</td>'
                    f'<td class="num">{pending}</td></tr>')
    return (f'<table id="items-{_e(a.assignment)}"><caption>{_e(a.assignment)}: items, hardest first (lowest pass '
            'rate)</caption><thead><tr><th scope="col">item</th><th scope="col" class="num">max points</th>'
            '<th scope="col" class="num">mean points</th><th scope="col" class="num">pass rate (full points)</th>'
            '<th scope="col" class="num">graded</th><th scope="col" class="num">by hand, pending</th></tr></thead>'
            "<tbody>" + "".join(rows) + "</tbody></table>")


def _mistakes_html(a: AssignmentStats, top: int = 5) -> str:
    if all(s.mistakes is None for s in a.items):
        return f'<p class="note" id="mistakes-{_e(a.assignment)}">Frequent mistakes: no diagnoses recorded ' \
               "(scores.csv has no mistake column for this assignment).</p>"
    rows = []
    for s in a.items:
        shown = (s.mistakes or [])[:top]
        more = len(s.mistakes or []) - len(shown)
        for i, (mistake, count) in enumerate(shown):
            head = f'<th scope="row" rowspan="{len(shown)}">{_e(s.item)}' + \
                (f'<br><span class="note">and {more} more</span>' if more else "") + "</th>" if i == 0 else ""
            rows.append(f'<tr data-item="{_e(s.item)}" data-mistake="{_e(mistake)}">{head}'
                        f'<td><code>{_e(mistake)}</code></td><td class="num">{count}</td></tr>')
    notes = []
    for label, wanted in (("none diagnosed", []), ("no diagnoses recorded", None)):
        names = [s.item for s in a.items if s.mistakes == wanted]
        if names:
            notes.append(f'<p class="note">{label} for: {", ".join(_e(n) for n in names)}</p>')
    table = (f'<table id="mistakes-{_e(a.assignment)}"><caption>{_e(a.assignment)}: most frequent diagnosed '
             'mistakes, hardest item first</caption><thead><tr><th scope="col">item</th><th scope="col">mistake'
             '</th><th scope="col" class="num">submissions</th></tr></thead><tbody>' + "".join(rows) +
             "</tbody></table>") if rows else \
        f'<p class="note" id="mistakes-{_e(a.assignment)}">No mistake diagnosed in {_e(a.assignment)}.</p>'
    return table + "".join(notes)


def _assignment_html(a: AssignmentStats) -> str:
    edges, counts = histogram_counts(a.totals, a.max_total)
    alt = histogram_alt(a, edges, counts)
    partial = f" {a.partial} of them still miss hand grades (their totals are partial)." if a.partial else ""
    mean = _fmt(statistics.fmean(a.totals)) if a.totals else "–"
    median = _fmt(statistics.median(a.totals)) if a.totals else "–"
    return (f'<section id="assignment-{_e(a.assignment)}" aria-labelledby="h-{_e(a.assignment)}">'
            f'<h2 id="h-{_e(a.assignment)}">{_e(a.assignment)}</h2>'
            f'<p class="meta" data-students="{a.students}"><b>{a.students}</b> students, {len(a.totals)} '
            f"submissions; totals out of {_fmt(a.max_total)}: mean {mean}, median {median}.{partial}</p>"
            f'<div class="grid"><figure><img src="data:image/png;base64,{_histogram_png(a, edges, counts)}" '
            f'alt="{_e(alt)}" width="640" height="250"><figcaption>Distribution of the {_e(a.assignment)} totals '
            f"(count above each bar).</figcaption></figure>"
            f'<div class="scroll">{_mistakes_html(a)}</div></div>'
            f'<div class="scroll">{_items_html(a)}</div></section>')


def render(columns: list[str], rows: list[dict], max_points: dict | None = None, source: str = "") -> str:
    """The report's HTML for the class CSV's ``columns`` and ``rows``."""
    stats = class_stats(columns, rows, max_points)
    attention = attention_list(rows)
    problems = sum(_rank(a) < 2 for a in attention)
    hand = sum("hand grading pending" in a.reasons for a in attention)
    students = len({r.get("student", "") for r in rows})
    diagnosed = any(c.endswith(MISTAKE_SUFFIX) for c in columns)
    nav = "".join(f'<li><a href="#assignment-{_e(a.assignment)}">{_e(a.assignment)}</a></li>' for a in stats)
    body = "".join(_assignment_html(a) for a in stats) or "<p>No submissions in the CSV.</p>"
    when = datetime.now().strftime("%Y-%m-%d %H:%M")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Class report</title>
<style>{CSS}</style>
</head>
<body>
<header>
<h1>Class report</h1>
<p class="meta">From {_e(source or "scores.csv")}, written {when}.
{"" if diagnosed else "No diagnoses recorded (the CSV has no mistake columns)."}</p>
<ul class="summary">
<li><b>{students}</b> students</li>
<li><b>{len(rows)}</b> submissions</li>
<li><b>{len(stats)}</b> assignments</li>
<li><b id="n-problems">{problems}</b> with a problem</li>
<li><b id="n-hand">{hand}</b> with hand grading pending</li>
</ul>
<nav aria-label="sections"><ul><li><a href="#needs-attention">needs attention</a></li>{nav}</ul></nav>
</header>
<main>
<section id="needs-attention" aria-labelledby="h-attention">
<h2 id="h-attention">Needs attention</h2>
{_attention_html(attention)}
</section>
{body}
</main>
</body>
</html>
"""


def write_report(scores_csv: Path, out_html: Path, max_points: dict | None = None) -> Path:
    """Write the class report for ``scores_csv`` to ``out_html`` (one self-contained HTML file); returns it.

    ``max_points``: {item column: points} (``max_points_from_sources``); items missing there get the
    highest score seen.
    """
    scores_csv, out_html = Path(scores_csv), Path(out_html)
    columns, rows = read_scores(scores_csv)
    page = render(columns, rows, max_points, source=scores_csv.name)
    out_html.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_html.with_name(out_html.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, out_html)
    return out_html


def write_course_report(root: str | os.PathLike | None = None, scores_csv: str | os.PathLike | None = None,
                        out_html: str | os.PathLike | None = None) -> Path:
    """The report of a course folder: ``grading/scores.csv`` -> ``grading/report.html`` (beside the CSV),
    with the items' points read from the source notebooks."""
    from .config import course_root

    root = Path(root or course_root())
    scores_csv = Path(scores_csv or root / "grading" / "scores.csv")
    out_html = Path(out_html or scores_csv.with_name("report.html"))
    try:
        points = max_points_from_sources(root)
    except Exception:  # no config or unreadable sources: the highest scores seen stand in
        points = None
    return write_report(scores_csv, out_html, points)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--course", default=None, help="course folder (default: the one holding nbgrader_config.py)")
    parser.add_argument("--csv", default=None, help="class CSV (default: <course>/grading/scores.csv)")
    parser.add_argument("--out", default=None, help="HTML file (default: report.html beside the CSV)")
    args = parser.parse_args(argv)
    from .config import course_root

    root = Path(args.course or course_root())
    scores_csv = Path(args.csv or root / "grading" / "scores.csv")
    if not scores_csv.is_file():
        print(f"no {scores_csv}: run `make grade` first", file=sys.stderr)
        return 1
    out = write_course_report(root, scores_csv, args.out)
    print(f"class report: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
