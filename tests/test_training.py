"""Training runs: model fingerprint, budget check, resume, reload, the run record."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

from utils.metrics import BitsPerCharacter
from utils.model import stateful_model
from utils.pipelines import stream_dataset, window_dataset
from utils.training import (
    NOT_TRAINED,
    BudgetCheck,
    ResetStatesEachEpoch,
    StreamValidation,
    model_fingerprint,
    prepare_run_dir,
    read_history,
    start_run,
    write_json,
)

V = 10
IDS = (np.arange(3000) % 7).astype(np.int32) + 1  # a periodic text: easy to learn
VALID = IDS[:500]


def bits_per_char(log_p):
    """Reference for the student's function."""
    return float(-np.mean(log_p) / np.log(2.0))


def build(units=8, skip=True, activation=None, seed=1):
    """A tiny functional character model; layer names are left to Keras (auto-numbered)."""
    keras.utils.set_random_seed(seed)
    ids = keras.Input((None,), dtype="int32")
    embedded = layers.Embedding(V, 4)(ids)
    x = layers.LSTM(units, return_sequences=True)(embedded)
    if skip:
        x = layers.Concatenate()([embedded, x])
    return keras.Model(ids, layers.Dense(V, activation=activation)(x))


def compile_(model, schedule="cosine", alpha=0.1, clipnorm=1.0, metrics=("accuracy", "bpc")):
    rate = keras.optimizers.schedules.CosineDecay(1e-2, 100, alpha=alpha) if schedule == "cosine" else 1e-2
    chosen = {"accuracy": keras.metrics.SparseCategoricalAccuracy(name="accuracy"), "bpc": BitsPerCharacter()}
    model.compile(optimizer=keras.optimizers.Adam(rate, global_clipnorm=clipnorm),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[chosen[name] for name in metrics])
    return model


def tiny(**kwargs):
    build_args = {k: kwargs.pop(k) for k in ("units", "skip", "activation", "seed") if k in kwargs}
    return compile_(build(**build_args), **kwargs)


def train_ds():
    return window_dataset(IDS, 20, 8, seed=0, repeat=True)


def begin(root, model, epochs=2, steps=3, patience=3, params=None):
    return start_run(root, params or {"data": "periodic"}, model, valid_ids=VALID,
                     bits_per_char=bits_per_char, epochs=epochs, steps_per_epoch=steps, patience=patience)


def fit(model, run, epochs=2, steps=3, extra=()):
    model.fit(train_ds(), epochs=epochs, steps_per_epoch=steps, callbacks=[*run.callbacks, *extra],
              shuffle=False, verbose=0)


# -- model_fingerprint --------------------------------------------------------------------------------
def test_fingerprint_equal_for_identical_builds_whatever_the_layer_names():
    a, b = tiny(), tiny()
    assert [layer.name for layer in a.layers] != [layer.name for layer in b.layers]  # auto-numbered
    assert model_fingerprint(a) == model_fingerprint(b)
    assert re.fullmatch("[0-9a-f]{64}", model_fingerprint(a))


@pytest.mark.parametrize("change", [dict(skip=False), dict(activation="relu"), dict(units=16),
                                    dict(schedule="constant"), dict(alpha=0.2), dict(clipnorm=2.0),
                                    dict(metrics=("accuracy",))])
def test_fingerprint_changes_with_architecture_and_compile_settings(change):
    assert model_fingerprint(tiny(**change)) != model_fingerprint(tiny())


def test_fingerprint_sees_connectivity_not_only_the_layers():
    """Same layers, same weight shapes; only the order in which Concatenate reads its two inputs differs."""
    def wired(embedding_first):
        ids = keras.Input((None,), dtype="int32")
        embedded = layers.Embedding(V, 8)(ids)
        x = layers.LSTM(8, return_sequences=True)(embedded)
        joined = layers.Concatenate()([embedded, x] if embedding_first else [x, embedded])
        return compile_(keras.Model(ids, layers.Dense(V)(joined)))

    assert model_fingerprint(wired(True)) == model_fingerprint(wired(True))
    assert model_fingerprint(wired(True)) != model_fingerprint(wired(False))


def test_fingerprint_unchanged_by_training_and_derived_views():
    from utils.model import state_io_model

    model = tiny()
    before = model_fingerprint(model)
    state_io_model(model)
    model.fit(train_ds(), epochs=1, steps_per_epoch=2, shuffle=False, verbose=0)
    assert model_fingerprint(model) == before


