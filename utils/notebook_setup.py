"""The notebook's set-up in one call: preset, seeds, quiet TensorFlow, versions, plot style."""

from __future__ import annotations

import math
import os
import re
import tempfile
import time

import numpy as np

from . import environment
from .checks import is_int
from .notebook_code import NOTEBOOK, notebook_parameters
from .presets import PRESETS, apply_preset, explicit_overrides
from .synthesis import MAX_WORD_LEN

#: The environment variable that chooses a preset when the notebook's ``PRESET`` is None (e.g. the
#: instructor's ``ASSIGNMENT4_PRESET=grading nbgrader autograde ...``).
PRESET_VARIABLE = "ASSIGNMENT4_PRESET"
#: The parameters that decide what the main model learns: they key its run folder, and the checks
#: that assume the default budget apply only when all of them have their default values.
TRAINING_KNOBS = (
    "SEED",
    "DATA_SOURCE",
    "EMBEDDING_DIM",
    "UNITS",
    "NUM_LAYERS",
    "DROPOUT",
    "SKIP_CONNECTIONS",
    "BATCH_SIZE",
    "SEQ_LEN",
    "LEARNING_RATE",
    "CLIPNORM",
    "EPOCHS",
    "STEPS_PER_EPOCH",
    "PATIENCE",
)
#: Everything that sets how much the notebook computes: the checks tuned to the default budget apply only
#: when all of these have their default values.
BUDGET_KNOBS = TRAINING_KNOBS + (
    "TBPTT_EPOCHS",
    "TBPTT_STEPS_PER_EPOCH",
    "NGRAM_ORDERS",
    "DYNAMIC_LRS",
    "DYNAMIC_CHARS",
    "MEMORY_LENGTHS",
    "MDN_EPOCHS",
    "MDN_UNITS",
    "MDN_LAYERS",
    "MDN_COMPONENTS",
    "MDN_LEARNING_RATE",
    "MDN_BATCH_SIZE",
    "LASA_STEP",
    "MDN_SHAPES_PER_LINE",
    "SYNTH_UNITS",
    "SYNTH_WINDOWS",
    "SYNTH_COMPONENTS",
    "SYNTH_PACE",
    "SYNTH_RENDERINGS",
    "SYNTH_STEPS",
    "SYNTH_LEARNING_RATE",
)
#: Environment variables that override RUNS_DIR and DATA_DIR when set (tests and grading use them).
RUNS_VARIABLE, DATA_VARIABLE = "ASSIGNMENT4_RUNS_DIR", "ASSIGNMENT4_DATA_DIR"


_POSITIVE_INTS = ("EMBEDDING_DIM", "UNITS", "NUM_LAYERS", "BATCH_SIZE", "SEQ_LEN", "EPOCHS",
                  "STEPS_PER_EPOCH", "PATIENCE", "TBPTT_EPOCHS", "TBPTT_STEPS_PER_EPOCH",
                  "MDN_SHAPES_PER_LINE", "MDN_COMPONENTS", "MDN_UNITS", "MDN_LAYERS", "MDN_EPOCHS",
                  "MDN_BATCH_SIZE", "SYNTH_UNITS", "SYNTH_WINDOWS", "SYNTH_COMPONENTS",
                  "SYNTH_STEPS")
_POSITIVE_NUMBERS = ("LEARNING_RATE", "CLIPNORM", "MDN_LEARNING_RATE", "SYNTH_LEARNING_RATE")
#: ``{name: (smallest element, kind)}`` of the parameters that are tuples.
_TUPLES = {"NGRAM_ORDERS": (1, "int"), "MEMORY_LENGTHS": (2, "int"), "DYNAMIC_LRS": (0, "number")}


def _is_number(value) -> bool:
    number = isinstance(value, (int, float, np.integer, np.floating))
    return number and not isinstance(value, (bool, np.bool_))


