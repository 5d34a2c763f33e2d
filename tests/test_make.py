"""The README's two commands fail early and clearly on a bad machine, and repair a broken .venv."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def make(*args, cwd=REPO):
    return subprocess.run(["make", "--no-print-directory", *args], cwd=cwd, capture_output=True, text=True)


def fake_python(tmp_path, body: str) -> Path:
    path = tmp_path / "python"
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return path


def test_old_python_is_refused_with_the_fix(tmp_path):
    old = fake_python(tmp_path, 'case "$1" in --version) echo "Python 3.10.4";; *) exit 1;; esac')
    result = make("check-python", f"PYTHON={old}")
    assert result.returncode != 0
    assert "Python >= 3.11 is needed" in result.stderr and "Python 3.10.4" in result.stderr


def test_missing_python_is_refused(tmp_path):
    result = make("check-python", f"PYTHON={tmp_path / 'no-such-python'}")
    assert result.returncode != 0 and "not found" in result.stderr


def test_python_without_venv_is_refused_with_the_fix(tmp_path):
    # accepts the version check, fails the `import venv, ensurepip` check
    body = 'case "$2" in *version_info*) exit 0;; *) exit 1;; esac'
    result = make("check-python", f"PYTHON={fake_python(tmp_path, body)}")
    assert result.returncode != 0 and "python3-venv" in result.stderr


def test_this_python_passes_the_check():
    assert make("check-python").returncode == 0


def test_a_broken_venv_with_a_stamp_is_removed(tmp_path):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / ".installed").touch()
    fake_python(venv / "bin", "exit 1")  # its packages do not import
    result = make("check-venv", f"VENV={venv}")
    assert result.returncode == 0 and "is broken" in result.stderr
    assert not venv.exists()


def test_a_venv_without_a_stamp_is_left_to_setup(tmp_path):
    venv = tmp_path / "venv"
    venv.mkdir()
    assert make("check-venv", f"VENV={venv}").returncode == 0 and venv.exists()


def test_ci_script_removes_its_environment():
    script = (REPO / ".ci" / "run").read_text()
    assert "trap 'rm -rf \"$ci_tmp\"' EXIT" in script and 'VENV="${VENV:-$ci_tmp/venv}"' in script


def release(tmp_path, reference, release_nb):
    """``make release-notebook`` with a stand-in for nbgrader that writes a recognisable notebook."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    (venv / "bin" / "nbgrader").write_text(
        '#!/bin/sh\nfor a; do case "$a" in --CourseDirectory.root=*) root="${a#*=}";; esac; done\n'
        'out="$root/release/assignment4"; mkdir -p "$out" && echo released > "$out/Assignment_4.ipynb"\n')
    for tool in ("python", "nbgrader"):
        (venv / "bin" / tool).chmod(0o755)
    return make("release-notebook", f"VENV={venv}", f"COURSE_DIR={tmp_path / 'course'}",
                f"REFERENCE={reference}", f"RELEASE_NB={release_nb}")


def test_release_replaces_a_hard_link_to_the_reference_instead_of_writing_through_it(tmp_path):
    import nbformat

    reference = tmp_path / "reference.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), reference)
    before = reference.read_bytes()
    release_nb = tmp_path / "release" / "Assignment_4.ipynb"
    release_nb.parent.mkdir()
    release_nb.hardlink_to(reference)
    result = release(tmp_path, reference, release_nb)
    assert result.returncode == 0, result.stderr
    assert release_nb.read_text() == "released\n" and reference.read_bytes() == before


def test_release_of_a_reference_that_is_not_json_is_a_one_line_error(tmp_path):
    reference = tmp_path / "reference.ipynb"
    reference.write_text("not a notebook")
    result = release(tmp_path, reference, tmp_path / "release" / "Assignment_4.ipynb")
    errors = [line for line in result.stderr.splitlines() if not line.startswith("make")]
    assert result.returncode != 0 and len(errors) == 1, result.stderr
    assert str(reference) in errors[0] and "does not appear to be JSON" in errors[0]
