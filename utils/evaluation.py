"""Held-out evaluation: every character of a split scored, with the LSTM state carried.

The LSTM reads a split as :data:`STREAM_BATCH_SIZE` contiguous streams, in chunks of
:data:`STREAM_CHUNK_LEN` characters, carrying its state from chunk to chunk (as Graves evaluated), so
each character is predicted from all the text before it in its stream. Baselines score the same
targets ``ids[1:]``. Log-probabilities are in nats.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import tensorflow as tf

from .model import copy_weights, state_io_model, zero_states
from .units import LN2

#: The stream layout of held-out scoring: parallel streams, and characters read per call.
STREAM_BATCH_SIZE, STREAM_CHUNK_LEN = 16, 256


class StreamScorer:
    """:func:`stream_log_probs` for ``model``, built once (state-I/O view, compiled step) and reusable
    with new weights after :meth:`update_weights`, without retracing."""

    def __init__(self, model):
        self.state_io = state_io_model(model)

        @tf.function(reduce_retracing=True)
        def score(xc, yc, states):
            logits, *states = self.state_io([xc, *states], training=False)
            logp = tf.nn.log_softmax(tf.cast(logits, tf.float32))
            correct = tf.equal(tf.argmax(logits, axis=-1, output_type=tf.int32), yc)
            return tf.gather(logp, yc, batch_dims=2), correct, states

        self._score = score

    def update_weights(self, model) -> StreamScorer:
        """Copy the current weights of ``model`` (same architecture) into the scorer; returns it."""
        copy_weights(model, self.state_io)
        return self

    def log_probs(self, ids: np.ndarray, batch_size: int = STREAM_BATCH_SIZE,
                  chunk_len: int = STREAM_CHUNK_LEN):
        """See :func:`stream_log_probs`."""
        x, y, _, n = _padded_streams(ids, batch_size, chunk_len)
        return _read_streams(self._score, self.state_io, (x, y), n, chunk_len)


def stream_log_probs(model, ids: np.ndarray, batch_size: int = STREAM_BATCH_SIZE,
                     chunk_len: int = STREAM_CHUNK_LEN):
    """Log-probability ``model`` gives to every next character of ``ids`` (int ``(n,)``, n >= 2).

    ``ids[:-1]`` is read as ``batch_size`` streams (the last one padded), ``chunk_len`` steps per call.

    Returns:
        ``(log_p, correct)``: float64 ``(n-1,)`` log-probabilities of ``ids[1:]`` in nats, and bool
        ``(n-1,)``, whether the likeliest character was the right one.

    Raises:
        ValueError: ``ids`` is not 1-D with 2 or more ids, or a layout size is < 1.
    """
    return StreamScorer(model).log_probs(ids, batch_size, chunk_len)


def _padded_streams(ids, batch_size: int, chunk_len: int):
    """``(x, y, w, n)``: inputs ``ids[:-1]``, targets ``ids[1:]`` and weights (0 on the padding) as
    ``batch_size`` rows of whole chunks, int32 / int32 / float32, and ``n = len(ids) - 1``."""
    ids = np.asarray(ids, dtype=np.int32)
    if ids.ndim != 1 or len(ids) < 2:
        raise ValueError(f"ids must be 1-D with at least 2 characters, got shape {ids.shape}")
    if batch_size < 1 or chunk_len < 1:
        raise ValueError(f"batch_size and chunk_len must be >= 1, got {batch_size}, {chunk_len}")
    n = len(ids) - 1
    stream_len = math.ceil(math.ceil(n / batch_size) / chunk_len) * chunk_len
    x, y = np.zeros((2, batch_size * stream_len), np.int32)
    w = np.zeros(batch_size * stream_len, np.float32)
    x[:n], y[:n], w[:n] = ids[:-1], ids[1:], 1.0
    return (*(a.reshape(batch_size, stream_len) for a in (x, y, w)), n)


def _read_streams(step, state_io, arrays, n: int, chunk_len: int):
    """Run ``step(*chunks, states) -> (log_p, correct, states)`` over the chunks of ``arrays`` in
    order, carrying the states; returns the first ``n`` results in text order."""
    x = arrays[0]
    states = zero_states(state_io, x.shape[0])
    log_p, hits = np.empty_like(x, np.float64), np.empty_like(x, bool)
    for start in range(0, x.shape[1], chunk_len):
        sl = slice(start, start + chunk_len)
        picked, correct, states = step(*(tf.constant(a[:, sl]) for a in arrays), states)
        log_p[:, sl], hits[:, sl] = picked.numpy(), correct.numpy()
    return log_p.reshape(-1)[:n], hits.reshape(-1)[:n]


def summarize(log_p: np.ndarray, correct: np.ndarray | None = None, *, bits_per_char) -> dict[str, float]:
    """``{"bpc", "nats", "perplexity", "accuracy"}`` per character, from log-probabilities ``log_p`` (nats)
    and optional hits ``correct`` (else accuracy nan); ``bpc = bits_per_char(log_p)``."""
    bpc = float(bits_per_char(log_p))
    acc = float(np.mean(correct)) if correct is not None else float("nan")
    return {"bpc": bpc, "nats": bpc * LN2, "perplexity": 2.0 ** bpc, "accuracy": acc}


def uniform_log_probs(ids: np.ndarray, vocab_size: int) -> np.ndarray:
    """``log(1 / vocab_size)`` for every target ``ids[1:]``: float64 ``(len(ids) - 1,)``."""
    return np.full(len(ids) - 1, -math.log(vocab_size))


def unigram_model(train_ids: np.ndarray, vocab_size: int) -> np.ndarray:
    """Add-one smoothed character frequencies of ``train_ids``: float64 ``(vocab_size,)``, sums to 1."""
    counts = np.bincount(np.asarray(train_ids, dtype=np.int64), minlength=vocab_size) + 1.0
    return counts / counts.sum()


def results_table(rows: dict[str, dict[str, dict[str, float]]]) -> pd.DataFrame:
    """A row per model of ``{model: {split: summarize(...)}}``, columns ``(split, metric with unit)``."""
    names = {"bpc": "bits/char", "nats": "nats/char", "perplexity": "perplexity", "accuracy": "accuracy"}
    table = {model: {(split, names[k]): v for split, scores in by_split.items() for k, v in scores.items()}
             for model, by_split in rows.items()}
    df = pd.DataFrame.from_dict(table, orient="index")
    df.columns = pd.MultiIndex.from_tuples(df.columns, names=["split", "metric"])
    return df


def dynamic_log_probs(model, ids: np.ndarray, learning_rate: float, *, optimizer: str = "adam",
                      batch_size: int = STREAM_BATCH_SIZE, chunk_len: int = 100, clipnorm: float = 1.0):
    """Dynamic evaluation (Graves 2013, section 3.1): :func:`stream_log_probs` while the model learns.

    Each chunk of ``chunk_len`` characters per stream is scored first, then one ``optimizer`` step
    (``"adam"`` or ``"sgd"``, ``learning_rate`` >= 0, global gradient norm clipped to ``clipnorm``) is
    taken on it, so no prediction sees its own target. The steps update a copy; ``model`` is unchanged.

    Returns:
        ``(log_p, correct)`` as :func:`stream_log_probs` returns them.

    Raises:
        ValueError: a negative ``learning_rate`` or an unknown ``optimizer``.
    """
    import keras

    if learning_rate < 0:
        raise ValueError(f"learning_rate must be >= 0, got {learning_rate}")
    optimizers = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD}
    if optimizer not in optimizers:
        raise ValueError(f"optimizer must be one of {sorted(optimizers)}, got {optimizer!r}")
    x, y, w, n = _padded_streams(ids, batch_size, chunk_len)
    state_io = state_io_model(model)  # a copy: the adaptation never touches `model`
    opt = optimizers[optimizer](learning_rate=learning_rate, global_clipnorm=clipnorm)
    variables = state_io.trainable_variables
    opt.build(variables)

    @tf.function(reduce_retracing=True)
    def score_then_learn(xc, yc, wc, states):
        with tf.GradientTape() as tape:
            logits, *new_states = state_io([xc, *states], training=False)
            logp = tf.nn.log_softmax(tf.cast(logits, tf.float32))
            picked = tf.gather(logp, yc, batch_dims=2)
            loss = -tf.reduce_sum(picked * wc) / tf.maximum(tf.reduce_sum(wc), 1.0)
        correct = tf.equal(tf.argmax(logits, axis=-1, output_type=tf.int32), yc)
        if learning_rate > 0:
            grads = tape.gradient(loss, variables)
            with tf.control_dependencies([picked, correct]):  # score first, then learn
                opt.apply_gradients(zip(grads, variables))
        return picked, correct, [tf.stop_gradient(s) for s in new_states]

    return _read_streams(score_then_learn, state_io, (x, y, w), n, chunk_len)