def test_fingerprint_equal_in_another_process():
    code = ("import sys; sys.path[:0] = [sys.argv[1], sys.argv[2]]; import utils; "
            "from test_training import tiny; from utils.training import model_fingerprint; "
            "print(model_fingerprint(tiny()))")
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code, str(root), str(root / "tests")], capture_output=True,
                         text=True, check=True, cwd=root)
    assert out.stdout.strip().splitlines()[-1] == model_fingerprint(tiny())


def test_fingerprint_needs_a_compiled_model():
    with pytest.raises(ValueError, match="compile the model"):
        model_fingerprint(build())


# -- BudgetCheck --------------------------------------------------------------------------------------
def test_budget_check_refuses_a_wrong_fit_call_within_seconds(tmp_path):
    model = tiny()
    run = begin(tmp_path, model, epochs=2, steps=3)
    assert isinstance(run.callbacks[0], BudgetCheck)
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match="train_ds repeats forever: pass steps_per_epoch=STEPS_PER_EPOCH"):
        model.fit(train_ds(), epochs=2, callbacks=run.callbacks, shuffle=False, verbose=0)
    with pytest.raises(ValueError, match=r"model.fit got epochs=1, the budget is EPOCHS=2"):
        model.fit(train_ds(), epochs=1, steps_per_epoch=3, callbacks=run.callbacks, shuffle=False, verbose=0)
    with pytest.raises(ValueError, match=r"model.fit got steps_per_epoch=4, the budget is STEPS_PER_EPOCH=3"):
        model.fit(train_ds(), epochs=2, steps_per_epoch=4, callbacks=run.callbacks, shuffle=False, verbose=0)
    assert time.perf_counter() - t0 < 10
    assert run.steps_trained == 0 and read_history(run.dir).empty
    with pytest.raises(RuntimeError, match="model.fit has not trained this run"):
        run.finish()


# -- runs ---------------------------------------------------------------------------------------------
def test_finish_without_fit_names_the_cause(tmp_path):
    run = begin(tmp_path, tiny())
    assert run.needs_training and run.steps_trained == 0
    with pytest.raises(RuntimeError) as error:
        run.finish()
    assert str(error.value) == NOT_TRAINED and "callbacks=run.callbacks" in NOT_TRAINED


def test_finished_run_is_reloaded_and_a_changed_model_gets_a_new_folder(tmp_path, capsys):
    model = tiny()
    run = begin(tmp_path, model)
    fit(model, run)
    assert run.steps_trained == 6 and run.epochs_trained == 2
    assert [line.split("/")[0] for line in capsys.readouterr().out.splitlines()] == ["epoch   1", "epoch   2"]
    best, history = run.finish()
    assert list(history.index) == [1, 2] and json.loads((run.dir / "training_done.json").read_text()) == {
        "epochs_budget": 2, "epochs_run": 2, "stopped_early": False}
    assert not (run.dir / "backup").exists() and model._initial_epoch is None

    again_model = tiny()
    again = begin(tmp_path, again_model)
    assert again.dir == run.dir and not again.needs_training
    weights = [w.copy() for w in again_model.get_weights()]
    fit(again_model, again)  # fit of a complete run trains nothing (and still checks the budget)
    assert again.steps_trained == 0 and capsys.readouterr().out == ""
    assert all(np.array_equal(a, b) for a, b in zip(weights, again_model.get_weights()))
    reloaded, again_history = again.finish()
    assert again_history.equals(history)
    assert all(np.array_equal(a, b) for a, b in zip(reloaded.get_weights(), best.get_weights()))
    fit(model, run)  # the first run's own callbacks, once it is complete: nothing trained, nothing logged
    assert run.steps_trained == 6 and read_history(run.dir).equals(history)

    for other in (tiny(units=16), tiny(schedule="constant")):
        changed = begin(tmp_path, other)
        assert changed.dir != run.dir and changed.needs_training
    assert begin(tmp_path, tiny(), epochs=3).dir != run.dir  # another budget: another run


