"""The student release (`make release`, nbgrader generate_assignment) is current, hides every solution and
runs its Colab set-up from a repository that holds only the release.

Fast: nothing here executes the notebook. The release is regenerated once per session into a temporary
course directory with the Makefile's own recipe (`make release-notebook`), so the tests check exactly
what `make release` commits.
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "Assignment_4.ipynb"
COMMITTED_RELEASE = REPO / "release" / "Assignment_4.ipynb"
ASSIGNMENT = "assignment4"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
MIN_SECRET_CHARS = 25  # shorter solution lines (`return text`, `x, layer_outputs = ...`) are too generic
COLAB_SETUP_TAG = "colab-setup"
# Solution lines that are Keras boilerplate which utils/ needs for its own models (the memory task's
# models, the state views of utils/model.py): shipping them tells a student nothing the task text does not.
GENERIC_LINES = {
    'ids = keras.Input(shape=(None,), dtype="int32", name="ids")',
    "loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),",
}

pytestmark = pytest.mark.skipif(importlib.util.find_spec("nbgrader") is None or shutil.which("make") is None,
                                reason="nbgrader (requirements.txt) or make is not installed")


def build_release(course: Path, reference: Path | None = None) -> Path:
    """Run the Makefile's release recipe into ``course``; return the notebook it would commit."""
    reference = reference or REFERENCE
    notebook = course / "Assignment_4.ipynb"
    result = subprocess.run(
        ["make", "--no-print-directory", "release-notebook", f"COURSE_DIR={course}", f"RELEASE_NB={notebook}",
         f"REFERENCE={reference}", f"VENV={sys.prefix}"],
        cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, f"make release-notebook failed:\n{result.stdout}\n{result.stderr}"
    return notebook


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """``(notebook, folder)``: the regenerated release notebook and nbgrader's release folder."""
    course = tmp_path_factory.mktemp("course")
    notebook = build_release(course)
    return notebook, course / "release" / ASSIGNMENT


def release_files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file())


# --- (a) the committed release is current --------------------------------------------------------------

def test_committed_release_is_what_make_release_produces(release):
    notebook, _ = release
    assert COMMITTED_RELEASE.exists(), f"{COMMITTED_RELEASE.relative_to(REPO)} is missing: run `make release`"
    assert json.loads(COMMITTED_RELEASE.read_text()) == json.loads(notebook.read_text()), (
        f"{COMMITTED_RELEASE.relative_to(REPO)} is out of date with {REFERENCE.name}: run `make release` "
        "and commit the result")


def test_release_is_deterministic(release, tmp_path):
    notebook, _ = release
    again = build_release(tmp_path / "course")
    assert again.read_bytes() == notebook.read_bytes()


# --- (b) no solution reaches the students ---------------------------------------------------------------

def solution_regions(cell) -> list[list[str]]:
    """The lines between each ``### BEGIN SOLUTION`` and ``### END SOLUTION`` of a cell."""
    regions, current = [], None
    for line in cell.source.splitlines():
        if line.strip() == BEGIN:
            current = []
        elif line.strip() == END:
            regions.append(current)
            current = None
        elif current is not None:
            current.append(line)
    return regions


def secret_lines(reference) -> set[str]:
    """Non-trivial lines of every solution region and answer key that occur nowhere else in the reference
    (a line that the reference also shows outside its solutions, e.g. in the task text, is not a secret)."""
    secret, public = set(), set()
    for cell in reference.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and cell.cell_type == "markdown":
            hidden = cell.source.splitlines()
        elif meta.get("solution"):
            hidden = [line for region in solution_regions(cell) for line in region]
        else:
            hidden = []
        shown = [line for line in cell.source.splitlines() if line not in hidden]
        secret.update(line.strip() for line in hidden)
        public.update(line.strip() for line in shown)
    return {line for line in secret - public - GENERIC_LINES
            if len(line) >= MIN_SECRET_CHARS and not line.startswith("#")}


def test_reference_has_solutions_to_hide():
    reference = nbformat.read(REFERENCE, as_version=4)
    assert len(secret_lines(reference)) > 50


