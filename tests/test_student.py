"""The generated student notebook (tools/make_student.py) hides every solution and fails loudly.

Each property is tested on a small synthetic notebook built here and, one test per solution cell,
on the real Assignment_4.ipynb. The real-notebook tests are skipped (with that reason) only while
the real notebook has no ``### BEGIN SOLUTION`` region yet.
"""
from __future__ import annotations

import copy
import functools
import math
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from tools.make_student import (ANSWER_PLACEHOLDER, BEGIN, END, STUB_COMMENT, STUB_RAISE, MarkupError,
                                answer_key_cells, make_student, self_checks, solution_regions)
from utils.notebook_code import notebook_parameters

REPO = Path(__file__).resolve().parents[1]
REAL = REPO / "Assignment_4.ipynb"
REAL_IDS = ("build_model", "compile_model", "fit", "bits_per_char", "sample_next_char", "lstm_step")
NOT_STANDALONE = ("fit",)  # its check needs the trained notebook state
NO_REGIONS_YET = f"{REAL.name} has no {BEGIN!r} ... {END!r} solution regions yet"


# --- the synthetic reference notebook -------------------------------------------------------------

def solution_meta(grade_id):
    return {"nbgrader": {"solution": True, "grade": False, "locked": False, "grade_id": grade_id,
                         "schema_version": 3}}


def check_meta(grade_id, standalone=True):
    meta = {"nbgrader": {"grade": True, "solution": False, "locked": True, "grade_id": f"{grade_id}_check",
                         "points": 1, "schema_version": 3}}
    if standalone:
        meta["tags"] = ["standalone"]
    return meta


EXECUTION = {"iopub.execute_input": "2026-01-01T00:00:00.000000Z",
             "shell.execute_reply": "2026-01-01T00:00:01.000000Z"}

SCALES = '''import math


def double(x):
    """Twice x."""
    # Task: return x times (SCALE - 1).
    ### BEGIN SOLUTION
    y = x * (SCALE - 1)
    return y
    ### END SOLUTION


def triple(x):
    # Task: return x times SCALE.
    ### BEGIN SOLUTION
    return x * SCALE
### END SOLUTION
'''
SCALES_STUDENT = '''import math


def double(x):
    """Twice x."""
    # Task: return x times (SCALE - 1).
    # YOUR CODE HERE (see the task described above)
    raise NotImplementedError("scales: write this part (see the comment above), then run its self-check")


def triple(x):
    # Task: return x times SCALE.
    # YOUR CODE HERE (see the task described above)
    raise NotImplementedError("scales: write this part (see the comment above), then run its self-check")
'''
FILL = '''def fill_missing(values):
    """Replace the None entries of the list values by 0, in place; return None."""
    # Task: loop over values and set each None entry to 0.
    ### BEGIN SOLUTION
    for i, value in enumerate(values):
        if value is None:
            values[i] = 0
    ### END SOLUTION
'''
# Passes silently if fill_missing is a stub that returns None without raising: the stub test must
# still see NotImplementedError, which only a raising stub gives.
FILL_CHECK = '''values = [3, None, 1]
assert fill_missing(values) is None, "fill_missing works in place"
print("fill_missing: OK")
'''
TRAIN = '''# NBVAL_IGNORE_OUTPUT
if needs_training:
    # Task: train the model on the data.
    ### BEGIN SOLUTION
    history = train_everything(data, epochs=EPOCHS)
    ### END SOLUTION
'''
ANSWER_KEY = ("**Answer key.** The forget gate stays near one, so the cell state carries the symbol "
              "across all fifty steps.\n\n![gate](attachment:gate.png)")


