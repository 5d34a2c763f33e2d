"""Generate the student version of the assignment notebook from the reference (nbgrader's markup).

Conventions read from the reference notebook (cell indices below are 0-based positions in the
notebook's cell list, as :mod:`nbformat` reads it):

* A **solution region** is the lines of a code cell between a line ``### BEGIN SOLUTION`` and a
  line ``### END SOLUTION`` (the marker lines may be indented and have trailing blanks; the
  region's indentation is that of its BEGIN line, and every non-blank line of the region must be
  indented at least that much). A cell may hold several regions; regions do not nest. The cell
  must carry ``metadata["nbgrader"]`` with ``"solution": true`` and a ``"grade_id"``. The comment
  lines before ``### BEGIN SOLUTION`` describe the task and are kept.
* Each solution code cell ``<id>`` has a **self-check**: a later code cell whose nbgrader
  metadata has ``"grade": true`` and ``"grade_id": "<id>_check"``. The tag ``standalone`` in the
  check cell's ``metadata["tags"]`` says the check runs without the notebook's state.
* An **answer key** is a markdown cell with nbgrader ``"solution": true``. Its whole source is
  replaced by ``*Your answer here.*`` (the cell is kept, so that exercise numbering and cell
  positions stay aligned with the reference); its attachments are dropped. It needs no check.

The student version: every region becomes, at the region's indentation::

    # YOUR CODE HERE (see the task described above)
    raise NotImplementedError("<grade_id>: write this part (see the comment above), then run its self-check")

answer keys are blanked, all outputs and execution counts are cleared, ``metadata.execution``
timestamps are removed, and one markdown cell explaining the student version is inserted first.
Every other cell's source and metadata are kept as they are.

Malformed markup is an error (:class:`MarkupError`, naming the cell index and grade_id): a BEGIN
without END, an END without BEGIN, nested BEGIN, a line that mentions BEGIN/END SOLUTION but is not
exactly a marker, a region outside a code cell with nbgrader solution metadata, an empty region, a
region less indented than its BEGIN line, a solution code cell without a region, a solution cell
without grade_id, duplicate grade_ids, a solution code cell without its later ``<id>_check`` code
cell, a region whose stub would not compile, and a reference with no region at all.

Command line (``make student`` runs it)::

    python tools/make_student.py [REFERENCE] [OUTPUT]
    # defaults: Assignment_4.ipynb Assignment_4_student.ipynb; prints one line, exits 1 on bad markup
"""
from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path
from typing import NamedTuple

import nbformat

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
STUB_COMMENT = "# YOUR CODE HERE (see the task described above)"
STUB_RAISE = ('raise NotImplementedError("{grade_id}: write this part (see the comment above), '
              'then run its self-check")')
ANSWER_PLACEHOLDER = "*Your answer here.*"
STANDALONE_TAG = "standalone"
CHECK_SUFFIX = "_check"
HEADER_ID = "student-version-header"
HEADER = (
    "**Student version.** This notebook is generated from the reference notebook by `make student` "
    "(`tools/make_student.py`); edit this copy, not the reference.\n"
    "\n"
    "Each `raise NotImplementedError(...)` marks code for you to write: the comment just above it "
    "describes the task. Replace the two lines `# YOUR CODE HERE ...` and `raise NotImplementedError(...)` "
    "with your code, run the cell, then run the self-check cell that follows it. "
    "Each *Your answer here.* cell is a written answer for you to give."
)
DEFAULT_REFERENCE = "Assignment_4.ipynb"
DEFAULT_OUTPUT = "Assignment_4_student.ipynb"


class MarkupError(ValueError):
    """The reference notebook's solution markup is malformed; the message names the cell."""


class Region(NamedTuple):
    """One solution region of a cell: marker line numbers (0-based, within the cell), indentation, body."""

    begin: int
    end: int
    indent: str
    lines: list[str]


class SelfCheck(NamedTuple):
    """A solution code cell and its self-check cell (indices 0-based in the notebook's cell list)."""

    grade_id: str
    solution_index: int
    check_index: int
    standalone: bool


def _nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def _where(index: int, grade_id) -> str:
    return f"cell {index} (grade_id {grade_id!r})" if grade_id else f"cell {index} (no nbgrader grade_id)"


def is_answer_key(cell) -> bool:
    """True for an answer-key cell: a markdown cell whose nbgrader metadata has ``solution: true``."""
    return cell.cell_type == "markdown" and bool(_nbgrader(cell).get("solution"))


def _mentions_marker(line: str) -> bool:
    return "BEGIN SOLUTION" in line or "END SOLUTION" in line