def test_no_release_file_contains_a_solution_line(release):
    notebook, folder = release
    secrets = secret_lines(nbformat.read(REFERENCE, as_version=4))
    files = [notebook, *release_files(folder)]
    assert any(path.name == "Assignment_4.ipynb" for path in release_files(folder))
    assert any(path.parts[-2:] == ("utils", "__init__.py") for path in release_files(folder))
    leaks = []
    for path in files:
        text = path.read_text(errors="ignore")
        if path.suffix == ".ipynb":  # the cells as the student sees them (JSON escapes quotes)
            text += "\n".join(cell.source for cell in nbformat.reads(text, as_version=4).cells)
        assert BEGIN not in text and END not in text, f"{path.name} holds solution markers"
        leaks += [f"{path.relative_to(path.parents[1])}: {line}" for line in secrets if line in text]
    assert not leaks, "solution lines in the release:\n" + "\n".join(sorted(leaks))


def test_release_notebook_has_no_outputs(release):
    notebook, _ = release
    cells = nbformat.read(notebook, as_version=4).cells
    executed = [i for i, cell in enumerate(cells)
                if cell.cell_type == "code" and (cell.outputs or cell.execution_count)]
    assert not executed, f"cells with outputs in the release: {executed}"


def test_release_holds_no_runs_or_caches(release):
    _, folder = release
    names = {part for path in release_files(folder) for part in path.relative_to(folder).parts}
    assert not names & {"runs", "downloads", "__pycache__", ".ipynb_checkpoints", ".venv"}
    assert not [name for name in names if name.startswith(("shakespeare", "run-")) or name.endswith(".keras")]


# --- (c) the Colab set-up cell fetches the release only -------------------------------------------------

def tagged_cell(nb, tag: str):
    cells = [cell for cell in nb.cells if tag in cell.metadata.get("tags", [])]
    assert len(cells) == 1, f"expected one cell tagged {tag!r} in the release notebook, found {len(cells)}"
    return cells[0]


def git(*args, cwd):
    subprocess.run(["git", "-c", "user.name=test", "-c", "user.email=test@example.com", "-c",
                    "init.defaultBranch=main", *args], cwd=cwd, check=True, capture_output=True)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_colab_setup_cell_fetches_a_runnable_release(release, tmp_path):
    from nbclient import NotebookClient
    from nbformat.v4 import new_code_cell, new_notebook

    notebook, folder = release
    student = nbformat.read(notebook, as_version=4)
    # What the students' repository holds: the release folder and nothing else.
    repo = tmp_path / "students-repo"
    shutil.copytree(folder, repo)
    git("init", "--quiet", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "--quiet", "-m", "release", cwd=repo)
    colab = tmp_path / "content"  # Colab's empty working directory
    colab.mkdir()
    probe = ("import json, os, utils\n"
             "print(json.dumps({'cwd': os.getcwd(), 'utils': os.path.abspath(utils.__file__)}))")
    cells = [
        new_code_cell("import sys, types\nsys.modules['google.colab'] = types.ModuleType('google.colab')"),
        new_code_cell(tagged_cell(student, "parameters").source),
        new_code_cell(f"COLAB_REPO_URL = {repo.as_uri()!r}"),
        new_code_cell(tagged_cell(student, COLAB_SETUP_TAG).source),
        new_code_cell(probe),
    ]
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}  # utils: from the clone
    client = NotebookClient(new_notebook(cells=cells, metadata=student.metadata), timeout=300,
                            kernel_name="python3", resources={"metadata": {"path": str(colab)}})
    client.execute(env=env)
    outputs = [o for cell in client.nb.cells for o in cell.outputs]
    errors = [f"{o.ename}: {o.evalue}" for o in outputs if o.output_type == "error"]
    assert not errors, errors
    seen = json.loads(client.nb.cells[-1].outputs[-1].text.strip().splitlines()[-1])
    cwd = Path(seen["cwd"])
    assert cwd == colab or colab in cwd.parents, f"the set-up cell left Colab's folder: {cwd}"
    assert Path(seen["utils"]).is_relative_to(cwd / "utils"), f"utils came from {seen['utils']}, not {cwd}"
    assert (cwd / "requirements.txt").is_file() and (cwd / "requirements-data.txt").is_file()
    solutions = [path for path in colab.rglob("*") if path.is_file() and ".git" not in path.parts
                 and BEGIN in path.read_text(errors="ignore")]
    assert not solutions, f"reference material reached Colab: {solutions}"