def synthetic_notebook():
    """A reference notebook with every convention: two regions in one cell, a silent-if-None check,
    a non-standalone (training) cell, an answer key with an attachment, outputs and timestamps."""
    cells = [
        new_markdown_cell("# Synthetic assignment"),
        new_code_cell("SCALE = 3\nEPOCHS = 2\nNAME = 'synthetic'", metadata={"tags": ["parameters"]}),
        new_markdown_cell("## 1. Scaling"),
        new_code_cell(SCALES, metadata=solution_meta("scales")),
        new_markdown_cell("Check it:"),
        new_code_cell('assert double(2) == 4 and triple(np.int64(2)) == 6\n'
                      'assert math.isclose(double(0.25), 0.5)\n'
                      'assert NAME == "synthetic"', metadata=check_meta("scales")),
        new_markdown_cell("## 2. Filling in place"),
        new_code_cell(FILL, metadata=solution_meta("fill")),
        new_markdown_cell("Check it:"),
        new_code_cell(FILL_CHECK, metadata=check_meta("fill")),
        new_markdown_cell("## 3. Training"),
        new_code_cell(TRAIN, metadata=solution_meta("train")),
        new_markdown_cell("Check it (needs the trained model):"),
        new_code_cell("assert history[-1] < history[0]", metadata=check_meta("train", standalone=False)),
        new_markdown_cell("**Exercise 1.** Why does the LSTM remember the symbol?"),
        new_markdown_cell(ANSWER_KEY, metadata=solution_meta("exercise_1"),
                          attachments={"gate.png": {"image/png": "iVBORw0KGgo="}}),
        new_markdown_cell("## 4. Plain code"),
        new_code_cell("total = SCALE + 1\nprint(total)"),
    ]
    for cell in cells:
        if cell.cell_type == "code":
            cell.execution_count = 7
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="leaked output 42\n")]
            cell.metadata["execution"] = dict(EXECUTION)
    return new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                              "language": "python"}})


# --- one notebook under test: reference, student version, parameters ---------------------------------

@dataclass
class Case:
    path: Path
    nb: nbformat.NotebookNode       # the reference
    student: nbformat.NotebookNode  # make_student(nb)
    checks: dict                    # grade_id -> SelfCheck

    @functools.cached_property
    def params(self):
        return notebook_parameters(self.path)

    def region_cells(self):
        return {index for index, _, _ in solution_regions(self.nb)}


def load_case(path: Path) -> Case:
    nb = nbformat.read(str(path), as_version=4)
    if not solution_regions(nb):
        pytest.skip(NO_REGIONS_YET)
    return Case(path, nb, make_student(nb), {check.grade_id: check for check in self_checks(nb)})


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    path = tmp_path_factory.mktemp("synthetic") / "reference.ipynb"
    nbformat.write(synthetic_notebook(), str(path))
    return load_case(path)


@pytest.fixture(scope="module")
def real():
    return load_case(REAL)


@pytest.fixture
def case(request):
    return request.getfixturevalue(request.param)


def _real_ids(standalone_only: bool) -> list:
    """The real notebook's solution grade_ids, read at collection; one placeholder if none (or bad markup,
    which the fixture then reports with its message)."""
    try:
        nb = nbformat.read(str(REAL), as_version=4)
        checks = self_checks(nb) if solution_regions(nb) else []
    except (OSError, ValueError):
        checks = []
    ids = [c.grade_id for c in checks if c.standalone or not standalone_only]
    return [pytest.param("real", gid, id=f"real-{gid}") for gid in ids] or [
        pytest.param("real", None, id="real-no-regions")]


SYNTHETIC_IDS = ("scales", "fill", "train")
SYNTHETIC_STANDALONE = ("scales", "fill")
ALL_CELLS = ([pytest.param("synthetic", gid, id=f"synthetic-{gid}") for gid in SYNTHETIC_IDS]
             + _real_ids(False))
STANDALONE_CELLS = ([pytest.param("synthetic", gid, id=f"synthetic-{gid}") for gid in SYNTHETIC_STANDALONE]
                    + _real_ids(True))
NOTEBOOKS = [pytest.param("synthetic", id="synthetic"), pytest.param("real", id="real")]


def outside_regions(source: str) -> list[str]:
    """A reference cell's lines outside its solution regions (markers dropped); independent of the tool."""
    kept, inside = [], False
    for line in source.split("\n"):
        if line.strip() in (BEGIN, END):
            inside = line.strip() == BEGIN
        elif not inside:
            kept.append(line)
    return kept


def is_stub_line(line: str) -> bool:
    return line.strip() == STUB_COMMENT or line.strip().startswith('raise NotImplementedError("')


# --- the namespace of a standalone self-check -----------------------------------------------------

@functools.cache
def _libraries() -> dict:
    import keras
    import tensorflow as tf
    from keras import layers

    return {"np": np, "pd": pd, "tf": tf, "keras": keras, "layers": layers, "math": math}


def run_cell(source: str, namespace: dict, label: str) -> None:
    exec(compile(source, label, "exec"), namespace)


