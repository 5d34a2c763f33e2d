"""Long-range memory: can a recurrent net remember the first symbol?

The task (in the spirit of Hochreiter & Schmidhuber 1997, experiment 2): each
sequence starts with one of ``n_symbols`` *signal* symbols, followed by
``length - 1`` random *noise* symbols from a separate range of ids. After
reading the whole sequence the network must output the first symbol. The
information needed sits ``length - 1`` steps back, so the gradient that
teaches the network to store it has to travel back through ``length - 1``
recurrent steps.

* A plain ``SimpleRNN`` multiplies that gradient by the recurrent Jacobian at
  every step; it vanishes (or explodes) geometrically and the network falls
  back to chance accuracy ``1 / n_symbols`` for long sequences.
* An LSTM (Graves 2013, eqs. 7-11) can keep ``c_t = f_t c_{t-1} + ...`` with
  ``f_t ~ 1`` and ``i_t ~ 0`` on noise: the error flows back unchanged (the
  "constant error carousel"). A GRU has a similar additive path.

Token ids: signal symbols are ``0 .. n_symbols-1``, noise symbols are
``n_symbols .. n_symbols + n_noise - 1``; the vocabulary size is
``n_symbols + n_noise`` (see :func:`memory_vocab_size`).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

__all__ = [
    "make_memory_task",
    "memory_vocab_size",
    "build_memory_model",
    "run_memory_experiment",
    "input_gradient_norms",
    "KINDS",
]

#: Recurrent layer kinds understood by :func:`build_memory_model`.
KINDS = ("rnn", "lstm", "gru")

DEFAULT_N_NOISE = 4


def memory_vocab_size(n_symbols: int = 4, n_noise: int = DEFAULT_N_NOISE) -> int:
    """Number of distinct token ids used by :func:`make_memory_task`."""
    return int(n_symbols) + int(n_noise)


def make_memory_task(n_samples: int, length: int, n_symbols: int = 4, seed: int = 0,
                     n_noise: int = DEFAULT_N_NOISE):
    """Sequences whose label is their first symbol.

    Parameters
    ----------
    n_samples : int >= 1
        Number of sequences.
    length : int >= 1
        Time steps per sequence (the signal is ``length - 1`` steps before
        the end).
    n_symbols : int >= 2
        Number of signal symbols = number of classes; chance accuracy is
        ``1 / n_symbols``.
    seed : int
        Seed of the NumPy generator; the same seed gives the same data.
    n_noise : int >= 1
        Number of distinct noise symbols.

    Returns
    -------
    x : int32 array (n_samples, length)
        ``x[:, 0]`` in ``[0, n_symbols)`` (the signal), ``x[:, 1:]`` in
        ``[n_symbols, n_symbols + n_noise)`` (noise).
    y : int32 array (n_samples,)
        The class, equal to ``x[:, 0]``.
    """
    for name, value, minimum in (("n_samples", n_samples, 1), ("length", length, 1),
                                 ("n_symbols", n_symbols, 2), ("n_noise", n_noise, 1)):
        if int(value) != value or value < minimum:
            raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_symbols, size=n_samples).astype(np.int32)
    x = rng.integers(n_symbols, n_symbols + n_noise, size=(n_samples, length)).astype(np.int32)
    x[:, 0] = y
    assert x.shape == (n_samples, length) and y.shape == (n_samples,)
    return x, y


def _recurrent_params(kind: str, units: int, input_dim: int) -> int:
    """Trainable parameters of one Keras recurrent layer (default options)."""
    if kind == "rnn":
        return units * (input_dim + units + 1)
    if kind == "lstm":
        return 4 * units * (input_dim + units + 1)
    if kind == "gru":  # reset_after=True: two bias vectors
        return 3 * units * (input_dim + units + 2)
    raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


def matched_units(kind: str, lstm_units: int, input_dim: int) -> int:
    """Units for ``kind`` whose recurrent layer has about as many parameters
    as an LSTM with ``lstm_units`` units (an RNN gets about 2x the units,
    a GRU about 1.15x)."""
    target = _recurrent_params("lstm", lstm_units, input_dim)
    candidates = range(1, 4 * lstm_units + 1)
    return min(candidates, key=lambda u: abs(_recurrent_params(kind, u, input_dim) - target))


def build_memory_model(kind: str, units: int, vocab_size: int, n_symbols: int,
                       embed_dim: int = 8, match_params: bool = True):
    """A small classifier ``ids -> Embedding -> recurrent layer -> Dense logits``.

    Parameters
    ----------
    kind : {"rnn", "lstm", "gru"}
        ``keras.layers.SimpleRNN``, ``LSTM`` or ``GRU`` (Keras defaults,
        e.g. orthogonal recurrent initialisation, LSTM forget bias 1).
    units : int
        Units of the LSTM. With ``match_params=True`` the RNN and GRU get the
        number of units that gives about the same number of recurrent
        parameters (RNN ~2x, GRU ~1.15x units); otherwise all use ``units``.
    vocab_size : int
        Number of token ids (``memory_vocab_size(...)``).
    n_symbols : int
        Number of classes (output logits).
    embed_dim : int
        Size of the learned embedding of each token.

    Returns
    -------
    keras.Model (not compiled), input int32 (batch, time), output float32
    logits (batch, n_symbols). Its layers are a plain chain named
    ``"ids" -> "embedding" -> kind -> "logits"``, so
    :func:`input_gradient_norms` can re-run everything after the embedding.
    """
    import keras

    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if units < 1 or vocab_size < 1 or n_symbols < 2:
        raise ValueError(
            f"need units >= 1, vocab_size >= 1, n_symbols >= 2; got {units}, {vocab_size}, {n_symbols}"
        )
    n_units = matched_units(kind, units, embed_dim) if match_params else units
    layer_cls = {"rnn": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM,
                 "gru": keras.layers.GRU}[kind]
    ids = keras.Input(shape=(None,), dtype="int32", name="ids")
    emb = keras.layers.Embedding(vocab_size, embed_dim, name="embedding")(ids)
    h = layer_cls(n_units, name=kind)(emb)                        # (batch, n_units)
    logits = keras.layers.Dense(n_symbols, name="logits")(h)      # (batch, n_symbols)
    return keras.Model(ids, logits, name=f"memory_{kind}")


def run_memory_experiment(lengths=(5, 10, 20, 50, 100), kinds=KINDS, seed: int = 0,
                          n_train: int = 1024, n_test: int = 512, units: int = 16,
                          n_symbols: int = 4, n_noise: int = DEFAULT_N_NOISE,
                          epochs: int = 10, batch_size: int = 64,
                          learning_rate: float = 1e-2) -> pd.DataFrame:
    """Train each recurrent kind at each sequence length; test on fresh data.

    Every (kind, length) run is seeded with ``keras.utils.set_random_seed``
    (weights, shuffling) and uses data generated from ``seed`` (training set)
    and ``seed + 1`` (held-out test set), so the table is reproducible on one
    machine (CPU thread scheduling can still change the last digits).

    Parameters
    ----------
    lengths : sequence of int
        Sequence lengths T to try.
    kinds : sequence of {"rnn", "lstm", "gru"}
    seed : int
    n_train, n_test : int
        Training and held-out sequences per run.
    units : int
        LSTM units; RNN and GRU get a matched parameter count
        (see :func:`build_memory_model`).
    n_symbols, n_noise : int
        Classes and noise symbols (chance accuracy = 1 / n_symbols).
    epochs, batch_size : int
    learning_rate : float
        Adam step size (with gradient-norm clipping at 1).

    Returns
    -------
    pandas.DataFrame, one row per run, columns ``kind`` (str), ``length``
    (int), ``accuracy`` (held-out, in [0, 1]), ``n_params`` (trainable
    parameters of the whole model) and ``seconds`` (wall time to build,
    train and evaluate, s).
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
            model = build_memory_model(kind, units, vocab, n_symbols)
            model.compile(
                optimizer=keras.optimizers.Adam(learning_rate, clipnorm=1.0),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                metrics=["accuracy"],
            )
            model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, verbose=0)
            logits = model.predict(x_test, batch_size=n_test, verbose=0)
            accuracy = float(np.mean(np.argmax(logits, axis=-1) == y_test))
            rows.append({
                "kind": kind,
                "length": int(length),
                "accuracy": accuracy,
                "n_params": int(model.count_params()),
                "seconds": time.perf_counter() - start,
            })
    return pd.DataFrame(rows, columns=["kind", "length", "accuracy", "n_params", "seconds"])


