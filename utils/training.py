"""Run folders for the notebook's ``model.fit``: callbacks, resume after an interrupt, reload.

A run folder holds ``params.json`` (its key), ``history.csv``, ``best.keras`` (lowest validation
bpc), ``backup/`` (while unfinished), ``training_done.json`` and ``metrics.json``.
"""
from __future__ import annotations

import hashlib
import json
import math
import time
import zipfile
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from . import metrics  # noqa: F401  (registers BitsPerCharacter, so best.keras loads)
from .checks import check_int
from .evaluation import STREAM_BATCH_SIZE, STREAM_CHUNK_LEN, StreamScorer, summarize
from .model import reset_lstm_states
from .units import LN2

HISTORY = "history.csv"
BEST = "best.keras"
DONE = "training_done.json"
BACKUP = "backup"
NOT_TRAINED = ("model.fit has not trained this run: call model.fit(...) with callbacks=run.callbacks in the "
               "cell above")


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.dtype):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _delete_hint(run_dir: Path) -> str:
    return f"delete the run folder {run_dir} to train this run again"


def _without_name(config: dict) -> dict:
    return {k: v for k, v in config.items() if k != "name"}


def _by_index(value, index: dict):
    """A functional model's config with the layer names in ``keras_history`` replaced by indices."""
    if isinstance(value, dict):
        return {k: ([index[v[0]], *v[1:]] if k == "keras_history" else _by_index(v, index))
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_by_index(v, index) for v in value]
    return value


def model_fingerprint(model: keras.Model) -> str:
    """SHA-256 (hex) of each layer's class, config, inputs and weight shapes, the outputs, the optimizer,
    the loss and the metrics of a compiled model; layer names do not count.

    Raises:
        ValueError: the model is not compiled.
    """
    if getattr(model, "optimizer", None) is None or not getattr(model, "compiled", False):
        raise ValueError("compile the model before taking its fingerprint (model.compile or compile_model)")
    index = {layer.name: i for i, layer in enumerate(model.layers)}
    sequential = isinstance(model, keras.Sequential)  # its layers read each other in order
    config = {}
    if not sequential:
        try:
            config = model.get_config() or {}
        except NotImplementedError:  # a subclassed model without get_config: layers and weights only
            pass
    inbound = {entry["name"]: entry.get("inbound_nodes") for entry in config.get("layers", [])}
    layers = [{"class": type(layer).__name__, "config": _without_name(layer.get_config()),
               "inbound": [i - 1] if sequential else _by_index(inbound.get(layer.name), index),
               "weights": [[list(w.shape), str(w.dtype)] for w in layer.weights]}
              for i, layer in enumerate(model.layers)]
    outputs = config.get("output_layers")
    if outputs:
        outputs = outputs if isinstance(outputs[0], list) else [outputs]  # one output: [name, node, tensor]
        outputs = [[index[name], *rest] for name, *rest in outputs]
    compiled = model.get_compile_config() or {}
    record = {"layers": layers, "outputs": outputs,
              "optimizer": [type(model.optimizer).__name__, _without_name(model.optimizer.get_config())],
              **{key: compiled.get(key) for key in ("loss", "loss_weights", "metrics", "weighted_metrics")}}
    return hashlib.sha256(json.dumps(record, sort_keys=True, default=_json_default).encode()).hexdigest()


class BudgetCheck(keras.callbacks.Callback):
    """Refuses, before any step, a ``fit`` whose epochs or steps per epoch differ from the budget.

    Raises:
        ValueError: in ``on_train_begin``: no ``steps_per_epoch`` or other ``epochs`` / ``steps``.
    """

    def __init__(self, epochs: int, steps_per_epoch: int):
        super().__init__()
        self.epochs = check_int(epochs, "epochs")
        self.steps_per_epoch = check_int(steps_per_epoch, "steps_per_epoch")

    def on_train_begin(self, logs=None):
        epochs, steps = self.params.get("epochs"), self.params.get("steps")
        if steps is None:
            raise ValueError("train_ds repeats forever: pass steps_per_epoch=STEPS_PER_EPOCH, "
                             "or fit never ends")
        wrong = [f"model.fit got {arg}={got}, the budget is {name}={want}" for arg, got, name, want in
                 (("epochs", epochs, "EPOCHS", self.epochs),
                  ("steps_per_epoch", steps, "STEPS_PER_EPOCH", self.steps_per_epoch)) if got != want]
        if wrong:
            raise ValueError("; ".join(wrong) + ": pass epochs=EPOCHS, steps_per_epoch=STEPS_PER_EPOCH")