def _cell_regions(source: str, where: str) -> list[Region]:
    """The regions of one cell's source; :class:`MarkupError` (prefixed ``where``) on bad markup."""
    lines = source.split("\n")
    regions: list[Region] = []
    begin = None
    for number, line in enumerate(lines):
        marker = line.strip()
        if marker == BEGIN:
            if begin is not None:
                raise MarkupError(f"{where}: line {number + 1}: {BEGIN!r} inside the region opened at line "
                                  f"{begin + 1} (regions do not nest; close it with {END!r} first)")
            begin = number
        elif marker == END:
            if begin is None:
                raise MarkupError(f"{where}: line {number + 1}: {END!r} without a {BEGIN!r} before it")
            indent = lines[begin][: len(lines[begin]) - len(lines[begin].lstrip())]
            body = lines[begin + 1: number]
            if not any(text.strip() for text in body):
                raise MarkupError(f"{where}: lines {begin + 1}-{number + 1}: empty solution region")
            for offset, text in enumerate(body, begin + 2):
                if text.strip() and not text.startswith(indent):
                    raise MarkupError(f"{where}: line {offset} of the region opened at line {begin + 1} is "
                                      f"less indented than its {BEGIN!r} line")
            regions.append(Region(begin, number, indent, body))
            begin = None
        elif _mentions_marker(line):
            raise MarkupError(f"{where}: line {number + 1}: {line.strip()!r} mentions a solution marker "
                              f"but is not exactly {BEGIN!r} or {END!r} on a line of its own")
    if begin is not None:
        raise MarkupError(f"{where}: line {begin + 1}: {BEGIN!r} without a {END!r} after it")
    return regions


def _parse(nb) -> dict[int, tuple[str, list[Region]]]:
    """Validate every cell's markup; return ``{cell index: (grade_id, regions)}`` of solution code cells."""
    found: dict[int, tuple[str, list[Region]]] = {}
    seen_ids: dict[str, int] = {}
    for index, cell in enumerate(nb.cells):
        meta = _nbgrader(cell)
        grade_id = meta.get("grade_id")
        where = _where(index, grade_id)
        if grade_id is not None:
            if grade_id in seen_ids:
                raise MarkupError(f"{where}: duplicate grade_id {grade_id!r}, already used by cell "
                                  f"{seen_ids[grade_id]}")
            seen_ids[grade_id] = index
        if is_answer_key(cell):
            if not grade_id:
                raise MarkupError(f"{where}: answer-key markdown cell (nbgrader solution) without a grade_id")
            continue  # replaced whole, markers and all
        regions = _cell_regions(cell.source, where)
        solution = bool(meta.get("solution"))
        if regions and cell.cell_type != "code":
            raise MarkupError(f"{where}: solution region in a {cell.cell_type} cell; regions belong in "
                              f"code cells (a markdown answer key is a markdown cell with nbgrader "
                              f"solution: true)")
        if regions and not solution:
            raise MarkupError(f"{where}: solution region in a cell without nbgrader solution metadata "
                              f"(metadata['nbgrader'] needs \"solution\": true and a \"grade_id\")")
        if solution and cell.cell_type == "code":
            if not grade_id:
                raise MarkupError(f"{where}: nbgrader solution cell without a grade_id")
            if not regions:
                raise MarkupError(f"{where}: nbgrader solution code cell without a {BEGIN!r} ... {END!r} "
                                  f"region (nothing would be hidden from the student)")
            found[index] = (grade_id, regions)
        elif solution:
            raise MarkupError(f"{where}: nbgrader solution metadata on a {cell.cell_type} cell")
    return found


def solution_regions(nb) -> list[tuple[int, str, list[str]]]:
    """The solution regions of a reference notebook, after validating its markup.

    Args:
        nb: a notebook read with ``nbformat.read(..., as_version=4)`` (not modified).

    Returns:
        ``[(cell_index, grade_id, region_lines), ...]`` in notebook order, one entry per region
        (a cell with two regions gives two entries). ``cell_index`` is 0-based in ``nb.cells``;
        ``region_lines`` are the lines strictly between the markers, without newlines. Empty
        when the notebook has no region (this function does not treat that as an error).

    Raises:
        MarkupError: malformed markers, a region in a cell without nbgrader solution metadata,
            a solution code cell without region or grade_id, duplicate grade_ids.
    """
    return [(index, grade_id, list(region.lines))
            for index, (grade_id, regions) in sorted(_parse(nb).items()) for region in regions]


def answer_key_cells(nb) -> list[int]:
    """0-based indices of the answer-key cells of ``nb`` (markdown with nbgrader ``solution: true``)."""
    return [index for index, cell in enumerate(nb.cells) if is_answer_key(cell)]