def _problem(name, value) -> str | None:
    """What is wrong with parameter ``name``'s ``value``, or None."""
    if name in _POSITIVE_INTS or name in ("SEED", "LASA_STEP"):
        low, high = {"SEED": (0, 2**32 - 1), "LASA_STEP": (1, 500)}.get(name, (1, None))
        ok = is_int(value) and value >= low and (high is None or value <= high)
        return None if ok else f"an int {f'in [{low}, {high}]' if high else f'>= {low}'}"
    if name == "SYNTH_RENDERINGS":
        return None if is_int(value) and value >= 2 else "an int >= 2"
    if name in ("CLIPNORM", "SYNTH_PACE") and value is None:
        return None
    if name == "SYNTH_PACE":
        ok = _is_number(value) and math.isfinite(value) and value > 0
        return None if ok else "None or a finite number > 0 (letters per point)"
    if name == "SYNTH_TEXT":
        words = value.split() if isinstance(value, str) else []
        ok = bool(words) and all(re.fullmatch(f"[a-z]{{1,{MAX_WORD_LEN}}}", w) for w in words)
        return None if ok else (f"a string of words of the letters a-z, 1 to {MAX_WORD_LEN} "
                                "letters each, separated by spaces")
    if name in _POSITIVE_NUMBERS or name == "DROPOUT":
        finite = _is_number(value) and math.isfinite(value)
        ok = finite and (0 <= value < 1 if name == "DROPOUT" else value > 0)
        return None if ok else ("a number in [0, 1)" if name == "DROPOUT" else "a finite number > 0")
    if name in _TUPLES:
        low, kind = _TUPLES[name]
        element_ok = (lambda v: is_int(v) and v >= low) if kind == "int" else (
            lambda v: _is_number(v) and math.isfinite(v) and v > low)
        ok = isinstance(value, (tuple, list)) and len(value) > 0 and all(element_ok(v) for v in value)
        return None if ok else f"a non-empty tuple of {'ints >= ' if kind == 'int' else 'numbers > '}{low}"
    if name == "DYNAMIC_CHARS":
        return None if value is None or (is_int(value) and value >= 2) else "None or an int >= 2"
    if name in ("SKIP_CONNECTIONS", "BENCHMARK"):
        return None if isinstance(value, bool) else "True or False"
    if name in ("DATA_SOURCE", "DATA_DIR", "RUNS_DIR", "SAMPLE_PRIME"):
        return None if isinstance(value, str) and value.strip() else "a non-empty string"
    if name == "COLAB_REPO_URL":
        return None if isinstance(value, str) else "a string"
    return None


def _papermill_example(name, value) -> str:
    if isinstance(value, tuple):
        return f"-y '{name}: {list(value)}'"
    if isinstance(value, str) and "\n" in value:  # YAML turns \n into a newline; -p would not
        return f"""-y '{name}: "{value.encode("unicode_escape").decode()}"'"""
    return f"-p {name} {value}"


def check_parameters(params: dict, defaults: dict | None = None) -> dict:
    """Refuse parameters of the wrong type or out of range, all at once, before any work.

    Args:
        params: ``{NAME: value}`` after the preset; lists (from YAML: ``-y 'NGRAM_ORDERS: [3, 5]'``)
            become tuples.
        defaults: the parameters cell's values, used in the messages as examples of valid values.

    Returns:
        ``params`` with tuple parameters as tuples and NumPy integers as ``int``.

    Raises:
        ValueError: one line per bad parameter: its name, value and type, what is allowed, and how to
            pass a valid value with papermill.
    """
    problems = []
    for name, value in params.items():
        allowed = _problem(name, value)
        if allowed:
            example = _papermill_example(name, (defaults or {}).get(name, value))
            problems.append(f"{name} = {value!r} ({type(value).__name__}) must be {allowed}; "
                            f"e.g. papermill ... {example}")
    if problems:
        raise ValueError("bad notebook parameters:\n  " + "\n  ".join(problems))
    return {name: tuple(value) if name in _TUPLES else int(value) if is_int(value) else value
            for name, value in params.items()}


