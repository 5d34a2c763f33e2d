"""Held-out evaluation in Graves' units: every character of the held-out plays scored.

The LSTM reads each held-out split as a few long contiguous streams, carrying its
state from chunk to chunk (as Graves evaluated), so every character is predicted
from all the text before it in its stream - not from a short window starting with
an empty memory. Baselines score the same targets ``ids[1:]``.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import tensorflow as tf

from .metrics import LN2
from .model import copy_weights, state_io_model, zero_states


class StreamScorer:
    """Scores long texts with carried LSTM state; built once, reusable with new weights.

    Holds the stateful-I/O view of a model (:func:`utils.model.state_io_model`) and one
    compiled scoring step, so scoring again after :meth:`update_weights` (e.g. validation
    after every training epoch) does not rebuild or retrace anything.

    Args:
        model: trained training-view model (or a stateful twin of it: the view is not stateful).
    """

    def __init__(self, model):
        self.step_model = state_io_model(model)

        @tf.function(reduce_retracing=True)
        def score(xc, yc, wc, states):
            logits, *states = self.step_model([xc, *states], training=False)
            logp = tf.nn.log_softmax(tf.cast(logits, tf.float32))
            picked = tf.gather(logp, yc, batch_dims=2)
            correct = tf.equal(tf.argmax(logits, axis=-1, output_type=tf.int32), yc)
            return picked, correct, states

        self._score = score

    def update_weights(self, model) -> "StreamScorer":
        """Copy the current weights of ``model`` (same architecture) into the scorer."""
        copy_weights(model, self.step_model)
        return self

    def log_probs(self, ids: np.ndarray, batch_size: int = 32, chunk_len: int = 256):
        """See :func:`stream_log_probs`."""
        x, y, w, n = _stream_layout(ids, batch_size, chunk_len)
        return _read_streams(self._score, self.step_model, x, y, w, n, chunk_len)


def stream_log_probs(model, ids: np.ndarray, batch_size: int = 32, chunk_len: int = 256):
    """Natural-log probability the model gives to every next character of ``ids``.

    ``ids[:-1]`` is cut into ``batch_size`` contiguous streams (padded at the end);
    each stream is read in chunks of ``chunk_len`` with the LSTM state carried.

    Args:
        model: trained training-view model.
        ids: int array ``(n,)``, n >= 2.
        batch_size: parallel streams.
        chunk_len: time steps per call.

    Returns:
        ``(log_p, correct)``: float64 ``(n-1,)`` log-probabilities of ``ids[1:]`` (nats)
        and bool ``(n-1,)`` whether the most likely character was the right one.
    """
    return StreamScorer(model).log_probs(ids, batch_size, chunk_len)


def _stream_layout(ids, batch_size: int, chunk_len: int):
    """Cut ``ids[:-1] -> ids[1:]`` into ``batch_size`` padded streams of whole chunks.

    Returns:
        ``(x, y, w, n)``: int32 inputs and targets and float32 weights (0 on the padding),
        each ``(batch_size, stream_len)`` with ``stream_len`` a multiple of ``chunk_len``,
        and ``n = len(ids) - 1`` the number of real targets.
    """
    ids = np.asarray(ids, dtype=np.int32)
    if ids.ndim != 1 or len(ids) < 2:
        raise ValueError(f"ids must be 1-D with at least 2 characters, got shape {ids.shape}")
    if batch_size < 1 or chunk_len < 1:
        raise ValueError(f"batch_size and chunk_len must be >= 1, got {batch_size}, {chunk_len}")
    n = len(ids) - 1
    stream_len = math.ceil(math.ceil(n / batch_size) / chunk_len) * chunk_len
    x = np.zeros(batch_size * stream_len, np.int32)
    y = np.zeros(batch_size * stream_len, np.int32)
    w = np.zeros(batch_size * stream_len, np.float32)
    x[:n], y[:n], w[:n] = ids[:-1], ids[1:], 1.0
    return (*(a.reshape(batch_size, stream_len) for a in (x, y, w)), n)


def _read_streams(step, step_model, x, y, w, n: int, chunk_len: int):
    """Run ``step(x_chunk, y_chunk, w_chunk, states) -> (log_p, correct, states)`` over the
    chunks in order, carrying the states; returns the first ``n`` results, in text order."""
    states = zero_states(step_model, x.shape[0])
    log_p, hits = np.empty_like(x, np.float64), np.empty_like(x, bool)
    for start in range(0, x.shape[1], chunk_len):
        sl = slice(start, start + chunk_len)
        picked, correct, states = step(tf.constant(x[:, sl]), tf.constant(y[:, sl]), tf.constant(w[:, sl]),
                                       states)
        log_p[:, sl], hits[:, sl] = picked.numpy(), correct.numpy()
    return log_p.reshape(-1)[:n], hits.reshape(-1)[:n]


def summarize(log_p: np.ndarray, correct: np.ndarray | None = None, *, bits_per_char) -> dict[str, float]:
    """Scores from per-character log-probabilities.

    Args:
        log_p: float array ``(n,)``, natural-log probabilities of the true next characters.
        correct: bool array ``(n,)`` (the likeliest character was right), or None.
        bits_per_char: ``bits_per_char(log_p) -> float``.

    Returns:
        ``{"bpc": bits/char, "nats": nats/char, "perplexity": 2 ** bpc, "accuracy": fraction or nan}``.
    """
    bpc = float(bits_per_char(log_p))
    acc = float(np.mean(correct)) if correct is not None else float("nan")
    return {"bpc": bpc, "nats": bpc * LN2, "perplexity": 2.0 ** bpc, "accuracy": acc}


def uniform_log_probs(ids: np.ndarray, vocab_size: int) -> np.ndarray:
    """log(1/V) for every target ``ids[1:]`` (guessing uniformly over the vocabulary)."""
    return np.full(len(ids) - 1, -math.log(vocab_size))


def unigram_model(train_ids: np.ndarray, vocab_size: int) -> np.ndarray:
    """Character frequencies of the training split, add-one smoothed: float64 ``(V,)``."""
    counts = np.bincount(np.asarray(train_ids, dtype=np.int64), minlength=vocab_size) + 1.0
    return counts / counts.sum()


def results_table(rows: dict[str, dict[str, dict[str, float]]]) -> pd.DataFrame:
    """One table: a row per model, columns (split, metric) with units in the headers.

    Args:
        rows: ``{model name: {split: summarize(...) dict}}``.
    """
    names = {"bpc": "bits/char", "nats": "nats/char", "perplexity": "perplexity", "accuracy": "accuracy"}
    table = {model: {(split, names[k]): v for split, scores in by_split.items() for k, v in scores.items()}
             for model, by_split in rows.items()}
    df = pd.DataFrame.from_dict(table, orient="index")
    df.columns = pd.MultiIndex.from_tuples(df.columns, names=["split", "metric"])
    return df


def dynamic_log_probs(model, ids: np.ndarray, learning_rate: float, *, optimizer: str = "adam",
                      batch_size: int = 16, chunk_len: int = 100, clipnorm: float = 1.0):
    """Dynamic evaluation (Graves 2013, sections 3.1-3.2): the model keeps learning while it reads.

    ``ids[:-1]`` is cut into ``batch_size`` contiguous streams, read in chunks of
    ``chunk_len`` with the LSTM state carried. Every chunk is first *scored* (the
    log-probabilities come from the forward pass before any update on that chunk),
    then one gradient step is taken on it, so a prediction never benefits from its own
    target. The steps are taken on a *copy* of the weights: ``model`` is unchanged.

    Args:
        model: trained training-view model.
        ids: int array ``(n,)`` of the text to score, in reading order.
        learning_rate: step size of the adaptation (choose it on validation text, never on test);
            0 gives static evaluation.
        optimizer: ``"adam"`` or ``"sgd"``.
        batch_size, chunk_len: stream layout (as in :func:`stream_log_probs`).
        clipnorm: global gradient-norm clipping of the adaptation steps.

    Returns:
        ``(log_p, correct)`` as in :func:`stream_log_probs`.
    """
    import keras

    if learning_rate < 0:
        raise ValueError(f"learning_rate must be >= 0, got {learning_rate}")
    optimizers = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD}
    if optimizer not in optimizers:
        raise ValueError(f"optimizer must be one of {sorted(optimizers)}, got {optimizer!r}")
    x, y, w, n = _stream_layout(ids, batch_size, chunk_len)
    step_model = state_io_model(model)  # a copy: the adaptation never touches `model`
    opt = optimizers[optimizer](learning_rate=learning_rate, global_clipnorm=clipnorm)
    variables = step_model.trainable_variables
    opt.build(variables)

    @tf.function(reduce_retracing=True)
    def score_then_learn(xc, yc, wc, states):
        with tf.GradientTape() as tape:
            logits, *new_states = step_model([xc, *states], training=False)
            logp = tf.nn.log_softmax(tf.cast(logits, tf.float32))
            picked = tf.gather(logp, yc, batch_dims=2)
            loss = -tf.reduce_sum(picked * wc) / tf.maximum(tf.reduce_sum(wc), 1.0)
        correct = tf.equal(tf.argmax(logits, axis=-1, output_type=tf.int32), yc)
        if learning_rate > 0:
            grads = tape.gradient(loss, variables)
            with tf.control_dependencies([picked, correct]):  # score first, then learn
                opt.apply_gradients(zip(grads, variables))
        return picked, correct, [tf.stop_gradient(s) for s in new_states]

    return _read_streams(score_then_learn, step_model, x, y, w, n, chunk_len)
