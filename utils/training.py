"""Training the character model: compile, callbacks, resumable ``fit``, the run record.

A *run folder* (``runs/<name>``, git-ignored) holds everything a run produced:

=====================  =========================================================
``params.json``        the notebook parameters of the run
``history.csv``        one row per finished epoch (loss, accuracy, bpc, val_*, time_s)
``best.keras``         the model with the lowest validation bpc so far
``backup/``            Keras' BackupAndRestore state while training is unfinished
``training_done.json`` written when ``fit`` returns (epochs run, stopped early?)
``metrics.json``       final held-out metrics, written by :func:`write_json`
=====================  =========================================================

Interrupting training (the stop button, a crash, a closed laptop) and running the
same cell again resumes from the last finished epoch: ``BackupAndRestore`` restores
the weights, the optimizer state and the epoch counter, and the CSV log is appended
to. Running it again *after* training finished does not retrain: it reloads the
best checkpoint and the history.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from .metrics import BitsPerCharacter

keras.saving.register_keras_serializable(package="assignment4")(BitsPerCharacter)

HISTORY = "history.csv"
BEST = "best.keras"
DONE = "training_done.json"


def compile_char_model(model: keras.Model, learning_rate: float = 2e-3, clipnorm: float = 1.0,
                       decay_steps: int | None = None, final_lr_fraction: float = 0.1) -> keras.Model:
    """Compile with Adam, sparse cross-entropy on logits, accuracy and bits per character.

    Gradient clipping: Graves (2013) clipped the derivatives inside the LSTM to
    [-1, 1] so that a rare large gradient cannot throw the weights far away. Keras
    offers clipping of the whole gradient instead: ``global_clipnorm`` rescales the
    gradient of *all* weights together whenever its norm exceeds ``clipnorm``, which
    keeps its direction (clipping each value separately would not).

    Args:
        model: the training view from :func:`utils.model.build_char_model`.
        learning_rate: Adam's (initial) step size.
        clipnorm: maximum global gradient norm (``None`` = no clipping).
        decay_steps: if given, the learning rate follows a cosine from ``learning_rate``
            down to ``final_lr_fraction * learning_rate`` over this many steps.
        final_lr_fraction: see ``decay_steps``.
    """
    if learning_rate <= 0:
        raise ValueError(f"learning_rate must be > 0, got {learning_rate}")
    lr = learning_rate
    if decay_steps:
        lr = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps, alpha=final_lr_fraction)
    model.compile(
        optimizer=keras.optimizers.Adam(lr, global_clipnorm=clipnorm),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy"), BitsPerCharacter()],
    )
    return model


class EpochClock(keras.callbacks.Callback):
    """Adds ``time_s`` (cumulative training wall-clock seconds) to every epoch's logs.

    Place it *before* ``CSVLogger`` so the column reaches ``history.csv``. On a resumed
    run it continues from the time recorded in the existing history.
    """

    def __init__(self, start_s: float = 0.0):
        super().__init__()
        self.elapsed = start_s

    def on_epoch_begin(self, epoch, logs=None):
        self._t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.elapsed += time.perf_counter() - self._t0
        if logs is not None:
            logs["time_s"] = self.elapsed


class ProgressPrinter(keras.callbacks.Callback):
    """Prints one short line per epoch: losses in bits per character, accuracy, time."""

    def __init__(self, epochs: int, print_fn=print):
        super().__init__()
        self.epochs, self.print_fn = epochs, print_fn

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.print_fn(f"epoch {epoch + 1:>3}/{self.epochs}  train {logs.get('bpc', math.nan):.3f} bpc  "
                      f"valid {logs.get('val_bpc', math.nan):.3f} bpc  "
                      f"valid acc {logs.get('val_accuracy', math.nan):.3f}  "
                      f"[{logs.get('time_s', math.nan):.0f} s]")


class SampleEveryEpoch(keras.callbacks.Callback):
    """Prints a short, seeded sample after every epoch, so you can watch the model learn.

    Args:
        sample_fn: ``sample_fn(model) -> str``, e.g. a closure over
            :func:`utils.generation.generate`.
        print_fn: where the sample goes.
    """

    def __init__(self, sample_fn, print_fn=print):
        super().__init__()
        self.sample_fn, self.print_fn = sample_fn, print_fn

    def on_epoch_end(self, epoch, logs=None):
        sample = self.sample_fn(self.model)
        self.print_fn("    | " + sample.replace("\n", "\n    | "))


class ResetStatesEachEpoch(keras.callbacks.Callback):
    """Zero the carried LSTM state at the start of every epoch (stateful training)."""

    def on_epoch_begin(self, epoch, logs=None):
        from .model import reset_lstm_states

        reset_lstm_states(self.model)


class StreamValidation(keras.callbacks.Callback):
    """Validation for a *stateful* model: scores the validation ids with carried state.

    Keras' own validation would run through the stateful layers and mix their training
    state with validation text. Instead, at the end of every epoch this callback copies
    the weights into the stateless training view (``eval_model``), scores ``ids`` as
    contiguous streams (:func:`utils.evaluation.stream_log_probs`) and adds ``val_bpc``,
    ``val_loss`` (nats) and ``val_accuracy`` to the epoch's logs. Place it before the
    callbacks that read them (``fit_resumable(validation_callback=...)`` does).
    """

    def __init__(self, eval_model: keras.Model, ids: np.ndarray, batch_size: int = 16, chunk_len: int = 256):
        super().__init__()
        self.eval_model, self.ids, self.batch_size, self.chunk_len = eval_model, ids, batch_size, chunk_len

    def on_epoch_end(self, epoch, logs=None):
        from .evaluation import stream_log_probs, summarize
        from .model import copy_weights

        copy_weights(self.model, self.eval_model)
        scores = summarize(*stream_log_probs(self.eval_model, self.ids, self.batch_size, self.chunk_len))
        if logs is not None:
            logs.update(val_bpc=scores["bpc"], val_loss=scores["nats"], val_accuracy=scores["accuracy"])


def read_history(run_dir: str | Path) -> pd.DataFrame:
    """The run's ``history.csv`` as a DataFrame indexed by epoch (1-based); empty if none.

    If an interrupted epoch was logged twice, the last row of each epoch wins.
    """
    path = Path(run_dir) / HISTORY
    if not path.is_file() or path.stat().st_size == 0:
        return pd.DataFrame()
    history = pd.read_csv(path)
    history["epoch"] = history["epoch"].astype(int) + 1
    return history.drop_duplicates("epoch", keep="last").set_index("epoch")


def prepare_run_dir(run_dir: str | Path, params: dict) -> Path:
    """Create the run folder and write ``params.json``; refuse a folder of other parameters.

    Raises:
        ValueError: the folder holds a run made with different parameters (so its
            checkpoint and history would be mixed with this run's).
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "params.json"
    params = json.loads(json.dumps(params))  # normalise tuples etc. to JSON types
    if path.is_file():
        old = json.loads(path.read_text())
        if old != params:
            diff = sorted(k for k in set(old) | set(params) if old.get(k) != params.get(k))
            raise ValueError(f"{run_dir} holds a run with other parameters (differs in {diff}); "
                             f"use another run folder or delete this one")
    else:
        path.write_text(json.dumps(params, indent=2, sort_keys=True) + "\n")
    return run_dir


def fit_resumable(model: keras.Model, train_ds, valid_ds, run_dir: str | Path, *, epochs: int,
                  steps_per_epoch: int, patience: int = 3, extra_callbacks=(), print_fn=print,
                  validation_callback: keras.callbacks.Callback | None = None):
    """Train ``model`` for up to ``epochs`` epochs, resumable, recording the run.

    Callbacks: :class:`EpochClock`, ``BackupAndRestore`` (resume), ``CSVLogger``
    (history), ``ModelCheckpoint`` (best validation bpc, ``.keras``), ``EarlyStopping``
    (on validation bpc, ``patience`` epochs) and :class:`ProgressPrinter`, plus
    ``extra_callbacks`` (e.g. :class:`SampleEveryEpoch`).

    Args:
        model: a compiled training-view model.
        train_ds: repeating training dataset (``steps_per_epoch`` batches per epoch).
        valid_ds: finite validation dataset, evaluated after every epoch (``None`` when
            ``validation_callback`` provides ``val_*`` instead, e.g. :class:`StreamValidation`).
        run_dir: the run folder (see :func:`prepare_run_dir`).
        epochs, steps_per_epoch: the training budget.
        patience: early-stopping patience in epochs.
        validation_callback: a callback that adds ``val_bpc`` (etc.) to the logs; it runs
            before the history, checkpoint and early-stopping callbacks read them, and its
            time counts in ``time_s``.

    Returns:
        ``(best_model, history, status)``: the best checkpoint loaded back, the history
        DataFrame (see :func:`read_history`) and ``"trained"``, ``"resumed"`` or
        ``"already complete"``.
    """
    for arg, value in (("epochs", epochs), ("steps_per_epoch", steps_per_epoch), ("patience", patience)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{arg} must be an int >= 1, got {value!r}")
    run_dir = Path(run_dir)
    if (run_dir / DONE).is_file() and (run_dir / BEST).is_file():
        return keras.saving.load_model(run_dir / BEST), read_history(run_dir), "already complete"
    previous = read_history(run_dir)
    status = "resumed" if len(previous) else "trained"
    best_so_far = float(previous["val_bpc"].min()) if len(previous) else None
    callbacks = [
        # the validation callback goes first so that EpochClock's time_s includes it, as it includes
        # Keras' own validation for a stateless model
        *([validation_callback] if validation_callback is not None else []),
        EpochClock(start_s=float(previous["time_s"].iloc[-1]) if len(previous) else 0.0),
        keras.callbacks.BackupAndRestore(str(run_dir / "backup"), save_freq="epoch", delete_checkpoint=True),
        keras.callbacks.CSVLogger(str(run_dir / HISTORY), append=True),
        keras.callbacks.ModelCheckpoint(str(run_dir / BEST), monitor="val_bpc", mode="min",
                                        save_best_only=True, initial_value_threshold=best_so_far),
        keras.callbacks.EarlyStopping(monitor="val_bpc", mode="min", patience=patience),
        ProgressPrinter(epochs, print_fn=print_fn),
        *extra_callbacks,
    ]
    model.fit(train_ds, epochs=epochs, steps_per_epoch=steps_per_epoch, validation_data=valid_ds,
              callbacks=callbacks, shuffle=False, verbose=0)  # the dataset shuffles itself
    history = read_history(run_dir)
    write_json(run_dir / DONE, {"epochs_run": len(history), "epochs_budget": epochs,
                                "stopped_early": len(history) < epochs})
    return keras.saving.load_model(run_dir / BEST), history, status


def write_json(path: str | Path, record: dict) -> Path:
    """Write ``record`` as indented JSON (NumPy scalars converted); returns the path."""
    def convert(value):
        if isinstance(value, np.generic):
            return value.item()
        raise TypeError(f"not JSON serialisable: {type(value).__name__}")
    path = Path(path)
    path.write_text(json.dumps(record, indent=2, sort_keys=True, default=convert) + "\n")
    return path
