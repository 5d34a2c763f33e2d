"""The instructor's grading path, end to end with the real nbgrader (slow: three graded runs of the notebook).

In a temporary course directory: the release is generated from the reference (`make release-notebook`,
the recipe of `make release`); three students submit it (placed straight under
``submitted/<student>/assignment4/``, which is what ``nbgrader collect`` would do): "solved" fills every
solution cell with the reference's code, "broken_a" and "broken_b" too but with one typical mistake in
some regions (:data:`MISTAKES`). ``ASSIGNMENT4_PRESET=grading nbgrader autograde`` grades them on the
grading budget and ``nbgrader generate_feedback`` writes their feedback. The tests read the gradebook and
the folders: full marks for "solved"; each mistake costs exactly the points of its region's check; the
solved notebook runs to the end without an error in a folder that holds only the release (so the release
runs on its own); the feedback names each mistake and is small; no run folder or data cache is copied.

Select or skip it with ``pytest -m grading`` / ``pytest -m "not grading"``; it runs by default.
"""
from __future__ import annotations

import html
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "Assignment_4.ipynb"
ASSIGNMENT, NOTEBOOK = "assignment4", "Assignment_4"
STUDENTS = ("solved", "broken_a", "broken_b")
#: The feedback HTML embeds every figure of the graded notebook (about 2.3 MB with section 14's); the
#: bound catches a blow-up (a figure per epoch, data printed in an output), not one figure more.
MAX_FEEDBACK_BYTES = 3_000_000
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"

#: ``{student: {grade_id: (text in the reference's solution cell, its replacement, words the feedback
#: must show)}}``: one typical mistake per region, made by replacing every occurrence of the text.
MISTAKES: dict[str, dict[str, tuple[str, str, tuple[str, ...]]]] = {
    "broken_a": {
        # no skip connections
        "build_model": ("if skip_connections and", "if False and", ("skip connections are missing",)),
        # nats, not bits: no division by ln 2
        "bits_per_char": (" / np.log(2.0)", "", ("divide by ln 2",)),
        # the LSTM state is not carried from one character to the next
        "generate_text": ("generator.read(char, state)", "generator.read(char)", ("pass the state",)),
        # the gate blocks read in the wrong order (i, f, o, g instead of Keras' i, f, g, o)
        "lstm_step": ("z_i, z_f, z_g, z_o = np.split", "z_i, z_f, z_o, z_g = np.split", ("gate order",)),
    },
    "broken_b": {
        # a constant learning rate instead of the cosine schedule
        "compile_model": ("learning_rate=schedule", "learning_rate=learning_rate",
                          ("the learning rate is a constant",)),
        # one epoch instead of the budget
        "fit": ("epochs=EPOCHS", "epochs=1", ("model.fit got epochs=1",)),
        # the temperature is ignored
        "sample_next_char": (") / temperature", ")", ("ignore the temperature",)),
    },
}

pytestmark = [
    pytest.mark.grading,
    pytest.mark.skipif(importlib.util.find_spec("nbgrader") is None or shutil.which("make") is None,
                       reason="nbgrader (requirements.txt) or make is not installed"),
]


# --- building the course --------------------------------------------------------------------------------

def nbgrader(*args, course: Path, env: dict | None = None) -> str:
    """Run nbgrader from the repository root (it reads nbgrader_config.py there) on ``course``."""
    bin_dir = str(Path(sys.executable).parent)  # nbgrader runs `alembic` by name: this venv's bin/ first
    env = {**os.environ, **(env or {}), "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    result = subprocess.run([sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.root={course}"],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=3600)
    assert result.returncode == 0, (f"nbgrader {' '.join(args)} failed:\n"
                                    f"{result.stdout[-5000:]}\n{result.stderr[-5000:]}")
    return result.stdout + result.stderr