def test_interrupt_then_resume_continues_epoch_count(tmp_path, capsys):
    class Interrupt(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt("simulated stop button")

    model = tiny()
    run = begin(tmp_path, model, epochs=4, steps=5)
    with pytest.raises(KeyboardInterrupt):
        fit(model, run, epochs=4, steps=5, extra=[Interrupt()])
    assert list(read_history(run.dir).index) == [1, 2] and run.steps_trained == 10
    with pytest.raises(RuntimeError, match="stopped after 2 of 4 epochs"):
        run.finish()
    capsys.readouterr()

    resumed_model = tiny()  # a new kernel: same model, same run folder
    resumed = begin(tmp_path, resumed_model, epochs=4, steps=5)
    assert resumed.dir == run.dir and resumed.needs_training
    fit(resumed_model, resumed, epochs=4, steps=5)
    assert [line.split("/")[0] for line in capsys.readouterr().out.splitlines()] == ["epoch   3", "epoch   4"]
    assert resumed.steps_trained == 10
    _, history = resumed.finish()
    assert list(history.index) == [1, 2, 3, 4] and history["time_s"].is_monotonic_increasing
    assert history["val_bpc"].iloc[-1] < history["val_bpc"].iloc[0], "resumed training keeps learning"
    assert not (run.dir / "backup").exists()


def test_steps_trained_counts_steps_with_steps_per_execution(tmp_path):
    model = tiny()
    model.steps_per_execution = 3
    run = begin(tmp_path, model, epochs=2, steps=6)
    fit(model, run, epochs=2, steps=6)
    assert run.steps_trained == 12


def test_run_record_files(tmp_path):
    model = tiny()
    run = begin(tmp_path, model, params={"units": 8, "shape": (1, 2)})
    fit(model, run)
    best, history = run.finish()
    write_json(run.dir / "metrics.json", {"valid_bpc": np.float32(1.5), "params": 123})
    assert {p.name for p in run.dir.iterdir()} >= {"params.json", "history.csv", "best.keras", "metrics.json",
                                                  "training_done.json"}
    assert set(history.columns) >= {"loss", "accuracy", "bpc", "val_loss", "val_accuracy", "val_bpc",
                                    "time_s"}
    np.testing.assert_allclose(history["bpc"], history["loss"] / np.log(2), rtol=1e-4)  # vs Keras' loss
    # the best epoch's validation scores, recomputed from the saved model: 499 targets in streams of 256
    log_p = []
    for start in (0, 256):
        piece = VALID[start:start + 257]
        out = tf.nn.log_softmax(best(piece[None, :-1], training=False)[0]).numpy()
        log_p.append(out[np.arange(len(piece) - 1), piece[1:]])
    nats = -np.concatenate(log_p).mean()
    assert history["val_loss"].min() == pytest.approx(nats, rel=1e-5)
    assert history["val_bpc"].min() == pytest.approx(nats / np.log(2), rel=1e-5)
    key = json.loads((run.dir / "params.json").read_text())
    assert key["units"] == 8 and key["shape"] == [1, 2] and key["model_sha256"] == model_fingerprint(model)
    assert json.loads((run.dir / "metrics.json").read_text()) == {"params": 123, "valid_bpc": 1.5}


def test_run_dir_refuses_other_parameters(tmp_path):
    prepare_run_dir(tmp_path, {"units": 8})
    prepare_run_dir(tmp_path, {"units": 8})  # same parameters: fine
    with pytest.raises(ValueError, match=r"differs in \['units'\]"):
        prepare_run_dir(tmp_path, {"units": 16})


@pytest.mark.parametrize("kwargs", [dict(epochs=0), dict(steps=0), dict(patience=0)])
def test_bad_budget(tmp_path, kwargs):
    with pytest.raises(ValueError, match="epochs|steps_per_epoch|patience"):
        begin(tmp_path, tiny(), **kwargs)


def test_stream_validation_needs_a_function():
    with pytest.raises(TypeError, match="bits_per_char"):
        StreamValidation(VALID, None)


def test_stateful_model_carries_state_and_resets_each_epoch():
    from utils.model import reset_lstm_states

    model = stateful_model(build(skip=True), 3)
    x = IDS[:30].reshape(3, 10)
    first = model(x).numpy()
    carried = model(x).numpy()  # same input, but starting from the state left by the first call
    assert np.abs(first - carried).max() > 1e-4
    lstm = next(layer for layer in model.layers if isinstance(layer, layers.LSTM))
    assert np.abs(np.asarray(lstm.states[0])).max() > 0
    callback = ResetStatesEachEpoch()
    callback.set_model(model)
    callback.on_epoch_begin(0)
    assert all(np.abs(np.asarray(s)).max() == 0 for s in lstm.states)
    np.testing.assert_allclose(model(x).numpy(), first, atol=1e-6)  # back to the zero state
    reset_lstm_states(model)
    with pytest.raises(ValueError, match="batch_size"):
        stateful_model(build(), 0)


def test_stateful_training_on_streams_with_stream_validation(tmp_path):
    keras.utils.set_random_seed(1)
    model = compile_(stateful_model(build(skip=False), 4))
    run = begin(tmp_path, model, epochs=3, steps=10)
    model.fit(stream_dataset(IDS, 20, 4).repeat(), epochs=3, steps_per_epoch=10, verbose=0, shuffle=False,
              callbacks=[*run.callbacks, ResetStatesEachEpoch()])
    best, history = run.finish()
    assert list(history.index) == [1, 2, 3] and {"val_bpc", "val_accuracy", "time_s"} <= set(history.columns)
    assert history["val_bpc"].iloc[-1] < history["val_bpc"].iloc[0]
    assert next(layer for layer in best.layers if isinstance(layer, layers.LSTM)).stateful


def test_stream_validation_traces_once_not_every_epoch(tmp_path):
    """The scorer's compiled step is traced in the first epoch only: no retrace in the measured epoch time."""
    model = tiny()
    run = begin(tmp_path, model, epochs=4, steps=2)
    validation = next(c for c in run.callbacks if isinstance(c, StreamValidation))
    counts, steps = [], []

    class CountTraces(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            steps.append(validation.scorer._score)  # the same compiled function every epoch ...
            counts.append(steps[-1].experimental_get_tracing_count())  # ... and no new traces of it

    fit(model, run, epochs=4, steps=2, extra=[CountTraces()])
    assert len(counts) == 4 and counts[0] >= 1 and all(step is steps[0] for step in steps)
    assert counts == [counts[0]] * 4, f"tracing counts per epoch {counts}: the scorer retraced"


@pytest.mark.parametrize("clipnorm", [0, -1.0, True, "1", float("nan")])
def test_compile_rejects_a_clipnorm_that_would_not_clip(char_model, notebook_code, clipnorm):
    with pytest.raises(ValueError, match="clipnorm must be a number > 0"):
        notebook_code.compile_model(char_model(9), 1e-2, 100, clipnorm)


@pytest.mark.parametrize("path_name", ["params.json", "history.csv", "best.keras"])
def test_damaged_run_files_are_reported_with_path_and_fix(tmp_path, path_name):
    model = tiny()
    run = begin(tmp_path, model, epochs=1, steps=2)
    fit(model, run, epochs=1, steps=2)
    path = run.dir / path_name
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])  # cut in half
    with pytest.raises(ValueError, match=rf"{path_name}.*delete the run folder"):
        begin(tmp_path, tiny(), epochs=1, steps=2).finish()