class EpochClock(keras.callbacks.Callback):
    """Adds ``time_s``, cumulative seconds from ``start_s``, to every epoch's logs (before ``CSVLogger``)."""

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
    """Prints one line per epoch: bits per character (train, valid), valid accuracy, time."""

    def __init__(self, epochs: int, print_fn=print):
        super().__init__()
        self.epochs, self.print_fn = epochs, print_fn

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.print_fn(f"epoch {epoch + 1:>3}/{self.epochs}  train {logs.get('bpc', math.nan):.3f} bpc  "
                      f"valid {logs.get('val_bpc', math.nan):.3f} bpc  "
                      f"valid acc {logs.get('val_accuracy', math.nan):.3f}  "
                      f"[{logs.get('time_s', math.nan):.0f} s]")


class ResetStatesEachEpoch(keras.callbacks.Callback):
    """Zero the carried LSTM state at the start of every epoch (stateful training)."""

    def on_epoch_begin(self, epoch, logs=None):
        reset_lstm_states(self.model)


class StreamValidation(keras.callbacks.Callback):
    """Adds ``val_bpc``, ``val_loss`` (nats) and ``val_accuracy`` of ``ids`` to every epoch's logs.

    Scores with the state carried (:class:`utils.evaluation.StreamScorer`, built once); bits per
    character by ``bits_per_char(log_p)``.
    """

    def __init__(self, ids: np.ndarray, bits_per_char, batch_size: int = STREAM_BATCH_SIZE,
                 chunk_len: int = STREAM_CHUNK_LEN):
        super().__init__()
        if not callable(bits_per_char):
            raise TypeError(f"bits_per_char must be a function of log_p, got {type(bits_per_char).__name__}")
        self.ids, self.bits_per_char = ids, bits_per_char
        self.batch_size, self.chunk_len = batch_size, chunk_len
        self.scorer = None

    def on_train_begin(self, logs=None):
        self.bits_per_char(np.full(2, -LN2))  # one that raises does so now, not after an epoch
        if self.scorer is None:
            self.scorer = StreamScorer(self.model)

    def on_epoch_end(self, epoch, logs=None):
        self.scorer.update_weights(self.model)
        log_p, correct = self.scorer.log_probs(self.ids, self.batch_size, self.chunk_len)
        scores = summarize(log_p, correct, bits_per_char=self.bits_per_char)
        if logs is not None:
            logs.update(val_bpc=scores["bpc"], val_loss=scores["nats"], val_accuracy=scores["accuracy"])


class _Backup(keras.callbacks.BackupAndRestore):
    """``BackupAndRestore`` that reports a backup it cannot load with its path and the fix."""

    def on_train_begin(self, logs=None):
        try:
            super().on_train_begin(logs)
        except Exception as exc:  # h5py reports a truncated file as an OSError that names no file
            if not Path(self.backup_dir).is_dir():
                raise
            raise ValueError(f"{self._weights_path} (the backup of the last epoch) cannot be loaded "
                             f"({type(exc).__name__}: {exc}); {_delete_hint(Path(self.backup_dir).parent)}"
                             ) from exc


class _RunRecorder(keras.callbacks.Callback):
    """Counts a run's steps and epochs, writes ``training_done.json``; a complete run trains nothing."""

    def __init__(self, run: TrainingRun):
        super().__init__()
        self.run = run

    def on_train_begin(self, logs=None):
        if run_status(self.run.dir) == "complete":  # nothing to train: the loop runs no epoch
            self.model._initial_epoch = self.params["epochs"]

    def on_epoch_end(self, epoch, logs=None):  # no batch hook: one would make Keras wait for every step
        self.run.epochs_trained += 1
        self.run.steps_trained += self.params["steps"]  # BudgetCheck made it steps_per_epoch

    def on_train_end(self, logs=None):
        self.model._initial_epoch = None  # BackupAndRestore and this callback set it for one fit only
        history = read_history(self.run.dir)
        if len(history) and (self.run.dir / BEST).is_file() and not (self.run.dir / DONE).is_file():
            write_json(self.run.dir / DONE, {"epochs_run": len(history), "epochs_budget": self.run.epochs,
                                             "stopped_early": len(history) < self.run.epochs})


