"""The notebook's own code, importable: its ``parameters`` cell and its ``shared-code`` cells.

The assignment's central code - the Keras model definition and its compile step - lives in
notebook cells, where a student reads and writes it. Tests, benchmarks and the ablation
script must use *that* code, not a copy that could drift from it. So those cells carry the
cell tag ``shared-code`` and contain only imports and definitions; :func:`shared_code` runs
them (in a fresh namespace, with :mod:`nbformat`) and returns what they define. Likewise
:func:`notebook_parameters` runs the ``parameters`` cell, so scripts default to the
notebook's defaults.
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
    """Everything the notebook's ``shared-code`` cells define (e.g. ``build_model``, ``compile_model``).

    The cells are run once per notebook version (cached on the file's modification time).
    """
    path = Path(path).resolve()
    names = _run(SHARED_TAG, str(path), path.stat().st_mtime)
    return SimpleNamespace(**{k: v for k, v in names.items() if not k.startswith("__")})


def notebook_parameters(path: str | Path | None = None) -> dict:
    """The default values of the notebook's ``parameters`` cell: ``{NAME: value}`` (upper-case names).

    ``path`` defaults to ``Assignment_4.ipynb`` beside ``utils/`` (the reference, or the student release:
    their parameters cells are the same).
    """
    path = Path(path or NOTEBOOK).resolve()
    names = _run(PARAMETERS_TAG, str(path), path.stat().st_mtime)
    return {k: v for k, v in names.items() if k.isupper()}
