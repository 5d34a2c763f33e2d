"""Training loop: interruption and resume, the run record, early stopping inputs."""
from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from utils.model import stateful_model
from utils.pipelines import window_dataset
from utils.training import SampleEveryEpoch, fit_resumable, prepare_run_dir, read_history, write_json

IDS = (np.arange(3000) % 7).astype(np.int32) + 1  # a periodic text: easy to learn


class Interrupt(keras.callbacks.Callback):
    def __init__(self, at_epoch):
        super().__init__()
        self.at_epoch = at_epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.at_epoch:
            raise KeyboardInterrupt("simulated stop button")


@pytest.fixture
def make_model(char_model, compiled):
    def make():
        keras.utils.set_random_seed(1)
        return compiled(char_model(9, embedding_dim=4, units=8, num_layers=1), learning_rate=1e-2)
    return make


def datasets():
    return (window_dataset(IDS, 20, 8, seed=0, repeat=True),
            window_dataset(IDS[:500], 20, 8, shuffle=False, drop_remainder=False))


def test_interrupt_then_resume_continues_epoch_count(tmp_path, make_model):
    train, valid = datasets()
    with pytest.raises(KeyboardInterrupt):
        fit_resumable(make_model(), train, valid, tmp_path, epochs=4, steps_per_epoch=5, print_fn=lambda s: None,
                      extra_callbacks=[Interrupt(at_epoch=2)])
    assert list(read_history(tmp_path).index) == [1, 2]
    lines = []
    model, history, status = fit_resumable(make_model(), train, valid, tmp_path, epochs=4, steps_per_epoch=5,
                                           print_fn=lines.append)
    assert status == "resumed"
    assert [line.split("/")[0] for line in lines] == ["epoch   3", "epoch   4"]  # finished epochs not re-run
    assert list(history.index) == [1, 2, 3, 4]
    assert history["time_s"].is_monotonic_increasing
    assert history["val_bpc"].iloc[-1] < history["val_bpc"].iloc[0], "resumed training keeps learning"
    assert json.loads((tmp_path / "training_done.json").read_text())["epochs_run"] == 4
    assert not (tmp_path / "backup").exists()
    again_model, again_history, again_status = fit_resumable(make_model(), train, valid, tmp_path, epochs=4,
                                                             steps_per_epoch=5, print_fn=lines.append)
    assert again_status == "already complete" and len(lines) == 2
    np.testing.assert_array_equal(again_model.get_weights()[0], model.get_weights()[0])
    assert again_history.equals(history)


def test_run_record_files(tmp_path, make_model):
    train, valid = datasets()
    run = prepare_run_dir(tmp_path / "run", {"epochs": 2, "units": 8, "shape": (1, 2)})
    samples = []
    model, history, status = fit_resumable(make_model(), train, valid, run, epochs=2, steps_per_epoch=3,
                                           print_fn=lambda s: None,
                                           extra_callbacks=[SampleEveryEpoch(lambda m: "sample", samples.append)])
    write_json(run / "metrics.json", {"valid_bpc": np.float32(1.5), "params": 123})
    assert status == "trained" and len(samples) == 2
    assert {p.name for p in run.iterdir()} >= {"params.json", "history.csv", "best.keras", "metrics.json",
                                              "training_done.json"}
    assert set(history.columns) >= {"loss", "accuracy", "bpc", "val_loss", "val_accuracy", "val_bpc", "time_s"}
    np.testing.assert_allclose(history["bpc"], history["loss"] / np.log(2), rtol=1e-4)
    assert json.loads((run / "metrics.json").read_text()) == {"params": 123, "valid_bpc": 1.5}
    assert isinstance(keras.saving.load_model(run / "best.keras"), keras.Model)


def test_run_dir_refuses_other_parameters(tmp_path):
    prepare_run_dir(tmp_path, {"units": 8})
    prepare_run_dir(tmp_path, {"units": 8})  # same parameters: fine
    with pytest.raises(ValueError, match=r"differs in \['units'\]"):
        prepare_run_dir(tmp_path, {"units": 16})


def test_bad_budget_and_learning_rate(tmp_path, make_model):
    train, valid = datasets()
    with pytest.raises(ValueError, match="epochs"):
        fit_resumable(make_model(), train, valid, tmp_path, epochs=0, steps_per_epoch=5)