def read_history(run_dir: str | Path) -> pd.DataFrame:
    """The run's ``history.csv`` indexed by epoch (1-based, last row of an epoch wins); empty if none.

    Raises:
        ValueError: the file is damaged (names the path and the fix).
    """
    path = Path(run_dir).expanduser() / HISTORY
    if not path.is_file() or path.stat().st_size == 0:
        return pd.DataFrame()
    try:
        history = pd.read_csv(path)
        missing = {"epoch", "val_bpc", "time_s"} - set(history.columns)
        if missing or history[["epoch", "val_bpc", "time_s"]].isna().any().any():
            raise ValueError(f"missing columns or values: {sorted(missing) or 'empty cells'}")
        history["epoch"] = history["epoch"].astype(int) + 1
    except (ValueError, pd.errors.ParserError) as exc:
        raise ValueError(f"{path} is damaged ({exc}); {_delete_hint(path.parent)}") from exc
    return history.drop_duplicates("epoch", keep="last").set_index("epoch")


def run_folder_name(params: dict) -> str:
    """``"run-<10 hex digits>"``: a hash of ``params`` (JSON, sorted keys)."""
    return "run-" + hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:10]


def prepare_run_dir(run_dir: str | Path, params: dict) -> Path:
    """Create the run folder and write ``params.json``; refuse a folder of other parameters.

    Raises:
        ValueError: the folder holds a run of other parameters, or its ``params.json`` is damaged.
    """
    run_dir = Path(run_dir).expanduser()
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "params.json"
    params = json.loads(json.dumps(params))  # normalise tuples etc. to JSON types
    if path.is_file():
        try:
            old = json.loads(path.read_text())
            if not isinstance(old, dict):
                raise ValueError(f"it holds a JSON {type(old).__name__}, not an object")
        except (ValueError, UnicodeDecodeError) as exc:  # json.JSONDecodeError is a ValueError
            raise ValueError(f"{path} is damaged ({exc}); {_delete_hint(run_dir)}") from exc
        if old != params:
            diff = sorted(k for k in set(old) | set(params) if old.get(k) != params.get(k))
            raise ValueError(f"{run_dir} holds a run with other parameters (differs in {diff}); "
                             f"use another run folder or delete this one")
    else:
        path.write_text(json.dumps(params, indent=2, sort_keys=True) + "\n")
    return run_dir


def run_status(run_dir: str | Path) -> str:
    """``"complete"`` (``fit`` returned), ``"partial"`` (some epochs logged) or ``"new"``.

    Raises:
        ValueError: the folder cannot be resumed or reloaded: a file that its record needs is missing
            or damaged (names the path and the fix).
    """
    run_dir = Path(run_dir).expanduser()
    done, logged, best = (run_dir / DONE).is_file(), len(read_history(run_dir)) > 0, run_dir / BEST
    if not (done or logged):
        return "new"
    missing = [run_dir / name for name, there in ((HISTORY, logged), (BEST, best.is_file()),
                                                  (BACKUP, done or (run_dir / BACKUP).is_dir())) if not there]
    if missing:
        raise ValueError(f"{missing[0]} is missing, so this run can be neither resumed nor reloaded; "
                         f"{_delete_hint(run_dir)}")
    if not zipfile.is_zipfile(best):
        raise ValueError(f"{best} is damaged (not a .keras zip file); {_delete_hint(run_dir)}")
    return "complete" if done else "partial"