def build_release(course: Path, reference: Path) -> Path:
    """``make release-notebook`` into ``course``; return nbgrader's release folder."""
    result = subprocess.run(
        ["make", "--no-print-directory", "release-notebook", f"COURSE_DIR={course}",
         f"RELEASE_NB={course / 'committed.ipynb'}", f"REFERENCE={reference}", f"VENV={sys.prefix}"],
        cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, f"make release-notebook failed:\n{result.stdout}\n{result.stderr}"
    return course / "release" / ASSIGNMENT


def solution_code(source: str) -> str:
    """A solution cell as a student would hand it in: the reference's code without the region markers."""
    return "\n".join(line for line in source.splitlines() if line.strip() not in (BEGIN, END))


def submission(release_nb, reference_nb, mistakes: dict) -> nbformat.NotebookNode:
    """The release notebook with every solution cell's source taken from the reference (matched by
    grade_id; nbgrader's metadata stays the release's), then each mistake applied to its cell."""
    solutions = {cell.metadata["nbgrader"]["grade_id"]: cell.source for cell in reference_nb.cells
                 if cell.metadata.get("nbgrader", {}).get("solution")}
    unknown = set(mistakes) - set(solutions)
    assert not unknown, f"MISTAKES names regions the reference does not have: {sorted(unknown)}"
    nb = nbformat.reads(nbformat.writes(release_nb), as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if not cell.metadata.get("nbgrader", {}).get("solution"):
            continue
        source = solution_code(solutions[grade_id])
        if grade_id in mistakes:
            old, new, _ = mistakes[grade_id]
            assert old in source, f"MISTAKES[{grade_id!r}]: {old!r} is not in the reference's {grade_id} cell"
            source = source.replace(old, new)
        cell.source = source
    return nb


def submit(course: Path, release: Path, student: str, nb) -> None:
    folder = course / "submitted" / student / ASSIGNMENT
    shutil.copytree(release, folder)
    nbformat.write(nb, folder / f"{NOTEBOOK}.ipynb")


def grade_course(course: Path, reference: Path, mistakes: dict, data_dir: Path) -> None:
    """Release, submit ("solved" plus one student per entry of ``mistakes``), autograde, feedback."""
    release = build_release(course, reference)
    release_nb = nbformat.read(release / f"{NOTEBOOK}.ipynb", as_version=4)
    reference_nb = nbformat.read(reference, as_version=4)
    for student in ("solved", *mistakes):
        submit(course, release, student, submission(release_nb, reference_nb, mistakes.get(student, {})))
    nbgrader("autograde", ASSIGNMENT, "--force", course=course,
             env={"ASSIGNMENT4_PRESET": "grading", "ASSIGNMENT4_DATA_DIR": str(data_dir)})
    nbgrader("generate_feedback", ASSIGNMENT, "--force", course=course)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    grade_course(root, REFERENCE, MISTAKES, tmp_path_factory.mktemp("data"))
    return root


# --- reading the results --------------------------------------------------------------------------------

def autograded_scores(course: Path, student: str) -> dict[str, tuple[float, float]]:
    """``{grade_id: (auto_score, max_score)}`` of the autograded (code) grade cells of a submission."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        notebook = gradebook.find_submission_notebook(NOTEBOOK, ASSIGNMENT, student)
        return {grade.name: (grade.auto_score, grade.max_score) for grade in notebook.grades
                if grade.cell_type == "code"}


def feedback_text(course: Path, student: str) -> str:
    """The feedback page as text: tags removed (tracebacks are coloured span by span), entities decoded,
    whitespace runs collapsed to one space."""
    page = (course / "feedback" / student / ASSIGNMENT / f"{NOTEBOOK}.html").read_text()
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", page)).split())


def folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def test_solved_gets_full_marks_on_every_check(course):
    scores = autograded_scores(course, "solved")
    assert scores, "no autograded cell in the gradebook"
    assert {name: score for name, score in scores.items() if score[0] != score[1]} == {}


@pytest.mark.parametrize("student", sorted(MISTAKES))
def test_each_mistake_costs_exactly_its_check(course, student):
    scores = autograded_scores(course, student)
    broken = {f"{grade_id}_check" for grade_id in MISTAKES[student]}
    assert broken <= set(scores), f"checks missing from the gradebook: {sorted(broken - set(scores))}"
    expected = {name: (0.0 if name in broken else max_score, max_score)
                for name, (_, max_score) in scores.items()}
    assert scores == expected


def test_solved_notebook_runs_to_the_end_without_errors(course):
    graded = nbformat.read(course / "autograded" / "solved" / ASSIGNMENT / f"{NOTEBOOK}.ipynb", as_version=4)
    errors = [f"cell {i}: {output.ename}: {output.evalue}" for i, cell in enumerate(graded.cells)
              if cell.cell_type == "code" for output in cell.outputs if output.output_type == "error"]
    assert not errors, errors
    not_run = [i for i, cell in enumerate(graded.cells) if cell.cell_type == "code" and cell.source.strip()
               and cell.execution_count is None]
    assert not not_run, f"cells never executed: {not_run}"


@pytest.mark.parametrize("student", STUDENTS)
def test_feedback_is_small(course, student):
    size = folder_bytes(course / "feedback" / student / ASSIGNMENT)
    assert size < MAX_FEEDBACK_BYTES, f"{student}'s feedback folder is {size / 1e6:.1f} MB"


def error_messages(course: Path, student: str) -> list[str]:
    """``"<ename>: <evalue>"`` of every error in a student's graded notebook (checks and solution cells)."""
    graded = nbformat.read(course / "autograded" / student / ASSIGNMENT / f"{NOTEBOOK}.ipynb", as_version=4)
    return [f"{output.ename}: {output.evalue}" for cell in graded.cells if cell.cell_type == "code"
            for output in cell.outputs if output.output_type == "error"]


@pytest.mark.parametrize("student, grade_id", [(s, g) for s in sorted(MISTAKES) for g in MISTAKES[s]])
def test_feedback_names_the_mistake(course, student, grade_id):
    # The feedback page also shows every check cell's source, messages included: so the words must be
    # in an error the graded notebook raised, and the page must show that error.
    words = MISTAKES[student][grade_id][2]
    errors = error_messages(course, student)
    named = [error for error in errors if all(word in error for word in words)]
    assert named, f"no error in {student}'s graded notebook says {words} ({grade_id}); its errors: {errors}"
    text = feedback_text(course, student)
    shown = any(" ".join(error.split()) in text for error in named)
    assert shown, f"{student}'s feedback does not show {named}"


@pytest.mark.parametrize("step", ["autograded", "feedback"])
def test_graded_folders_hold_no_runs_or_caches(course, step):
    # (the kernel that graded a notebook leaves utils/__pycache__ in autograded/; feedback must not copy it)
    junk = {"runs", "downloads"} | ({"__pycache__"} if step == "feedback" else set())
    found = [path.relative_to(course) for path in (course / step).rglob("*")
             if path.name in junk or path.name.startswith(("shakespeare", "run-")) or path.suffix == ".keras"]
    assert not found, f"{step} holds run folders or caches: {found}"
