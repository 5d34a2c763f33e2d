"""The notebook's own code, importable: its ``parameters`` cell and its ``shared-code`` cells.

The model definition lives in notebook cells tagged ``shared-code`` (imports and definitions only);
tests and scripts run those cells rather than keep a copy that could drift.
"""
from __future__ import annotations

import functools
from pathlib import Path
from types import SimpleNamespace

import nbformat

#: The assignment notebook, next to ``utils/``.
NOTEBOOK = Path(__file__).resolve().parents[1] / "Assignment_4.ipynb"
SHARED_TAG = "shared-code"
PARAMETERS_TAG = "parameters"


def tagged_sources(tag: str, path: str | Path = NOTEBOOK) -> list[str]:
    """Sources of the code cells of ``path`` tagged ``tag``, in notebook order.

    Raises:
        ValueError: no code cell has that tag.
    """
    notebook = nbformat.read(str(path), as_version=4)
    sources = [cell.source for cell in notebook.cells
               if cell.cell_type == "code" and tag in cell.get("metadata", {}).get("tags", [])]
    if not sources:
        raise ValueError(f"{path} has no code cell tagged {tag!r}")
    return sources


@functools.lru_cache(maxsize=8)
def _run(tag: str, path: str, mtime: float) -> dict:
    namespace: dict = {"__name__": f"notebook_{tag.replace('-', '_')}"}
    for source in tagged_sources(tag, path):
        exec(compile(source, f"{Path(path).name}[{tag}]", "exec"), namespace)
    return namespace


def shared_code(path: str | Path = NOTEBOOK) -> SimpleNamespace:
    """Everything the ``shared-code`` cells define (``build_model``, ...), run once per file version.

    Raises:
        ValueError: no cell has the tag.
    """
    path = Path(path).resolve()
    names = _run(SHARED_TAG, str(path), path.stat().st_mtime)
    return SimpleNamespace(**{k: v for k, v in names.items() if not k.startswith("__")})


def notebook_parameters(path: str | Path | None = None) -> dict:
    """``{NAME: value}`` of the upper-case names the ``parameters`` cell of ``path`` (default: the
    notebook beside ``utils/``) defines."""
    path = Path(path or NOTEBOOK).resolve()
    names = _run(PARAMETERS_TAG, str(path), path.stat().st_mtime)
    return {k: v for k, v in names.items() if k.isupper()}