def self_checks(nb) -> list[SelfCheck]:
    """Pair every solution code cell with its self-check cell.

    Args:
        nb: a reference notebook (not modified).

    Returns:
        One :class:`SelfCheck` per solution code cell, in notebook order: its grade_id, its index,
        the index of the code cell with nbgrader ``grade: true`` and ``grade_id`` ``<id>_check``,
        and whether that check cell is tagged ``standalone``.

    Raises:
        MarkupError: as :func:`solution_regions`, or a solution code cell has no such check cell
            after it.
    """
    by_id = {_nbgrader(cell).get("grade_id"): index for index, cell in enumerate(nb.cells)}
    pairs = []
    for index, (grade_id, _) in sorted(_parse(nb).items()):
        check_id = grade_id + CHECK_SUFFIX
        where = _where(index, grade_id)
        check_index = by_id.get(check_id)
        if check_index is None:
            raise MarkupError(f"{where}: no self-check cell with grade_id {check_id!r}")
        check = nb.cells[check_index]
        if check.cell_type != "code" or not _nbgrader(check).get("grade"):
            raise MarkupError(f"{where}: its check, cell {check_index} ({check_id!r}), must be a code cell "
                              f"with nbgrader \"grade\": true")
        if check_index < index:
            raise MarkupError(f"{where}: its check, cell {check_index} ({check_id!r}), comes before it")
        standalone = STANDALONE_TAG in check.get("metadata", {}).get("tags", [])
        pairs.append(SelfCheck(grade_id, index, check_index, standalone))
    return pairs


def student_source(source: str, grade_id: str, where: str = "cell") -> str:
    """``source`` with each solution region (markers included) replaced by the two stub lines.

    Args:
        source: a code cell's source.
        grade_id: put in the ``NotImplementedError`` message.
        where: how error messages name the cell.

    Returns:
        The student's source; lines outside regions are kept unchanged.

    Raises:
        MarkupError: malformed markers (see :func:`solution_regions`).
    """
    lines = source.split("\n")
    out: list[str] = []
    position = 0
    for region in _cell_regions(source, where):
        out += lines[position: region.begin]
        out += [region.indent + STUB_COMMENT, region.indent + STUB_RAISE.format(grade_id=grade_id)]
        position = region.end + 1
    out += lines[position:]
    return "\n".join(out)


def _compiles(source: str) -> bool:
    try:
        compile(source, "<cell>", "exec")
    except SyntaxError:
        return False
    return True


def make_student(nb):
    """The student version of a reference notebook.

    Args:
        nb: the reference, read with ``nbformat.read(..., as_version=4)``; it is not modified.

    Returns:
        A new notebook: the header cell first, then every reference cell in order, with solution
        regions replaced by stubs, answer keys replaced by ``*Your answer here.*``, outputs and
        execution counts cleared and ``metadata.execution`` removed.

    Raises:
        MarkupError: malformed markup (see the module docstring), or no region at all.
    """
    regions = _parse(nb)
    if not regions:
        raise MarkupError(f"the reference has no {BEGIN!r} ... {END!r} region: nothing to hide, "
                          f"no student version made")
    self_checks(nb)  # every solution code cell has its check
    student = copy.deepcopy(nb)
    for index, cell in enumerate(student.cells):
        cell.get("metadata", {}).pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        if index in regions:
            grade_id = regions[index][0]
            where = _where(index, grade_id)
            cell.source = student_source(cell.source, grade_id, where)
            if _compiles(nb.cells[index].source) and not _compiles(cell.source):
                raise MarkupError(f"{where}: the student version does not compile once its regions are "
                                  f"replaced (a region must hold whole statements)")
        elif is_answer_key(cell):
            cell.source = ANSWER_PLACEHOLDER
            cell.pop("attachments", None)
    header = nbformat.v4.new_markdown_cell(HEADER)
    if (student.nbformat, student.nbformat_minor) >= (4, 5):
        header["id"] = HEADER_ID
    else:
        header.pop("id", None)
    student.cells.insert(0, header)
    nbformat.validate(student)
    return student


def main(argv: list[str] | None = None) -> int:
    """Command line: read REFERENCE, write OUTPUT, print one line; 1 (and a message on stderr) on error."""
    parser = argparse.ArgumentParser(description="Write the student version of the assignment notebook.")
    parser.add_argument("reference", nargs="?", default=DEFAULT_REFERENCE,
                        help=f"default {DEFAULT_REFERENCE}")
    parser.add_argument("output", nargs="?", default=DEFAULT_OUTPUT, help=f"default {DEFAULT_OUTPUT}")
    args = parser.parse_args(argv)
    reference, output = Path(args.reference), Path(args.output)
    if not reference.is_file():
        print(f"error: reference notebook {reference} not found", file=sys.stderr)
        return 1
    if output.resolve() == reference.resolve():
        print(f"error: the output {output} is the reference itself; choose another output path",
              file=sys.stderr)
        return 1
    nb = nbformat.read(str(reference), as_version=4)
    try:
        student = make_student(nb)
    except MarkupError as error:
        print(f"error: {reference}: {error}", file=sys.stderr)
        return 1
    nbformat.write(student, str(output))
    regions = solution_regions(nb)
    cells = len({index for index, _, _ in regions})
    keys = len(answer_key_cells(nb))
    print(f"Wrote {output}: {len(regions)} solution region(s) in {cells} cell(s) replaced by stubs, "
          f"{keys} answer key(s) blanked (from {reference})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
