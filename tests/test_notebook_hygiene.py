"""The committed notebook is a clean reference for nbval: executed in order, no errors, no stderr."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "Assignment_4.ipynb"


@pytest.fixture(scope="module")
def cells():
    return json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]


def code_cells(cells):
    return [c for c in cells if c["cell_type"] == "code"]


def test_code_cells_executed_in_order(cells):
    counts = [c["execution_count"] for c in code_cells(cells)]
    assert counts == list(range(1, len(counts) + 1)), f"execution counts {counts}"


def test_no_errors_and_no_stderr(cells):
    for i, cell in enumerate(code_cells(cells), 1):
        for out in cell["outputs"]:
            assert out["output_type"] != "error", f"code cell {i} has an error output"
            assert out.get("name") != "stderr", f"code cell {i} wrote to stderr: {''.join(out['text'])[:200]}"


def test_every_code_cell_follows_a_markdown_cell(cells):
    for prev, cell in zip(cells, cells[1:]):
        if cell["cell_type"] == "code":
            source = "".join(cell["source"])[:80]
            assert prev["cell_type"] == "markdown", f"code cell without explanation: {source}"


def test_one_parameters_cell_first_among_code_cells(cells):
    tagged = [c for c in code_cells(cells) if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1 and tagged[0] is code_cells(cells)[0]


def test_nbval_markers_alone_on_their_line(cells):
    for cell in code_cells(cells):
        for line in "".join(cell["source"]).splitlines():
            if line.startswith("# NBVAL"):
                assert line.strip() in {"# NBVAL_IGNORE_OUTPUT", "# NBVAL_CHECK_OUTPUT", "# NBVAL_SKIP",
                                        "# NBVAL_RAISES_EXCEPTION"}, f"marker with trailing text: {line!r}"


def test_no_machine_specific_paths_in_outputs(cells):
    local = re.compile(r"(/tmp/|/root/|/home/|/Users/|site-packages)")
    for i, cell in enumerate(code_cells(cells), 1):
        for out in cell["outputs"]:
            text = "".join(out.get("text", "")) + "".join(out.get("data", {}).get("text/plain", ""))
            assert not local.search(text), f"code cell {i} prints a machine-specific path"
