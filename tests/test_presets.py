"""Tests for utils.presets and for injecting a preset with papermill."""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
import pytest
from papermill.iorw import load_notebook_node
from papermill.parameterize import parameterize_notebook

from utils.notebook_code import notebook_parameters
from utils.presets import PRESETS, apply_preset, explicit_overrides

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "Assignment_4.ipynb"


@pytest.fixture(scope="module")
def params() -> dict:
    return notebook_parameters(NOTEBOOK)  # the defaults: the parameters cell is their one source


def test_cpu_laptop_is_the_notebook_defaults(params):
    changed = {**params, "UNITS": params["UNITS"] + 1}
    assert apply_preset("cpu-laptop", params) == params
    assert apply_preset("cpu-laptop", changed, defaults=params) == changed


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_sets_only_existing_parameters(name, params):
    preset = PRESETS[name]
    assert set(preset) == {"description", "expected", "params"}
    assert preset["description"] and "xpect" in preset["expected"]  # labelled as an expectation
    assert set(preset["params"]) <= set(params)
    result = apply_preset(name, params)
    assert set(result) == set(params)
    assert {k: result[k] for k in preset["params"]} == preset["params"]
    assert all(result[k] == params[k] for k in params if k not in preset["params"])


def test_tpu_preset_is_gpu_model_with_larger_batch():
    gpu, tpu = PRESETS["colab-gpu"]["params"], PRESETS["colab-tpu"]["params"]
    for key in ("EMBEDDING_DIM", "UNITS", "NUM_LAYERS", "DROPOUT", "SEQ_LEN"):
        assert tpu[key] == gpu[key]
    # BATCH_SIZE is per replica: on a TPU v2-8 (8 cores) the global batch is 8x larger than the GPU's
    assert 8 * tpu["BATCH_SIZE"] > gpu["BATCH_SIZE"]


def test_none_is_an_unchanged_copy(params):
    result = apply_preset(None, params)
    assert result == params and result is not params


def test_params_not_modified(params):
    before = copy.deepcopy(params)
    apply_preset("colab-gpu", params)
    assert params == before


def test_unknown_preset_lists_valid_names(params):
    with pytest.raises(ValueError, match="unknown preset 'colab-gpus'") as info:
        apply_preset("colab-gpus", params)
    for name in PRESETS:
        assert name in str(info.value)


def test_preset_cannot_introduce_a_new_parameter(params):
    with pytest.raises(ValueError, match="NUM_LAYERS"):
        apply_preset("colab-gpu", {k: v for k, v in params.items() if k != "NUM_LAYERS"})


def check_injection(path: Path):
    """Parameterize ``path`` with PRESET=colab-gpu as papermill does; compare with the file."""
    original = nbformat.read(path, as_version=4)
    nb = load_notebook_node(str(path))  # papermill's own loader (adds tags/papermill metadata)
    out = parameterize_notebook(nb, {"PRESET": "colab-gpu"})
    injected = [i for i, c in enumerate(out.cells) if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1
    (i,) = injected
    assert 'PRESET = "colab-gpu"' in out.cells[i].source
    params_index = next(j for j, c in enumerate(original.cells) if "parameters" in c.metadata.get("tags", []))
    assert i == params_index + 1  # right after the parameters cell
    rest = out.cells[:i] + out.cells[i + 1 :]
    assert [(c.cell_type, c.source) for c in rest] == [(c.cell_type, c.source) for c in original.cells]


def test_papermill_injects_one_cell_in_small_notebook(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    nb.cells = [
        nbformat.v4.new_markdown_cell("# A notebook"),
        nbformat.v4.new_code_cell("PRESET = None\nUNITS = 256", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(
            "from utils.presets import apply_preset\nglobals().update(apply_preset(PRESET, {'UNITS': UNITS}))"
        ),
        nbformat.v4.new_code_cell("print(UNITS)"),
    ]
    path = tmp_path / "small.ipynb"
    nbformat.write(nb, path)
    check_injection(path)


@pytest.mark.skipif(not NOTEBOOK.is_file(), reason="Assignment_4.ipynb not present")
def test_papermill_injects_one_cell_in_the_assignment():
    # The notebook is only read: papermill injects PRESET after its parameters cell.
    check_injection(NOTEBOOK)


def test_explicit_parameters_win_over_the_preset(params):
    mine = {**params, "UNITS": 256, "EPOCHS": 3}  # set explicitly, e.g. with papermill -p
    result = apply_preset("colab-gpu", mine, defaults=params)
    assert result["UNITS"] == 256 and result["EPOCHS"] == 3
    assert result["DROPOUT"] == PRESETS["colab-gpu"]["params"]["DROPOUT"]
    assert explicit_overrides("colab-gpu", mine, params) == {"UNITS": 256, "EPOCHS": 3}
    assert explicit_overrides(None, mine, params) == {}
    assert apply_preset("colab-gpu", mine)["UNITS"] == 512  # without defaults: the preset sets everything


def test_explicit_parameters_win_through_papermill(tmp_path):
    """Runs a small notebook with papermill's own executor: -p PRESET colab-gpu -p UNITS 256."""
    import json

    import papermill

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    path = tmp_path / "small.ipynb"
    nb.cells = [
        nbformat.v4.new_code_cell(
            "PRESET = None\n"
            + "".join(f"{k} = {v!r}\n" for k, v in notebook_parameters(NOTEBOOK).items() if k != "PRESET"),
            metadata={"tags": ["parameters"]},
        ),
        nbformat.v4.new_code_cell(
            f"import json, sys\nsys.path.insert(0, {str(REPO)!r})\n"
            "from utils.notebook_code import notebook_parameters\n"
            "from utils.presets import apply_preset\n"
            f"defaults = notebook_parameters({str(path)!r})\n"
            "knobs = {k: v for k, v in globals().items() if k in defaults and k != 'PRESET'}\n"
            "globals().update(apply_preset(PRESET, knobs, defaults=defaults))\n"
            "print(json.dumps({'UNITS': UNITS, 'EPOCHS': EPOCHS, 'DROPOUT': DROPOUT}))"
        ),
    ]
    nbformat.write(nb, path)
    out = papermill.execute_notebook(
        str(path),
        str(tmp_path / "out.ipynb"),
        kernel_name="python3",
        parameters={"PRESET": "colab-gpu", "UNITS": 256},
        progress_bar=False,
    )
    printed = json.loads(out.cells[-1].outputs[0]["text"])
    gpu = PRESETS["colab-gpu"]["params"]
    assert printed == {"UNITS": 256, "EPOCHS": gpu["EPOCHS"], "DROPOUT": gpu["DROPOUT"]}