def input_gradient_norms(model, x, y) -> np.ndarray:
    """How strongly the loss reacts to the input at each time step.

    Computes the mean cross-entropy loss of ``model`` on ``(x, y)`` and its
    gradient with respect to the *embedded* input sequence ``e`` (the output
    of the layer named ``"embedding"``), then returns, for every step t, the
    batch mean of ``||dLoss/de_t||`` (Euclidean norm over the embedding
    features). The loss is a batch *sum* so that each sequence's gradient does
    not shrink with the batch size.

    For the memory task only step 0 carries information. In a trained LSTM
    the norm at t = 0 stays large even for long sequences; in a SimpleRNN it
    decays roughly geometrically with the distance ``length - 1 - t`` from
    the output: the vanishing gradient.

    Parameters
    ----------
    model : keras.Model from :func:`build_memory_model` (a plain layer chain)
    x : int array (batch, length)
    y : int array (batch,)

    Returns
    -------
    float64 array (length,), units of loss per unit of embedding value.
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
    grad = tape.gradient(loss, embedded)                          # (batch, length, embed_dim)
    norms = tf.norm(grad, axis=-1)                                # (batch, length)
    result = np.asarray(tf.reduce_mean(norms, axis=0), dtype=np.float64)
    assert result.shape == (x.shape[1],)
    return result
