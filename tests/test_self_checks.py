"""The notebook's self-checks catch the costly mistakes within seconds, before any long training, and
their messages name the cause.

Each test takes the reference solution of one region, makes one typical mistake in it, runs the region and
its check (the notebook's own cell sources, as the student's kernel would) and asserts that the check fails
within 10 s with a message naming the cause. The unmodified solution must pass the same check.
"""
from __future__ import annotations

import time
from pathlib import Path

import keras
import nbformat
import numpy as np
import pytest

from utils.pipelines import window_dataset
from utils.training import start_run

NOTEBOOK = Path(__file__).resolve().parents[1] / "Assignment_4.ipynb"
SECONDS = 10


@pytest.fixture(scope="module")
def sources() -> dict[str, str]:
    """``{grade_id: cell source}`` of the reference notebook's nbgrader cells."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: c.source for c in notebook.cells
            if c.cell_type == "code" and "nbgrader" in c.metadata}


def namespace() -> dict:
    return {"np": np, "keras": keras, "os": __import__("os")}


def run_region(sources, grade_id, ns, mistake=None):
    source = sources[grade_id]
    if mistake:
        old, new = mistake
        assert old in source, f"{grade_id}: the mistake's text {old!r} is not in the solution"
        source = source.replace(old, new)
    exec(compile(source, grade_id, "exec"), ns)


def check_fails(sources, check_id, ns, words):
    start = time.perf_counter()
    with pytest.raises(AssertionError) as failure:
        exec(compile(sources[check_id], check_id, "exec"), ns)
    assert time.perf_counter() - start < SECONDS
    message = str(failure.value)
    assert all(word in message for word in words), f"{check_id}: {message!r} does not name {words}"


MODEL_MISTAKES = {  # name: (region, (old, new), check, words the message must hold)
    "softmax output with a from_logits loss": (
        "build_model", ('layers.Dense(vocab_size, name="logits")',
                        'layers.Dense(vocab_size, activation="softmax", name="logits")'),
        "build_model_check", ("softmax", "from_logits")),
    "no skip connections": (
        "build_model", ("if skip_connections and i > 1:", "if False:"), "build_model_check", ("skip_in_2",)),
    "no skip connection to the output": (
        "build_model", ("if skip_connections and num_layers > 1:", "if False:"), "build_model_check",
        ("skip_out",)),
    "constant learning rate": (
        "compile_model", ("learning_rate=schedule", "learning_rate=learning_rate"), "compile_model_check",
        ("constant", "CosineDecay")),
    "learning rate decays to 0": (
        "compile_model", ("alpha=0.1", "alpha=0.0"), "compile_model_check", ("tenth", "alpha")),
    "no accuracy metric": (
        "compile_model", ('keras.metrics.SparseCategoricalAccuracy(name="accuracy"), ', ""),
        "compile_model_check", ("accuracy",)),
    "per-variable clipping": (
        "compile_model", ("global_clipnorm=clipnorm", "clipnorm=clipnorm"), "compile_model_check",
        ("global_clipnorm",)),
    "bits in nats": (
        "bits_per_char", ("/ np.log(2.0)", ""), "bits_per_char_check", ("nats", "ln 2")),
    "temperature ignored": (
        "sample_next_char", ("/ temperature", "/ 1.0"), "sample_next_char_check",
        ("ignore the temperature",)),
    "state not carried": (
        "generate_text", ("generator.read(char, state)", "generator.read(char)"), "generate_text_check",
        ("state",)),
    "[UNK] drawn": (
        "generate_text", ("p[UNK_ID] = 0.0", "pass"), "generate_text_check", ("UNK_ID",)),
    "gate order": (
        "lstm_step", ("z_i, z_f, z_g, z_o = np.split", "z_i, z_f, z_o, z_g = np.split"), "lstm_step_check",
        ("gate order",)),
}


@pytest.mark.parametrize("name", sorted(MODEL_MISTAKES))
def test_a_check_catches_the_mistake_and_names_it(sources, name):
    region, mistake, check, words = MODEL_MISTAKES[name]
    ns = namespace()
    for dependency in ("bits_per_char", "build_model", "compile_model", "sample_next_char"):
        if dependency != region:
            run_region(sources, dependency, ns)
    run_region(sources, region, ns, mistake)
    if check == "generate_text_check":  # it also samples 20 characters from a (here untrained) model
        from utils.vocab import Vocabulary
        ns["vocab"] = Vocabulary.from_text("ROMEO:\n abcdefg")
        ns["model"] = ns["build_model"](ns["vocab"].size, 4, 8, 2, 0.0, True)
        ns["SAMPLE_PRIME"] = "ROMEO:\n"
        ns["CharGenerator"] = __import__("utils.generation", fromlist=["CharGenerator"]).CharGenerator
    check_fails(sources, check, ns, words)


@pytest.mark.parametrize("region",
                         ["build_model", "compile_model", "bits_per_char", "sample_next_char", "lstm_step"])
def test_the_reference_solution_passes_its_check(sources, region):
    ns = namespace()
    for dependency in ("bits_per_char", "build_model", "compile_model", "sample_next_char", region):
        run_region(sources, dependency, ns)
    exec(compile(sources[region + "_check"], region, "exec"), ns)


# --- fit: mistakes that would cost a run (or hang) are refused within seconds -------------------------

@pytest.fixture()
def fit_namespace(sources, tmp_path):
    ns = namespace()
    for region in ("bits_per_char", "build_model", "compile_model"):
        run_region(sources, region, ns)
    ids = np.random.default_rng(0).integers(1, 10, size=4000).astype(np.int32)
    model = ns["compile_model"](ns["build_model"](10, 4, 8, 1, 0.0, False), 1e-2, 6, 1.0)
    ns.update(model=model, train_ds=window_dataset(ids, 10, 8, seed=0, repeat=True), EPOCHS=2,
              STEPS_PER_EPOCH=3, PATIENCE=3, AT_DEFAULTS=False)
    ns["run"] = start_run(tmp_path, {"test": 1}, model, valid_ids=ids[:400],
                          bits_per_char=ns["bits_per_char"], epochs=2, steps_per_epoch=3, patience=3)
    return ns


@pytest.mark.parametrize("mistake,words", [
    (("steps_per_epoch=STEPS_PER_EPOCH,", ""), ("steps_per_epoch",)),   # would never end: train_ds repeats
    (("epochs=EPOCHS", "epochs=1"), ("epochs=1", "EPOCHS")),
])
def test_fit_with_the_wrong_budget_is_refused_at_once(sources, fit_namespace, mistake, words):
    start = time.perf_counter()
    with pytest.raises(ValueError) as failure:
        run_region(sources, "fit", fit_namespace, mistake)
    assert time.perf_counter() - start < SECONDS
    assert all(word in str(failure.value) for word in words), str(failure.value)


def test_a_fit_region_holding_only_pass_fails_its_check(sources, fit_namespace):
    source = sources["fit"]
    body = source[source.index("    ### BEGIN SOLUTION"):source.index("### END SOLUTION")]
    exec(compile(source.replace(body, "    pass\n    "), "fit", "exec"), fit_namespace)
    with pytest.raises(RuntimeError, match="model.fit"):
        exec(compile(sources["fit_check"], "fit_check", "exec"), fit_namespace)
