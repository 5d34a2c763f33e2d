"""The README's two commands fail early and clearly on a bad machine, and repair a broken .venv."""
from __future__ import annotations

import shutil
import subprocess
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
