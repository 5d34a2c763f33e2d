"""Bad notebook parameters are refused by one check, before any work, with messages that say what to pass."""
from __future__ import annotations

import math
from pathlib import Path

import nbformat
import pytest

from utils.notebook_code import notebook_parameters
from utils.notebook_setup import check_parameters

REPO = Path(__file__).resolve().parents[1]
DEFAULTS = notebook_parameters(REPO / "Assignment_4.ipynb")


def test_the_defaults_pass_unchanged():
    assert check_parameters(dict(DEFAULTS), DEFAULTS) == DEFAULTS


@pytest.mark.parametrize("name, value, allowed", [
    ("UNITS", True, "an int >= 1"),                      # a bool is not an int
    ("UNITS", 256.0, "an int >= 1"),
    ("EPOCHS", "8", "an int >= 1"),
    ("NUM_LAYERS", 0, "an int >= 1"),
    ("SEED", 2**32, "an int in [0, 4294967295]"),
    ("SEED", -1, "an int in [0, 4294967295]"),
    ("LEARNING_RATE", math.nan, "a finite number > 0"),
    ("LEARNING_RATE", -1e-3, "a finite number > 0"),
    ("LEARNING_RATE", 0, "a finite number > 0"),
    ("DROPOUT", 1.0, "a number in [0, 1)"),
    ("NGRAM_ORDERS", 3, "a non-empty tuple of ints >= 1"),  # papermill -p NGRAM_ORDERS 3
    ("NGRAM_ORDERS", (), "a non-empty tuple of ints >= 1"),
    ("DYNAMIC_LRS", 3e-3, "a non-empty tuple of numbers > 0"),
    ("DYNAMIC_LRS", (math.inf,), "a non-empty tuple of numbers > 0"),
    ("MEMORY_LENGTHS", (1,), "a non-empty tuple of ints >= 2"),
    ("DYNAMIC_CHARS", 1, "None or an int >= 2"),
    ("SAMPLE_PRIME", "", "a non-empty string"),
    ("BENCHMARK", "False", "True or False"),
    ("RUNS_DIR", None, "a non-empty string"),
    ("SYNTH_STEPS", 0, "an int >= 1"),
    ("SYNTH_RENDERINGS", 1, "an int >= 2"),
    ("SYNTH_LEARNING_RATE", math.inf, "a finite number > 0"),
    ("SYNTH_PACE", 0.0, "None or a finite number > 0"),
    ("SYNTH_PACE", "0.1", "None or a finite number > 0"),
    ("SYNTH_TEXT", "To be", "a string of words of the letters a-z"),     # upper case
    ("SYNTH_TEXT", "don't", "a string of words of the letters a-z"),
    ("SYNTH_TEXT", "incomprehensible", "a string of words of the letters a-z, 1 to 10"),
    ("SYNTH_TEXT", "   ", "a string of words of the letters a-z"),
])
def test_a_bad_value_is_refused_with_its_name_what_is_allowed_and_how_to_pass_one(name, value, allowed):
    with pytest.raises(ValueError) as info:
        check_parameters({**DEFAULTS, name: value}, DEFAULTS)
    lines = str(info.value).splitlines()
    assert len(lines) == 2, "a header and one line for the one bad parameter"
    assert lines[1].strip().startswith(f"{name} = {value!r} ({type(value).__name__}) must be {allowed}")
    assert "papermill ... -" in lines[1]


def test_every_bad_parameter_is_named_at_once_and_yaml_lists_become_tuples():
    with pytest.raises(ValueError) as info:
        check_parameters({**DEFAULTS, "UNITS": 0, "CLIPNORM": -1.0}, DEFAULTS)
    assert "UNITS = 0" in str(info.value) and "CLIPNORM = -1.0" in str(info.value)
    checked = check_parameters({**DEFAULTS, "NGRAM_ORDERS": [3, 5], "CLIPNORM": None,
                                "SYNTH_PACE": 1, "SYNTH_TEXT": "to  be or not"}, DEFAULTS)
    assert checked["NGRAM_ORDERS"] == (3, 5) and checked["CLIPNORM"] is None
    assert "-y 'SAMPLE_PRIME: \"ROMEO:\\n\"'" in str(pytest.raises(
        ValueError, check_parameters, {**DEFAULTS, "SAMPLE_PRIME": ""}, DEFAULTS).value)


def test_papermill_stops_in_the_setup_cell_before_the_corpus_is_loaded(tmp_path, monkeypatch):
    import papermill

    monkeypatch.setenv("ASSIGNMENT4_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ASSIGNMENT4_RUNS_DIR", str(tmp_path / "runs"))
    out = tmp_path / "out.ipynb"
    bad = {"UNITS": 1.5, "LEARNING_RATE": -0.01, "NGRAM_ORDERS": 3, "SAMPLE_PRIME": ""}
    with pytest.raises(papermill.PapermillExecutionError) as info:
        papermill.execute_notebook(str(REPO / "Assignment_4.ipynb"), str(out), parameters=bad, cwd=str(REPO),
                                   kernel_name="python3", progress_bar=False)
    for name in bad:
        assert f"{name} = {bad[name]!r}" in info.value.evalue
    failed = [c for c in nbformat.read(out, as_version=4).cells
              if any(o.get("output_type") == "error" for o in c.get("outputs", []))]
    assert len(failed) == 1 and "setup_notebook" in failed[0].source
    assert not (tmp_path / "data").exists(), "the corpus was touched before the parameters were checked"


def test_the_notebooks_model_functions_check_their_own_arguments():
    from utils.notebook_code import shared_code

    notebook = shared_code(REPO / "Assignment_4.ipynb")
    for args, name in (((10, 4, True, 2, 0.0, True), "units"), ((1, 4, 8, 2, 0.0, True), "vocab_size"),
                       ((10, 4, 8, 2.0, 0.0, True), "num_layers"),
                       ((10, 4, 8, 2, math.nan, True), "dropout")):
        with pytest.raises(ValueError, match=name):
            notebook.build_model(*args)
    model = notebook.build_model(10, 4, 8, 1, 0.0, False)
    for args, name in (((math.nan, 10, 1.0), "learning_rate"), ((-1e-3, 10, 1.0), "learning_rate"),
                       ((1e-3, 10.0, 1.0), "total_steps"), ((1e-3, 10, 0.0), "clipnorm")):
        with pytest.raises(ValueError, match=name):
            notebook.compile_model(model, *args)
