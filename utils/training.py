"""Training plumbing for the notebook's ``model.fit``: callbacks, resume, the run record.

The notebook compiles its model and calls ``model.fit`` itself; this module gives that
call its callbacks (:func:`run_callbacks`) and reads the result back (:func:`finish_run`).

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

import hashlib
import json
import math
import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from . import metrics  # noqa: F401  (registers BitsPerCharacter, so best.keras loads)
from .checks import check_int

HISTORY = "history.csv"
BEST = "best.keras"
DONE = "training_done.json"


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
    """Validation with carried state: scores the validation ids as contiguous streams.

    At the end of every epoch the current weights are copied into a
    :class:`utils.evaluation.StreamScorer` (built once, when training starts, from the
    model being trained) that reads ``ids`` as ``batch_size`` long streams with the LSTM
    state carried - the same scoring as the final held-out evaluation - and adds
    ``val_bpc``, ``val_loss`` (nats) and ``val_accuracy`` to the epoch's logs. Works for
    stateless and Keras-stateful models alike (the scorer is never stateful, so a
    stateful model's training state is not disturbed). Place it before the callbacks
    that read those logs (:func:`run_callbacks` does).
    """

    def __init__(self, ids: np.ndarray, batch_size: int = 16, chunk_len: int = 256):
        super().__init__()
        self.ids, self.batch_size, self.chunk_len = ids, batch_size, chunk_len
        self.scorer = None

    def on_train_begin(self, logs=None):
        from .evaluation import StreamScorer

        if self.scorer is None:
            self.scorer = StreamScorer(self.model)

    def on_epoch_end(self, epoch, logs=None):
        from .evaluation import summarize

        self.scorer.update_weights(self.model)
        scores = summarize(*self.scorer.log_probs(self.ids, self.batch_size, self.chunk_len))
        if logs is not None:
            logs.update(val_bpc=scores["bpc"], val_loss=scores["nats"], val_accuracy=scores["accuracy"])


def read_history(run_dir: str | Path) -> pd.DataFrame:
    """The run's ``history.csv`` as a DataFrame indexed by epoch (1-based); empty if none.

    If an interrupted epoch was logged twice, the last row of each epoch wins.
    """
    path = Path(run_dir) / HISTORY
    if not path.is_file() or path.stat().st_size == 0:
        return pd.DataFrame()
    try:
        history = pd.read_csv(path)
        missing = {"epoch", "val_bpc", "time_s"} - set(history.columns)
        if missing or history[["epoch", "val_bpc", "time_s"]].isna().any().any():
            raise ValueError(f"missing columns or values: {sorted(missing) or 'empty cells'}")
        history["epoch"] = history["epoch"].astype(int) + 1
    except (ValueError, pd.errors.ParserError) as exc:
        raise ValueError(f"{path} is damaged ({exc}); delete the run folder {path.parent} to train "
                         f"this run again") from exc
    return history.drop_duplicates("epoch", keep="last").set_index("epoch")


#: The modules whose code decides what a training run computes (part of the run-folder key).
RUN_CODE = ("model.py", "metrics.py", "training.py", "pipelines.py", "vocab.py", "corpus.py", "splits.py",
            "evaluation.py", "checks.py")


def code_fingerprint() -> str:
    """SHA-256 of the code a training run depends on: :data:`RUN_CODE` and the notebook's
    ``shared-code`` cells (its model definition and compile step)."""
    from .notebook_code import SHARED_TAG, tagged_sources

    utils_dir = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for name in RUN_CODE:
        digest.update((utils_dir / name).read_bytes())
    for source in tagged_sources(SHARED_TAG):
        digest.update(source.encode())
    return digest.hexdigest()


def run_folder_name(params: dict) -> str:
    """``"run-<10 hex digits>"``: a key of the run's parameters (JSON, sorted), so that a run with
    other settings, data or code (put its fingerprint in ``params``) never shares a folder."""
    return "run-" + hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:10]


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
        try:
            old = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{path} is damaged ({exc}); delete the run folder {run_dir} to train this run "
                             f"again") from exc
        if old != params:
            diff = sorted(k for k in set(old) | set(params) if old.get(k) != params.get(k))
            raise ValueError(f"{run_dir} holds a run with other parameters (differs in {diff}); "
                             f"use another run folder or delete this one")
    else:
        path.write_text(json.dumps(params, indent=2, sort_keys=True) + "\n")
    return run_dir


def run_status(run_dir: str | Path) -> str:
    """``"complete"`` (training finished), ``"partial"`` (some epochs logged) or ``"new"``."""
    run_dir = Path(run_dir)
    if (run_dir / DONE).is_file() and (run_dir / BEST).is_file():
        return "complete"
    return "partial" if len(read_history(run_dir)) else "new"


def run_callbacks(run_dir: str | Path, *, epochs: int, patience: int = 3, extra_callbacks=(),
                  print_fn=print, validation_callback: keras.callbacks.Callback | None = None) -> list:
    """The callbacks that make ``model.fit`` resumable and record the run in ``run_dir``.

    In order: ``validation_callback`` (e.g. :class:`StreamValidation`, which adds ``val_*``
    to the logs), :class:`EpochClock`, ``BackupAndRestore`` (resume after an interruption),
    ``CSVLogger`` (``history.csv``), ``ModelCheckpoint`` (``best.keras``, lowest validation
    bpc), ``EarlyStopping`` (on validation bpc, ``patience`` epochs), :class:`ProgressPrinter`,
    then ``extra_callbacks`` (e.g. :class:`SampleEveryEpoch`). A partial run's history and
    best validation bpc are picked up, so the checkpoint only improves.
    """
    epochs, patience = check_int(epochs, "epochs"), check_int(patience, "patience")
    run_dir = Path(run_dir)
    previous = read_history(run_dir)
    best_so_far = float(previous["val_bpc"].min()) if len(previous) else None
    return [
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


def finish_run(run_dir: str | Path, epochs: int):
    """After ``model.fit``: mark the run complete; return ``(best_model, history)``.

    ``best_model`` is ``best.keras`` (the epoch with the lowest validation bpc) loaded back;
    ``history`` is :func:`read_history`. Calling it again on a complete run only reloads.
    """
    run_dir = Path(run_dir)
    history = read_history(run_dir)
    if not (run_dir / BEST).is_file():
        raise FileNotFoundError(f"{run_dir / BEST} is missing: train first (model.fit with run_callbacks)")
    if not (run_dir / DONE).is_file():
        write_json(run_dir / DONE, {"epochs_run": len(history), "epochs_budget": epochs,
                                    "stopped_early": len(history) < epochs})
    try:
        best = keras.saving.load_model(run_dir / BEST)
    except Exception as exc:  # Keras reports a damaged zip file as "File not found", among others
        raise ValueError(f"{run_dir / BEST} exists but cannot be loaded ({type(exc).__name__}); it is "
                         f"damaged: delete the run folder {run_dir} to train this run again") from exc
    return best, history


def fit_resumable(model: keras.Model, train_ds, valid_ds, run_dir: str | Path, *, epochs: int,
                  steps_per_epoch: int, patience: int = 3, extra_callbacks=(), print_fn=print,
                  validation_callback: keras.callbacks.Callback | None = None):
    """``model.fit`` with :func:`run_callbacks`, then :func:`finish_run`, in one call.

    Args:
        model: a compiled training-view model.
        train_ds: repeating training dataset (``steps_per_epoch`` batches per epoch).
        valid_ds: finite validation dataset, evaluated after every epoch (``None`` when
            ``validation_callback`` provides ``val_*`` instead, e.g. :class:`StreamValidation`).
        run_dir: the run folder (see :func:`prepare_run_dir`).
        epochs, steps_per_epoch: the training budget.
        patience: early-stopping patience in epochs.
        validation_callback, extra_callbacks, print_fn: see :func:`run_callbacks`.

    Returns:
        ``(best_model, history, status)``: the best checkpoint loaded back, the history
        DataFrame (see :func:`read_history`) and ``"trained"``, ``"resumed"`` or
        ``"already complete"``.
    """
    check_int(steps_per_epoch, "steps_per_epoch")
    status = {"complete": "already complete", "partial": "resumed", "new": "trained"}[run_status(run_dir)]
    if status != "already complete":
        callbacks = run_callbacks(run_dir, epochs=epochs, patience=patience, extra_callbacks=extra_callbacks,
                                  print_fn=print_fn, validation_callback=validation_callback)
        model.fit(train_ds, epochs=epochs, steps_per_epoch=steps_per_epoch, validation_data=valid_ds,
                  callbacks=callbacks, shuffle=False, verbose=0)  # the dataset shuffles itself
    best, history = finish_run(run_dir, epochs)
    return best, history, status


def write_json(path: str | Path, record: dict) -> Path:
    """Write ``record`` as indented JSON (NumPy scalars converted); returns the path."""
    def convert(value):
        if isinstance(value, np.generic):
            return value.item()
        raise TypeError(f"not JSON serialisable: {type(value).__name__}")
    path = Path(path)
    path.write_text(json.dumps(record, indent=2, sort_keys=True, default=convert) + "\n")
    return path
