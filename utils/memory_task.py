"""Long-range memory: can a recurrent net output the first symbol of a sequence?

Each sequence starts with one of ``n_symbols`` signal symbols (ids ``0 .. n_symbols-1``), followed by
``length - 1`` noise symbols (ids ``n_symbols .. n_symbols + n_noise - 1``); the label is the first
symbol (after Hochreiter & Schmidhuber 1997, experiment 2). The gradient that teaches the network to
store it must travel back ``length - 1`` steps: it vanishes in a plain RNN, while an LSTM's cell can
carry it unchanged when its forget gate is near 1 (Graves 2013, eqs. 7-11).
"""
from __future__ import annotations

import time

import numpy as np
import pandas as pd

from .checks import check_int

#: Recurrent layer kinds understood by :func:`build_memory_model`.
KINDS = ("rnn", "lstm", "gru")

DEFAULT_N_NOISE = 4


def memory_vocab_size(n_symbols: int = 4, n_noise: int = DEFAULT_N_NOISE) -> int:
    """Number of distinct ids :func:`make_memory_task` uses: ``n_symbols + n_noise``."""
    return int(n_symbols) + int(n_noise)


def make_memory_task(n_samples: int, length: int, n_symbols: int = 4, seed: int = 0,
                     n_noise: int = DEFAULT_N_NOISE):
    """``n_samples`` sequences of ``length`` ids and their labels, seeded by ``seed``.

    Returns:
        ``(x, y)``: int32 ``(n_samples, length)`` and int32 ``(n_samples,)``, ``y == x[:, 0]``.

    Raises:
        ValueError: ``n_samples``, ``length`` or ``n_noise`` < 1, or ``n_symbols`` < 2.
    """
    for name, value, minimum in (("n_samples", n_samples, 1), ("length", length, 1),
                                 ("n_symbols", n_symbols, 2), ("n_noise", n_noise, 1)):
        check_int(value, name, minimum)
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_symbols, size=n_samples).astype(np.int32)
    x = rng.integers(n_symbols, n_symbols + n_noise, size=(n_samples, length)).astype(np.int32)
    x[:, 0] = y
    return x, y


def _recurrent_params(kind: str, units: int, input_dim: int) -> int:
    """Trainable parameters of one Keras recurrent layer with default options."""
    if kind == "rnn":
        return units * (input_dim + units + 1)
    if kind == "lstm":
        return 4 * units * (input_dim + units + 1)
    if kind == "gru":  # reset_after=True: two bias vectors
        return 3 * units * (input_dim + units + 2)
    raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


def matched_units(kind: str, lstm_units: int, input_dim: int, n_outputs: int = 0) -> int:
    """Units of a ``kind`` layer with about the parameters of an LSTM of ``lstm_units`` units, each
    followed by a Dense layer of ``n_outputs`` outputs."""
    def total(k: str, u: int) -> int:
        return _recurrent_params(k, u, input_dim) + (u + 1) * n_outputs

    target = total("lstm", lstm_units)
    candidates = range(1, 4 * lstm_units + 1)
    return min(candidates, key=lambda u: abs(total(kind, u) - target))


def _gate_bias_initializer(kind: str, remember_bias: float):
    """Bias initializer that starts a gated layer keeping its memory and ignoring new input.

    LSTM (blocks i, f, g, o): forget gate ``+remember_bias``, input gate ``-remember_bias``. GRU
    (``reset_after=True``, blocks z, r, h): update gate ``+remember_bias``.
    """
    import keras

    def init(shape, dtype=None):
        b = np.zeros(shape, dtype=np.float32)
        if kind == "lstm":
            n = shape[-1] // 4
            b[0:n] = -remember_bias          # input gate i
            b[n:2 * n] = remember_bias       # forget gate f
        else:
            n = shape[-1] // 3
            if b.ndim == 2:                  # reset_after=True: (input, recurrent) rows
                b[0, 0:n] = remember_bias    # update gate z
            else:
                b[0:n] = remember_bias
        return keras.ops.convert_to_tensor(b, dtype=dtype)

    return init


def build_memory_model(kind: str, units: int, vocab_size: int, n_symbols: int,
                       match_params: bool = True, remember_bias: float | None = 4.0):
    """An uncompiled classifier: int32 ids ``(batch, time)`` -> layers ``"embedding"`` (frozen one-hot),
    ``kind`` and ``"logits"`` -> float32 ``(batch, n_symbols)``.

    Args:
        kind: ``"rnn"``, ``"lstm"`` or ``"gru"``: Keras' SimpleRNN, LSTM or GRU.
        units: units of the LSTM; with ``match_params`` the others get about as many parameters
            (:func:`matched_units`), else ``units`` too.
        vocab_size: number of ids (:func:`memory_vocab_size`).
        n_symbols: number of classes (int >= 2).
        match_params: match the parameter counts.
        remember_bias: initial bias b of the LSTM forget gate (+b) and input gate (-b) and of the GRU
            update gate (+b); None keeps Keras' defaults.

    Raises:
        ValueError: an unknown ``kind`` or a size below its minimum.
    """
    import keras

    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if units < 1 or vocab_size < 1 or n_symbols < 2:
        raise ValueError(
            f"need units >= 1, vocab_size >= 1, n_symbols >= 2; got {units}, {vocab_size}, {n_symbols}"
        )
    n_units = matched_units(kind, units, vocab_size, n_symbols) if match_params else units
    options = {}
    if remember_bias is not None and kind == "lstm":
        options = {"unit_forget_bias": False,
                   "bias_initializer": _gate_bias_initializer(kind, remember_bias)}
    elif remember_bias is not None and kind == "gru":
        options = {"bias_initializer": _gate_bias_initializer(kind, remember_bias)}
    layer_cls = {"rnn": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM,
                 "gru": keras.layers.GRU}[kind]
    ids = keras.Input(shape=(None,), dtype="int32", name="ids")
    one_hot = keras.layers.Embedding(                             # (batch, time, vocab)
        vocab_size, vocab_size, embeddings_initializer="identity", trainable=False,
        name="embedding")(ids)
    h = layer_cls(n_units, name=kind, **options)(one_hot)         # (batch, n_units)
    logits = keras.layers.Dense(n_symbols, name="logits")(h)      # (batch, n_symbols)
    return keras.Model(ids, logits, name=f"memory_{kind}")