def check_namespace(case: Case, without: str) -> dict:
    """np, pd, tf, keras, layers, math, the parameters, needs_training=True, and the reference versions
    of the standalone-checked solution cells other than ``without``, run in notebook order."""
    namespace = {"__name__": "__main__", **_libraries(), **case.params, "needs_training": True}
    for check in case.checks.values():
        if check.standalone and check.grade_id != without:
            index = check.solution_index
            run_cell(case.nb.cells[index].source, namespace, f"reference cell {index} ({check.grade_id})")
    return namespace


def assert_stub_fails_loudly(case: Case, grade_id: str, student) -> None:
    """The student version of ``grade_id``'s cell, or else its check, raises that cell's stub error."""
    check = case.checks[grade_id]
    namespace = check_namespace(case, without=grade_id)
    stage = f"the student version of cell {check.solution_index} ({grade_id})"
    try:
        run_cell(student.cells[check.solution_index + 1].source, namespace, stage)
        if not check.standalone:
            pytest.fail(f"{stage} ran without raising NotImplementedError; its check is not standalone, so "
                        f"the region must sit inside `if needs_training:` and raise at once")
        stage = f"its check, cell {check.check_index}, run on the stub"
        run_cell(case.nb.cells[check.check_index].source, namespace, stage)
    except NotImplementedError as error:
        assert grade_id in str(error), f"{stage} raised an unrelated NotImplementedError: {error}"
        return
    except Exception as error:  # noqa: BLE001 - any other failure is what this test reports
        pytest.fail(f"{stage} raised {type(error).__name__}: {error} - not the stub's NotImplementedError")
    pytest.fail(f"{stage} passed silently: an unwritten solution would pass its self-check")


# --- 1. no solution in the student version ---------------------------------------------------------

@pytest.mark.parametrize("case, grade_id", ALL_CELLS, indirect=["case"])
def test_student_cell_holds_no_solution_line(case, grade_id):
    index = case.checks[grade_id].solution_index
    reference = case.nb.cells[index].source
    legitimate = {line.strip() for line in outside_regions(reference)}  # also outside the regions: not secret
    student_lines = {line.strip() for line in case.student.cells[index + 1].source.split("\n")}
    regions = [lines for i, _, lines in solution_regions(case.nb) if i == index]
    assert regions, f"cell {index} has no region"
    leaked = [line.strip() for lines in regions for line in lines
              if line.strip() and line.strip() in student_lines and line.strip() not in legitimate]
    assert not leaked, f"solution lines of cell {index} ({grade_id}) in the student version: {leaked}"
    assert STUB_RAISE.format(grade_id=grade_id).strip() in student_lines


@pytest.mark.parametrize("case", NOTEBOOKS, indirect=True)
def test_no_marker_and_no_answer_key_in_student(case):
    student_text = "\n".join(cell.source for cell in case.student.cells)
    assert "BEGIN SOLUTION" not in student_text and "END SOLUTION" not in student_text
    keys = answer_key_cells(case.nb)
    others = "\n".join(c.source for i, c in enumerate(case.nb.cells) if i not in keys)
    for index in keys:
        assert case.student.cells[index + 1].source == ANSWER_PLACEHOLDER
        assert not case.student.cells[index + 1].get("attachments")
        for line in case.nb.cells[index].source.split("\n"):
            if line.strip() and line.strip() not in others:
                assert line.strip() not in student_text, f"answer key of cell {index} leaks {line.strip()!r}"


def test_synthetic_has_an_answer_key_and_stubs_exactly_as_specified(synthetic):
    assert answer_key_cells(synthetic.nb) == [15]
    assert ANSWER_KEY.split("\n")[0] in synthetic.nb.cells[15].source
    assert synthetic.student.cells[3 + 1].source == SCALES_STUDENT
    assert [(i, gid, len(lines)) for i, gid, lines in solution_regions(synthetic.nb)] == [
        (3, "scales", 2), (3, "scales", 1), (7, "fill", 3), (11, "train", 1)]


def test_real_notebook_has_the_six_exercises(real):
    ids = {gid for _, gid, _ in solution_regions(real.nb)}
    assert set(REAL_IDS) <= ids, f"missing solution cells: {sorted(set(REAL_IDS) - ids)}"
    not_standalone = {gid for gid in REAL_IDS if not real.checks[gid].standalone}
    assert not_standalone == set(NOT_STANDALONE), "only the fit check may need the notebook's trained state"


# --- 2. cells stay aligned and clean ---------------------------------------------------------------