class TrainingRun:
    """One training run in its folder, made by :func:`start_run`.

    Attributes:
        dir: the run folder.
        needs_training: False when the run is complete (it is reloaded, not trained again).
        callbacks: for ``model.fit``; with them ``fit`` of a complete run trains nothing.
        steps_trained: steps trained by ``fit`` in this process.
        epochs_trained: epochs finished in this process.
    """

    def __init__(self, run_dir: Path, *, valid_ids, bits_per_char, epochs: int, steps_per_epoch: int,
                 patience: int):
        self.dir = Path(run_dir)
        self.epochs = check_int(epochs, "epochs")
        patience = check_int(patience, "patience")
        self.steps_trained = self.epochs_trained = 0
        self.needs_training = run_status(self.dir) != "complete"
        budget, recorder = BudgetCheck(epochs, steps_per_epoch), _RunRecorder(self)
        if not self.needs_training:
            self.callbacks = [budget, recorder]
            return
        previous = read_history(self.dir)
        best_so_far = float(previous["val_bpc"].min()) if len(previous) else None
        self.callbacks = [
            budget,
            # before EpochClock, so that time_s includes validation
            StreamValidation(valid_ids, bits_per_char),
            EpochClock(start_s=float(previous["time_s"].iloc[-1]) if len(previous) else 0.0),
            _Backup(str(self.dir / BACKUP), save_freq="epoch", delete_checkpoint=True),
            keras.callbacks.CSVLogger(str(self.dir / HISTORY), append=True),
            keras.callbacks.ModelCheckpoint(str(self.dir / BEST), monitor="val_bpc", mode="min",
                                            save_best_only=True, initial_value_threshold=best_so_far),
            keras.callbacks.EarlyStopping(monitor="val_bpc", mode="min", patience=patience),
            ProgressPrinter(self.epochs),
            recorder,  # last: writes training_done.json after the others have logged and saved
        ]

    def finish(self):
        """``(best_model, history)``: ``best.keras`` and :func:`read_history`.

        Raises:
            RuntimeError: ``fit`` with ``run.callbacks`` has not finished this run.
            ValueError: ``best.keras`` is damaged.
        """
        if run_status(self.dir) != "complete":
            if not self.epochs_trained:
                raise RuntimeError(NOT_TRAINED)
            raise RuntimeError(f"model.fit stopped after {len(read_history(self.dir))} of {self.epochs} "
                               f"epochs (interrupted): call it again with callbacks=run.callbacks to resume")
        try:
            best = keras.saving.load_model(self.dir / BEST)
        except Exception as exc:  # Keras reports a damaged zip file as "File not found", among others
            raise ValueError(f"{self.dir / BEST} exists but cannot be loaded ({type(exc).__name__}); it is "
                             f"damaged: {_delete_hint(self.dir)}") from exc
        return best, read_history(self.dir)


def start_run(runs_root: str | Path, params: dict, model: keras.Model, *, valid_ids, bits_per_char,
              epochs: int, steps_per_epoch: int, patience: int) -> TrainingRun:
    """The run of ``model`` (built and compiled) with ``params``, in ``runs_root/run-<hash>``.

    The folder's key is ``params``, :func:`model_fingerprint`, the budget and a hash of ``valid_ids``:
    a complete run is reloaded, a partial one resumes, anything else is new.

    Args:
        params: JSON-serialisable settings of the run.
        valid_ids: int array of the validation text, scored after every epoch.
        bits_per_char: ``bits_per_char(log_p) -> float``, ``log_p`` in nats.
        epochs, steps_per_epoch, patience: the budget and the early-stopping patience.

    Raises:
        ValueError: the model is not compiled, a budget number is not an int >= 1, or the folder holds
            a run that can be neither resumed nor reloaded (:func:`run_status`).
    """
    check_int(steps_per_epoch, "steps_per_epoch")
    valid_sha256 = hashlib.sha256(np.ascontiguousarray(valid_ids, np.int64).tobytes()).hexdigest()
    key = {**params, "model_sha256": model_fingerprint(model), "valid_ids_sha256": valid_sha256,
           "budget": {"epochs": epochs, "steps_per_epoch": steps_per_epoch, "patience": patience}}
    run_dir = prepare_run_dir(Path(runs_root).expanduser() / run_folder_name(key), key)
    return TrainingRun(run_dir, valid_ids=valid_ids, bits_per_char=bits_per_char, epochs=epochs,
                       steps_per_epoch=steps_per_epoch, patience=patience)


def write_json(path: str | Path, record: dict) -> Path:
    """Write ``record`` as indented JSON (NumPy scalars converted); returns the path."""
    path = Path(path).expanduser()
    path.write_text(json.dumps(record, indent=2, sort_keys=True, default=_json_default) + "\n")
    return path