def count_trainable(model) -> int:
    """Number of trainable parameters (the frozen one-hot table is not counted)."""
    return int(sum(int(np.prod(w.shape)) for w in model.trainable_weights))


def compile_memory_model(model, learning_rate: float = 1e-2):
    """Compile with Adam (gradients clipped to global norm 1), cross-entropy on logits and accuracy."""
    import keras

    model.compile(optimizer=keras.optimizers.Adam(learning_rate, global_clipnorm=1.0),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return model


def _stop_at_accuracy(threshold: float):
    """A callback that stops training once an epoch's training accuracy reaches ``threshold``."""
    import keras

    class StopAtAccuracy(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if logs is not None and logs.get("accuracy", 0.0) >= threshold:
                self.model.stop_training = True

    return StopAtAccuracy()


def run_memory_experiment(lengths=(5, 10, 20, 50, 100), kinds=KINDS, seed: int = 0,
                          n_train: int = 1024, n_test: int = 512, units: int = 6,
                          n_symbols: int = 4, n_noise: int = DEFAULT_N_NOISE,
                          epochs: int = 16, batch_size: int = 64,
                          learning_rate: float = 1e-2,
                          remember_bias: float | None = 4.0,
                          stop_accuracy: float | None = 0.995) -> pd.DataFrame:
    """Train each of ``kinds`` (:func:`build_memory_model`) at each of ``lengths`` on ``n_train`` sequences
    and test it on ``n_test`` fresh ones.

    Each run is seeded with ``seed`` (training data too; test data with ``seed + 1``), compiled by
    :func:`compile_memory_model` and trained for at most ``epochs``, stopping once the training
    accuracy reaches ``stop_accuracy`` (None: never).

    Returns:
        One row per run: ``kind``, ``length``, ``accuracy`` (held-out fraction correct),
        ``n_params`` (trainable) and ``seconds`` (to build, train and test).
    """
    import keras

    vocab = memory_vocab_size(n_symbols, n_noise)
    rows = []
    for length in lengths:
        x_train, y_train = make_memory_task(n_train, length, n_symbols, seed, n_noise)
        x_test, y_test = make_memory_task(n_test, length, n_symbols, seed + 1, n_noise)
        for kind in kinds:
            start = time.perf_counter()
            keras.utils.set_random_seed(seed)
            model = build_memory_model(kind, units, vocab, n_symbols,
                                       remember_bias=remember_bias)
            compile_memory_model(model, learning_rate)
            callbacks = [] if stop_accuracy is None else [_stop_at_accuracy(stop_accuracy)]
            model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size,
                      callbacks=callbacks, verbose=0)
            logits = np.asarray(model(x_test, training=False))  # one call; predict() would retrace per model
            accuracy = float(np.mean(np.argmax(logits, axis=-1) == y_test))
            rows.append({
                "kind": kind,
                "length": int(length),
                "accuracy": accuracy,
                "n_params": count_trainable(model),
                "seconds": time.perf_counter() - start,
            })
    return pd.DataFrame(rows, columns=["kind", "length", "accuracy", "n_params", "seconds"])


def input_gradient_norms(model, x, y) -> np.ndarray:
    """How much gradient of the loss reaches the input at each time step.

    Returns:
        float64 ``(length,)``: for each step t, the batch mean of ``||dLoss_n / de_(n,t)||``, the
        cross-entropy of sequence n of ``x`` ``(batch, length)``, label ``y[n]``, differentiated with
        respect to the output ``e`` of ``model``'s ``"embedding"`` layer (:func:`build_memory_model`).

    Raises:
        ValueError: mismatched shapes, or no ``"embedding"`` layer.
    """
    import tensorflow as tf

    x = np.asarray(x)
    y = np.asarray(y)
    if x.ndim != 2 or y.shape != (x.shape[0],):
        raise ValueError(f"need x (batch, length) and y (batch,), got {x.shape} and {y.shape}")
    names = [layer.name for layer in model.layers]
    if "embedding" not in names:
        raise ValueError("model has no layer named 'embedding' (use build_memory_model)")
    after = model.layers[names.index("embedding") + 1:]
    embedded = model.get_layer("embedding")(tf.constant(x, dtype=tf.int32))
    with tf.GradientTape() as tape:
        tape.watch(embedded)
        out = embedded
        for layer in after:
            out = layer(out)
        loss = tf.reduce_sum(
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.constant(y, tf.int32), logits=out)
        )
    grad = tape.gradient(loss, embedded)                          # (batch, length, vocab)
    norms = tf.norm(grad, axis=-1)                                # (batch, length)
    return np.asarray(tf.reduce_mean(norms, axis=0), dtype=np.float64)