@pytest.mark.parametrize("case", NOTEBOOKS, indirect=True)
def test_cells_aligned_unchanged_and_cleared(case):
    reference, student = case.nb, case.student
    assert len(student.cells) == len(reference.cells) + 1
    header = student.cells[0]
    assert header.cell_type == "markdown" and "make student" in header.source
    assert "NotImplementedError" in header.source and "self-check" in header.source
    regions, keys = case.region_cells(), set(answer_key_cells(reference))
    for index, (ref, stu) in enumerate(zip(reference.cells, student.cells[1:])):
        assert stu.cell_type == ref.cell_type and stu.get("id") == ref.get("id"), f"cell {index} moved"
        assert "execution" not in stu.metadata
        assert stu.metadata == {k: v for k, v in ref.metadata.items() if k != "execution"}, f"cell {index}"
        if stu.cell_type == "code":
            assert stu.outputs == [] and stu.execution_count is None, f"cell {index} keeps outputs"
        if index in regions:
            kept = [line for line in stu.source.split("\n") if not is_stub_line(line)]
            assert kept == outside_regions(ref.source), f"cell {index}: lines outside the regions changed"
        elif index not in keys:
            assert stu.source == ref.source, f"cell {index} changed"
    assert len({c.get("id") for c in student.cells}) == len(student.cells)
    nbformat.validate(student)


def test_reference_notebook_object_is_not_modified(synthetic):
    before = nbformat.writes(synthetic.nb)
    make_student(synthetic.nb)
    assert nbformat.writes(synthetic.nb) == before
    assert synthetic.nb.cells[1].outputs and synthetic.nb.cells[1].metadata["execution"]


# --- 3. the reference passes its standalone self-checks ---------------------------------------------

@pytest.mark.parametrize("case, grade_id", STANDALONE_CELLS, indirect=["case"])
def test_reference_passes_its_standalone_check(case, grade_id):
    check = case.checks[grade_id]
    assert check.standalone
    namespace = check_namespace(case, without=grade_id)
    run_cell(case.nb.cells[check.solution_index].source, namespace, f"reference cell {check.solution_index}")
    run_cell(case.nb.cells[check.check_index].source, namespace, f"check cell {check.check_index}")


# --- 4. every stub fails loudly ---------------------------------------------------------------------

@pytest.mark.parametrize("case, grade_id", ALL_CELLS, indirect=["case"])
def test_stub_fails_loudly(case, grade_id):
    assert_stub_fails_loudly(case, grade_id, case.student)


def _with_stub(student, grade_id, replacement):
    changed = copy.deepcopy(student)
    for cell in changed.cells:
        cell.source = cell.source.replace(STUB_RAISE.format(grade_id=grade_id), replacement)
    return changed


@pytest.mark.parametrize("grade_id, replacement, message", [
    ("fill", "return None", "passed silently"),                  # FILL_CHECK accepts a None-returning stub
    ("scales", "return None", "AssertionError"),                 # a check that fails, but not loudly enough
    ("scales", "raise NotImplementedError('later')", "unrelated NotImplementedError"),
    ("train", "pass", "must sit inside `if needs_training:`"),
])
def test_stub_test_catches_quiet_stubs(synthetic, grade_id, replacement, message):
    quiet = _with_stub(synthetic.student, grade_id, replacement)
    with pytest.raises((pytest.fail.Exception, AssertionError), match=message):
        assert_stub_fails_loudly(synthetic, grade_id, quiet)


# --- 5. malformed markup is refused, naming the cell -----------------------------------------------

def _nb(*cells):
    return new_notebook(cells=[new_markdown_cell("# T"), *cells])


def _sol(source, gid="task"):
    return new_code_cell(source, metadata=solution_meta(gid))


def _chk(gid="task"):
    return new_code_cell("assert True", metadata=check_meta(gid))


GOOD = f"def f():\n    # do it\n    {BEGIN}\n    return 1\n    {END}\n"