def test_stateful_model_carries_state_and_resets_each_epoch(char_model):
    from utils.model import reset_lstm_states
    from utils.training import ResetStatesEachEpoch

    keras.utils.set_random_seed(2)
    model = stateful_model(char_model(9, embedding_dim=4, units=8, num_layers=2, skip_connections=True), 3)
    x = IDS[:30].reshape(3, 10)
    first = model(x).numpy()
    carried = model(x).numpy()  # same input, but starting from the state left by the first call
    assert np.abs(first - carried).max() > 1e-4
    lstm = model.get_layer("lstm_2")
    assert np.abs(np.asarray(lstm.states[0])).max() > 0
    callback = ResetStatesEachEpoch()
    callback.set_model(model)
    callback.on_epoch_begin(0)
    assert all(np.abs(np.asarray(s)).max() == 0 for s in lstm.states)
    np.testing.assert_allclose(model(x).numpy(), first, atol=1e-6)  # back to the zero state
    reset_lstm_states(model)
    with pytest.raises(ValueError, match="batch_size"):
        stateful_model(char_model(9), 0)


def test_stateful_training_on_streams_with_stream_validation(tmp_path, char_model, compiled):
    from utils.pipelines import stream_dataset
    from utils.training import ResetStatesEachEpoch, StreamValidation

    keras.utils.set_random_seed(1)
    model = compiled(stateful_model(char_model(9, embedding_dim=4, units=8, num_layers=1), 4), learning_rate=1e-2)
    train = stream_dataset(IDS, 20, 4).repeat()
    best, history, status = fit_resumable(
        model, train, None, tmp_path, epochs=3, steps_per_epoch=10, print_fn=lambda s: None,
        validation_callback=StreamValidation(IDS[:500], batch_size=2, chunk_len=50),
        extra_callbacks=[ResetStatesEachEpoch()])
    assert status == "trained" and list(history.index) == [1, 2, 3]
    assert {"val_bpc", "val_accuracy", "time_s"} <= set(history.columns)
    assert history["val_bpc"].iloc[-1] < history["val_bpc"].iloc[0]
    assert best.get_layer("lstm_1").stateful


def test_stream_validation_traces_once_not_every_epoch(tmp_path, make_model):
    """The scorer's compiled step is traced in the first epoch only; later epochs reuse it, so no
    retrace falls into the measured epoch time."""
    from utils.training import StreamValidation

    validation = StreamValidation(IDS[:500], batch_size=2, chunk_len=50)
    counts, steps = [], []

    class CountTraces(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            steps.append(validation.scorer._score)  # the same compiled function every epoch ...
            counts.append(steps[-1].experimental_get_tracing_count())  # ... and no new traces of it

    train, _ = datasets()
    fit_resumable(make_model(), train, None, tmp_path, epochs=4, steps_per_epoch=5, print_fn=lambda s: None,
                  validation_callback=validation, extra_callbacks=[CountTraces()])
    assert len(counts) == 4 and counts[0] >= 1 and all(step is steps[0] for step in steps)
    assert counts == [counts[0]] * 4, f"tracing counts per epoch {counts}: the scorer retraced"


@pytest.mark.parametrize("clipnorm", [0, -1.0, True, "1", float("nan")])
def test_compile_rejects_a_clipnorm_that_would_not_clip(char_model, notebook_code, clipnorm):
    with pytest.raises(ValueError, match="clipnorm must be a number > 0"):
        notebook_code.compile_model(char_model(9), 1e-2, 100, clipnorm)


def _trained_run(tmp_path, char_model, compiled):
    run_dir = prepare_run_dir(tmp_path / "run", {"a": 1})
    model = compiled(char_model(9, units=4))
    data = window_dataset(np.arange(400, dtype=np.int32) % 9, 10, 4, repeat=True)
    fit_resumable(model, data, data.take(2), run_dir, epochs=1, steps_per_epoch=2)
    return run_dir


@pytest.mark.parametrize("damage, path_name", [("params", "params.json"), ("history", "history.csv"),
                                               ("best", "best.keras")])
def test_damaged_run_files_are_reported_with_path_and_fix(tmp_path, char_model, compiled, damage, path_name):
    from utils.training import finish_run

    run_dir = _trained_run(tmp_path, char_model, compiled)
    path = run_dir / path_name
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])  # cut in half
    with pytest.raises(ValueError, match=rf"{path_name}.*delete the run folder"):
        if damage == "params":
            prepare_run_dir(run_dir, {"a": 1})
        elif damage == "history":
            read_history(run_dir)
        else:
            finish_run(run_dir, 1)
