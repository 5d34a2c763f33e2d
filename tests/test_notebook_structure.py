"""The notebook teaches in order: a title with objectives and a working table of contents, Part I (the core)
before Part II (optional), exercises closing every section with an answer key kept for the instructor,
and figures drawn at a readable resolution."""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "Assignment_4.ipynb"
CORE = range(1, 8)
FURTHER = range(8, 14)


@pytest.fixture(scope="module")
def nb():
    return nbformat.read(NOTEBOOK, as_version=4)


def section_of_cells(nb):
    """Section number (from the '## N.' headings) of every cell; 0 before the first section."""
    current, out = 0, []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            match = re.search(r"^## (\d+)\. ", cell.source, flags=re.M)
            if match:
                current = int(match.group(1))
            elif re.search(r"^## (References|Appendix)", cell.source, flags=re.M):
                current = 99
            elif re.search(r"^# Part ", cell.source, flags=re.M):
                current = -1
        out.append(current)
    return out


def test_title_has_objectives_and_contents_whose_links_resolve(nb):
    title = nb.cells[0].source
    assert "Learning objectives" in title and "Contents" in title
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    anchors = set(re.findall(r'<a id="([^"]+)"></a>', markdown))
    links = re.findall(r"\]\(#([^)]+)\)", title)
    assert {f"sec-{n}" for n in [*CORE, *FURTHER]} | {"part-2", "references"} <= set(links)
    assert set(links) <= anchors, f"links without an anchor: {set(links) - anchors}"


def test_sections_in_order_with_part_two_after_the_conclusion(nb):
    headings = [int(m) for c in nb.cells if c.cell_type == "markdown"
                for m in re.findall(r"^## (\d+)\. ", c.source, re.M)]
    assert headings == list(range(1, 15)), headings
    part_two = next(i for i, c in enumerate(nb.cells) if c.source.lstrip().startswith('<a id="part-2"></a>'))
    sections = section_of_cells(nb)
    assert sections[part_two - 1] == 7 and sections[part_two + 1] == 8
    for n in FURTHER:  # every Part II section says it is optional and what it needs
        first = next(c for c, s in zip(nb.cells, sections) if s == n)
        assert "*Optional" in first.source and "Needs" in first.source, f"section {n}"


@pytest.mark.parametrize("n", [n for n in [*CORE, *FURTHER] if n != 2])  # 2 (set-up): exercises in Appendix A
def test_every_section_ends_with_exercises_and_an_answer_key(nb, n):
    sections = section_of_cells(nb)
    cells = [c for c, s in zip(nb.cells, sections) if s == n]
    *_, exercises, answers = cells
    count = len(re.findall(r"\*\*Exercise \d+\.\d+", exercises.source))
    allowed = range(2, 5) if n in CORE else range(1, 3)
    assert exercises.source.startswith("#### Exercises"), f"section {n}"
    assert count in allowed, f"section {n}: {count} exercises"
    grading = answers.metadata.get("nbgrader", {})
    assert "Answer key (instructor)" in answers.source and grading.get("solution") is True, \
        f"section {n}: the answer key must be an nbgrader solution cell (removed from the student version)"
    answered = re.findall(rf"\*\*({n}\.\d+)\*\*", answers.source)
    assert answered == [f"{n}.{k}" for k in range(1, count + 1)], \
        f"section {n}: answers {answered} for {count} exercises"


def test_figures_are_drawn_at_100_dpi_or_more():
    setup = (NOTEBOOK.parent / "utils" / "notebook_setup.py").read_text()
    dpi = re.search(r'"figure\.dpi":\s*(\d+)', setup)
    assert dpi and int(dpi.group(1)) >= 100


def part_one(nb):
    end = next(i for i, c in enumerate(nb.cells) if c.source.lstrip().startswith('<a id="part-2"></a>'))
    return nb.cells[:end]


def test_part_one_fits_an_afternoon(nb):
    """At most 4,000 words a student reads in Part I (markdown, answer keys excluded), a time for every
    section, points for every exercise set, and what to hand in."""
    shown = [c.source for c in part_one(nb) if c.cell_type == "markdown"
             and not c.metadata.get("nbgrader", {}).get("solution")]
    assert sum(len(s.split()) for s in shown) <= 4000
    title = nb.cells[0].source
    assert "What to submit" in title
    for n in CORE:
        assert re.search(rf"\[{n}\. [^\]]+\]\(#sec-{n}\) \| \d+ min", title), f"section {n} has no time"
    exercise_sets = [s for s in shown if s.startswith("#### Exercises")]
    assert len(exercise_sets) == len(CORE) - 1
    assert all(re.match(r"#### Exercises \(\d+ points?\)", s) for s in exercise_sets)


def test_points_in_the_title_match_the_nbgrader_cells(nb):
    """The points table of the title is the sum of the nbgrader points of Part I's cells."""
    cells = part_one(nb)
    auto = sum(c.metadata["nbgrader"]["points"] for c in cells
               if c.metadata.get("nbgrader", {}).get("grade") and not c.metadata["nbgrader"].get("solution"))
    manual = sum(c.metadata["nbgrader"]["points"] for c in cells
                 if c.metadata.get("nbgrader", {}).get("grade") and c.metadata["nbgrader"].get("solution"))
    assert f"**{auto} points, autograded**" in nb.cells[0].source
    assert f"**{manual} points, read by your instructor**" in nb.cells[0].source