@pytest.mark.parametrize("notebook, message", [
    (_nb(_sol(f"x = 1\n{BEGIN}\ny = 2\n"), _chk()), r"cell 1 \(grade_id 'task'\): line 2: .*without a .*END"),
    (_nb(_sol(f"x = 1\n{END}\n"), _chk()), r"cell 1 \(grade_id 'task'\): line 2: .*END SOLUTION.* without"),
    (_nb(_sol(f"{BEGIN}\nx = 1\n  {BEGIN}\ny = 2\n{END}\n"), _chk()),
     r"cell 1 \(grade_id 'task'\): line 3: .*nest"),
    (_nb(new_code_cell(GOOD), _chk()), r"cell 1 \(no nbgrader grade_id\): .*without nbgrader solution"),
    (_nb(_sol(GOOD), new_code_cell(GOOD, metadata=check_meta("task"))),
     r"cell 2 \(grade_id 'task_check'\): .*without nbgrader solution"),
    (_nb(_sol(GOOD), _chk(), _sol(GOOD)), r"cell 3 \(grade_id 'task'\): duplicate grade_id 'task'.* cell 1"),
    (_nb(_sol(GOOD), _chk(), _sol(GOOD, "other")),
     r"cell 3 \(grade_id 'other'\): no self-check .*'other_check'"),
    (_nb(new_code_cell("x = 1"), new_markdown_cell(ANSWER_KEY, metadata=solution_meta("ex"))),
     r"no .* region"),
    (_nb(_sol(GOOD.replace("###", "##")), _chk()), r"cell 1 \(grade_id 'task'\): line 3: .*not exactly"),
    (_nb(_sol(f"x = 1\n{BEGIN}\n\n{END}\n"), _chk()), r"cell 1 \(grade_id 'task'\): lines 2-4: empty"),
    (_nb(_sol(f"if x:\n    {BEGIN}\n    y = 1\nz = 2\n    {END}\n"), _chk()),
     r"cell 1 .*line 4 .*less indented"),
    (_nb(new_markdown_cell(GOOD), _sol(GOOD), _chk()), r"cell 1 \(no nbgrader grade_id\): .*markdown cell"),
    (_nb(_chk(), _sol(GOOD)), r"cell 2 \(grade_id 'task'\): its check, cell 1 .*comes before"),
    (_nb(_sol("x = 1"), _chk()), r"cell 1 \(grade_id 'task'\): .*without a .* region"),
    (_nb(_sol(f"{BEGIN}\nif a:\n    b = 1\n{END}\nelse:\n    b = 2\n"), _chk()),
     r"cell 1 \(grade_id 'task'\): the student version does not compile"),
], ids=["begin-without-end", "end-without-begin", "nested", "no-metadata", "region-in-check", "duplicate-id",
        "no-check", "no-regions", "malformed-marker", "empty-region", "dedented", "markdown-region",
        "check-first", "solution-without-region", "stub-does-not-compile"])
def test_malformed_markup_is_refused_naming_the_cell(notebook, message):
    with pytest.raises(MarkupError, match=message):
        make_student(notebook)


def test_a_well_formed_minimal_notebook_is_accepted():
    student = make_student(_nb(_sol(GOOD), _chk()))
    assert STUB_RAISE.format(grade_id="task") in student.cells[2].source


# --- 6. the command line ---------------------------------------------------------------------------

SCRIPT = REPO / "tools" / "make_student.py"


def cli(*args, cwd=REPO):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def test_cli_writes_the_student_notebook(synthetic, tmp_path):
    out = tmp_path / "student.ipynb"
    result = cli(synthetic.path, out)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\n") == 1 and str(out) in result.stdout
    assert "4 solution region(s) in 3 cell(s)" in result.stdout and "1 answer key(s) blanked" in result.stdout
    written = nbformat.read(str(out), as_version=4)
    assert [c.source for c in written.cells] == [c.source for c in synthetic.student.cells]


def test_cli_defaults_are_the_assignment_files(synthetic, tmp_path):
    (tmp_path / "Assignment_4.ipynb").write_bytes(synthetic.path.read_bytes())
    result = cli(cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "Assignment_4_student.ipynb").is_file()


def test_cli_reports_errors_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.ipynb"
    nbformat.write(_nb(_sol(f"x = 1\n{BEGIN}\n"), _chk()), str(bad))
    out = tmp_path / "out.ipynb"
    result = cli(bad, out)
    assert result.returncode == 1 and "cell 1 (grade_id 'task')" in result.stderr and not out.exists()
    assert cli(bad, bad).returncode == 1 and "is the reference itself" in cli(bad, bad).stderr
    assert cli(tmp_path / "missing.ipynb", out).returncode == 1


def test_make_student_target_runs_the_tool():
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    result = subprocess.run(["make", "-n", "--no-print-directory", "student"], cwd=REPO, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "tools/make_student.py Assignment_4.ipynb Assignment_4_student.ipynb" in result.stdout
    assert "Assignment_4_student.ipynb" in (REPO / ".gitignore").read_text().split("\n")
