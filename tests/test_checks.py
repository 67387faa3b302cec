"""course_utils.checks: failures name case, expected, actual and hint; successes print one OK line."""

import numpy as np
import pytest
import torch

from course_utils.checks import expect_close, expect_equal, expect_shape


def test_expect_equal_passes_and_prints_ok(capsys):
    expect_equal(200 * 200 * 40_000, 1_600_000_000, "FC params")
    expect_equal(np.arange(3), np.arange(3), "ints")
    out = capsys.readouterr().out.splitlines()
    assert out == ["OK: FC params = 1600000000", "OK: ints matches (shape (3,))"]


def test_expect_equal_failure_names_everything():
    with pytest.raises(AssertionError) as info:
        expect_equal(4_000, 4_000_000, "locally connected params", hint="each hidden unit has its own filter")
    msg = str(info.value)
    assert "locally connected params" in msg
    assert "  expected: 4000000" in msg and "  got:      4000" in msg
    assert "Hint: each hidden unit has its own filter" in msg


def test_expect_equal_arrays_report_the_differing_element():
    actual = np.array([[1, 2], [3, 4]])
    expected = np.array([[1, 2], [3, 5]])
    with pytest.raises(AssertionError, match=r"expected: 5 at index \(1, 1\)\n  got:      4"):
        expect_equal(actual, expected, "matrix")


def test_shape_mismatch_is_reported_first():
    with pytest.raises(AssertionError) as info:
        expect_close(np.zeros((2, 3)), np.zeros((3, 2)), "conv output", hint="check H_out")
    msg = str(info.value)
    assert msg.startswith("conv output\n  expected: shape (3, 2)\n  got:      shape (2, 3)")
    assert "values were not compared" in msg and "Hint: check H_out" in msg


def test_expect_close_reports_worst_element():
    expected = np.array([1.0, 2.0, 3.0, 4.0])
    actual = expected + np.array([0.0, 1e-3, 0.5, 0.0])
    with pytest.raises(AssertionError) as info:
        expect_close(actual, expected, "grad", rtol=1e-6)
    msg = str(info.value)
    assert "expected: 3.0 at index (2,)" in msg and "got:      3.5" in msg
    assert "2 of 4 elements differ" in msg


def test_expect_close_nan_is_never_close():
    with pytest.raises(AssertionError, match="index \\(1,\\)"):
        expect_close(np.array([1.0, np.nan, 1.1]), np.array([1.0, 2.0, 1.0]), "nan", rtol=0.2)
    with pytest.raises(AssertionError):
        expect_close(float("nan"), 1.0, "scalar nan")


def test_expect_close_accepts_tensors_and_scalars(capsys):
    expect_close(torch.tensor([0.1 + 0.2]), np.array([0.3]), "tensor")
    expect_close(0.1 + 0.2, 0.3, "sum")
    expect_close(torch.tensor(2.0), 2.0, "0-d tensor")
    assert capsys.readouterr().out.count("OK: ") == 3
    with pytest.raises(AssertionError, match="expected: 0.3"):
        expect_close(0.31, 0.3, "sum")
    with pytest.raises(AssertionError, match="a number close to"):
        expect_close("0.3", 0.3, "string")


def test_expect_shape(capsys):
    expect_shape(torch.zeros(2, 8, 26, 26), (2, 8, 26, 26), "conv output")
    assert capsys.readouterr().out == "OK: conv output has shape (2, 8, 26, 26)\n"
    with pytest.raises(AssertionError, match=r"expected: shape \(2, 8, 26, 26\)\n  got:      shape \(2, 8, 24, 24\)"):
        expect_shape(np.zeros((2, 8, 24, 24)), (2, 8, 26, 26), "conv output")
    with pytest.raises(AssertionError, match="got:      int 3"):
        expect_shape(3, (1,), "scalar")