def setup_notebook(namespace: dict) -> dict:
    """Apply the preset, seed everything, print what was set; return the names to add to the notebook.

    Args:
        namespace: the notebook's ``globals()`` after its parameters cell (upper-case names are parameters).

    Returns:
        ``{name: value}``: every parameter after the preset, plus ``AT_DEFAULTS`` (True when every
        :data:`TRAINING_KNOBS` value is its default, so the checks tuned to the default budget apply) and
        ``run_clock`` (``{"start": perf_counter()}``, for the run-time table at the end). ``RUNS_DIR`` and
        ``DATA_DIR`` are replaced by ``ASSIGNMENT4_RUNS_DIR`` and ``ASSIGNMENT4_DATA_DIR`` when those are set,
        and ``~`` is expanded. While nbgrader executes the notebook (``NBGRADER_EXECUTION`` is set), runs
        go to a fresh temporary folder, so every submission trains its own model.

    Raises:
        ValueError: an unknown preset name (the message lists the valid ones), or bad parameters
            (:func:`check_parameters`).
    """
    preset = namespace.get("PRESET") or os.environ.get(PRESET_VARIABLE) or None
    knobs = {name: value for name, value in namespace.items() if name.isupper() and name != "PRESET"}
    # The parameters cell as written (in Colab the notebook is not on disk: the preset then wins).
    defaults = notebook_parameters() if NOTEBOOK.exists() else None
    kept = explicit_overrides(preset, knobs, defaults) if defaults is not None else {}
    params = check_parameters(apply_preset(preset, knobs, defaults=defaults), defaults)
    if preset:
        print(f"Preset {preset!r}: {PRESETS[preset]['description']}")
        print("  set by the preset:", {k: v for k, v in PRESETS[preset]["params"].items() if k not in kept})
        print("  left as you set them:", kept or "nothing")
    reference = defaults if defaults is not None else knobs
    at_defaults = preset in (None, "cpu-laptop") and all(params[k] == reference[k] for k in BUDGET_KNOBS)
    params["RUNS_DIR"] = os.path.expanduser(os.environ.get(RUNS_VARIABLE) or params["RUNS_DIR"])
    if os.environ.get("NBGRADER_EXECUTION"):
        params["RUNS_DIR"] = tempfile.mkdtemp(prefix="assignment4-runs-")
    params["DATA_DIR"] = os.path.expanduser(os.environ.get(DATA_VARIABLE) or params["DATA_DIR"])

    import matplotlib.pyplot as plt
    import pandas as pd

    versions = environment.configure(seed=params["SEED"])
    mismatches = environment.version_mismatches(versions)
    print("Versions:", ", ".join(f"{k} {v}" for k, v in versions.items()))
    if mismatches:
        print("Differs from the pinned versions (the last digits of trained numbers may differ):", mismatches)
    plt.rcParams.update({"figure.dpi": 100, "figure.figsize": (9, 3.5), "axes.titlesize": 11})
    pd.set_option("display.precision", 4)
    return {
        **params,
        "PRESET": preset,
        "AT_DEFAULTS": at_defaults,
        "run_clock": {"start": time.perf_counter()},
    }


def check_prime(prime, vocab) -> None:
    """Refuse a priming text that is empty or holds characters the training text lacks.

    Raises:
        ValueError: naming the parameter, the characters and what to do.
    """
    if not isinstance(prime, str) or not prime:
        raise ValueError(
            f"SAMPLE_PRIME must be a non-empty string, got {prime!r}; e.g. -p SAMPLE_PRIME 'ROMEO:'"
        )
    unknown = vocab.unknown_chars(prime)
    if unknown:
        raise ValueError(
            f"SAMPLE_PRIME={prime!r} has characters the training text lacks: {unknown}; "
            f"set SAMPLE_PRIME to text that occurs in your corpus"
        )