def test_a_failing_bits_per_char_stops_fit_before_any_step(tmp_path):
    def unfinished(log_p):
        raise NotImplementedError("bits_per_char: write this part")

    model = tiny()
    run = start_run(tmp_path, {}, model, valid_ids=VALID, bits_per_char=unfinished, epochs=1,
                    steps_per_epoch=2, patience=1)
    with pytest.raises(NotImplementedError, match="bits_per_char"):
        fit(model, run, epochs=1, steps=2)
    assert run.steps_trained == 0


def test_a_finished_run_without_best_keras_is_reported_not_retrained(tmp_path):
    model = tiny()
    run = begin(tmp_path, model)
    fit(model, run)
    (run.dir / "best.keras").unlink()
    best = re.escape(str(run.dir / "best.keras"))
    with pytest.raises(ValueError, match=rf"{best} is missing.*delete the run folder"):
        begin(tmp_path, tiny())


def test_a_partial_run_without_its_backup_is_reported(tmp_path):
    class Interrupt(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise KeyboardInterrupt

    model = tiny()
    run = begin(tmp_path, model, epochs=3)
    with pytest.raises(KeyboardInterrupt):
        fit(model, run, epochs=3, extra=[Interrupt()])
    backup = run.dir / "backup"
    weights = next(backup.glob("*.h5"))
    weights.write_bytes(weights.read_bytes()[:200])  # truncated: the error names the file and the fix
    resumed_model = tiny()
    resumed = begin(tmp_path, resumed_model, epochs=3)
    with pytest.raises(ValueError, match=re.escape(str(weights)) + ".*cannot be loaded.*delete the run"):
        fit(resumed_model, resumed, epochs=3)
    assert resumed.steps_trained == 0
    shutil.rmtree(backup)
    with pytest.raises(ValueError, match=rf"{re.escape(str(backup))} is missing.*delete the run folder"):
        begin(tmp_path, tiny(), epochs=3)


@pytest.mark.parametrize("content", ["[1, 2]", "3", "null", '"text"'])
def test_params_json_that_is_not_an_object_is_damaged(tmp_path, content):
    (tmp_path / "params.json").write_text(content)
    path = re.escape(str(tmp_path / "params.json"))
    with pytest.raises(ValueError, match=rf"{path} is damaged.*delete the run folder"):
        prepare_run_dir(tmp_path, {"units": 8})


def test_run_folders_expand_the_home_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    run = begin("~/runs", tiny())
    assert run.dir.parent == tmp_path / "runs" and not (tmp_path / "~").exists()