@pytest.mark.notebooks
def test_a_failed_check_reads_in_a_few_lines_in_a_notebook():
    """In a kernel, as students see it: the message and the hint, no traceback through checks.py."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "from course_utils.checks import expect_equal\n"
        "expect_equal(3, 4, 'conv_output_size(32, 3)', hint='floor((size + 2*padding - k) / stride) + 1')")]
    NotebookClient(nb, timeout=60, kernel_name="python3", allow_errors=True).execute()
    error = next(o for o in nb.cells[0].outputs if o.output_type == "error")
    shown = "\n".join(error.traceback)
    assert error.ename == "CheckFailed" and len(error.traceback) <= 5, error.traceback
    assert "expected: 4\n  got:      3" in shown and "Hint: floor" in shown and "checks.py" not in shown


def test_failure_lines_are_short_and_numbers_plain():
    with pytest.raises(AssertionError) as info:
        expect_close(np.full((1, 1, 3, 3), 5.0), np.full((1, 1, 3, 3), -5.0), "4x4 image, filter [[1, 0], [0, -1]]",
                     hint="x[i, j] - x[i+1, j+1] = -5 everywhere, because the filter is applied without flipping it")
    lines = str(info.value).splitlines()
    assert len(lines) <= 7 and max(map(len, lines)) <= 82, lines
    assert lines[2] == "  got:      5.0"
    with pytest.raises(AssertionError) as info:
        expect_equal(np.int64(3), np.int64(4), "count")
    assert "np.int64" not in str(info.value) and "expected: 4" in str(info.value)


def _run_cells(*sources):
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    NotebookClient(nb, timeout=60, kernel_name="python3", allow_errors=True).execute()
    return nb.cells


@pytest.mark.notebooks
def test_in_a_notebook_an_error_in_the_students_function_reads_in_a_few_lines():
    cells = _run_cells(
        "import numpy as np\nfrom course_utils.checks import expect_equal",
        "def conv_params(num_filters, filter_size, channels=1, bias=False):\n"
        "    return np.sum(np.ones(3), axis=4)  # a wrong axis",
        "n = conv_params(100, 10)\nexpect_equal(n, 10_000, 'conv params, 100 filters of 10x10')",
        "expect_equal(np.int64(3), 3, 'three')\nexpect_equal(2 + 2, 4, 'four')",
        "expect_equal(1, 1, 'one')",
        "def conv_output_size(size, kernel_size, stride=1, padding=0):\n    raise NotImplementedError\n"
        "expect_equal(conv_output_size(5, 3), 3, 'output size')",
    )
    error = next(o for o in cells[2].outputs if o.output_type == "error")
    assert error.ename == "AxisError"  # still an error for nbgrader
    shown = [line for line in error.traceback if line.strip()]
    assert len(shown) <= 8 and max(map(len, shown)) <= 82, shown
    text = "\n".join(shown)
    assert "AxisError: axis 4 is out of bounds" in text
    assert "n = conv_params(100, 10)" in text, "the check's line that called the student's function"
    assert "in conv_params" in text and "return np.sum(np.ones(3), axis=4)" in text, "the student's frame"
    assert "Hint:" in text and "site-packages" not in text and "fromnumeric" not in text
    printed = "".join(o.get("text", "") for o in cells[3].outputs)
    assert printed == "OK: three = 3\nOK: four = 4\n✓ all 2 checks in this cell passed\n", printed
    assert "".join(o.get("text", "") for o in cells[4].outputs).endswith("✓ the check passed\n")
    todo = next(o for o in cells[5].outputs if o.output_type == "error")
    assert todo.ename == "NotImplementedError" and "conv_output_size still raises NotImplementedError" in \
        "\n".join(todo.traceback) and "Hint: the error is in your code" not in "\n".join(todo.traceback)


@pytest.mark.nbgrader
def test_nbgrader_validate_shows_the_whole_failure(tmp_path):
    """`nbgrader validate` (and the Validate button) cut lines at 90 characters: nothing of a check is lost."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    nb = json.loads((repo / "assignments" / "a1" / "a1.ipynb").read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "a1_conv2d_forward_solution":
            cell["source"] = ("def conv2d_forward(x, w, b=None, stride=1, padding=0):\n"
                              "    return -np.full((x.shape[0], w.shape[0], 3, 3), -5.0)  # wrong sign\n")
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "a1_counting_solution":
            cell["source"] = ("def fully_connected_params(image_size, hidden_units, channels=1, bias=False):\n"
                              "    return image_size * image_size * channels * hidden_units  # forgets the bias\n")
    (tmp_path / "a1.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "nbgrader", "validate", "a1.ipynb"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    out = done.stdout
    failure = next((block for block in out.split("The following cell failed:")
                    if "conv2d_forward: x shape (1, 1, 4, 4)" in block and "Check failed" in block), out)
    failure = failure[failure.index("The error was:"):] if "The error was:" in failure else failure
    assert "got:      5.0" in failure and "Hint: slide the window without flipping the filter" in failure, out[-3000:]
    assert "..." not in failure, failure
    starts = ("Hint:", "expected:", "got:")
    cut = [ln for ln in out.splitlines() if ln.lstrip().startswith(starts) and ln.endswith("...")]
    assert not cut, cut  # no check's line is cut, in any failed cell
