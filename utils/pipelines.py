"""``tf.data`` input pipelines for next-character prediction.

Two ways to cut a long id sequence into training examples:

* :func:`window_dataset` - independent windows of ``seq_len`` characters, the input
  ``x = ids[s : s+seq_len]`` and the target ``y = ids[s+1 : s+seq_len+1]`` (the same
  text shifted by one character), shuffled and batched. Each window starts from an
  empty LSTM state. This is how most char-RNN tutorials train.
* :func:`stream_dataset` - ``batch_size`` parallel *contiguous* streams: row ``b`` of
  batch ``i+1`` continues exactly where row ``b`` of batch ``i`` stopped. With the LSTM
  state carried from batch to batch this is truncated back-propagation through time
  (Graves 2013, section 3.2): gradients flow back ``seq_len`` steps, but the state
  - the model's memory - spans the whole stream.

Both return ``(x, y)`` batches of int32 ids of shape ``(batch_size, seq_len)``; no
one-hot tensors are ever built (the model embeds ids, the loss takes sparse ids).
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from .checks import check_int


def _check_args(ids: np.ndarray, seq_len: int, batch_size: int) -> np.ndarray:
    ids = np.asarray(ids)
    if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"ids must be a 1-D integer array, got shape {ids.shape} and dtype {ids.dtype}")
    seq_len, batch_size = check_int(seq_len, "seq_len"), check_int(batch_size, "batch_size")
    if seq_len > len(ids) - 1:
        raise ValueError(f"seq_len={seq_len} is longer than the split allows: at most "
                         f"{len(ids) - 1} (a window needs seq_len + 1 = {seq_len + 1} characters, "
                         f"the split has {len(ids)})")
    return ids.astype(np.int32, copy=False)


def num_windows(n_chars: int, seq_len: int) -> int:
    """Number of non-overlapping windows of ``seq_len`` (+1 target) characters in ``n_chars``."""
    return max(0, (n_chars - 1) // seq_len)


def window_dataset(ids: np.ndarray, seq_len: int, batch_size: int, *, shuffle: bool = True,
                   seed: int = 0, drop_remainder: bool = True, repeat: bool = False) -> tf.data.Dataset:
    """Batches of independent, shuffled windows of ``seq_len`` characters.

    Windows start every ``seq_len`` characters, so each character of ``ids[1:]`` is
    a target exactly once per epoch (up to the remainder at the end).

    Args:
        ids: int array of shape ``(n,)``, the encoded split.
        seq_len: characters per window (time steps), >= 1.
        batch_size: windows per batch, >= 1.
        shuffle: shuffle the windows (reshuffled every epoch, reproducible from ``seed``).
        seed: the shuffle seed.
        drop_remainder: drop the last, smaller batch (keeps shapes static for training).
        repeat: repeat forever (for ``fit(steps_per_epoch=...)``).

    Returns:
        A dataset of ``(x, y)``, each int32 ``(batch_size, seq_len)``, with ``y`` = ``x``
        shifted left by one character.

    Raises:
        ValueError: ``seq_len < 1``, ``batch_size < 1``, ``seq_len`` longer than the
            split, or (with ``drop_remainder``) fewer windows than ``batch_size``.
    """
    ids = _check_args(ids, seq_len, batch_size)
    n = num_windows(len(ids), seq_len)
    if drop_remainder and n < batch_size:
        raise ValueError(f"The split is too short for one batch: {len(ids)} characters give {n} windows "
                         f"of seq_len={seq_len}, fewer than batch_size={batch_size}; lower batch_size "
                         f"to at most {n} or seq_len")
    text = tf.constant(ids)
    starts = tf.data.Dataset.range(n)
    if shuffle:
        starts = starts.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        starts = starts.repeat()
    offsets = tf.range(seq_len + 1, dtype=tf.int64)

    def to_pairs(i):  # i: (batch,) window numbers -> (batch, seq_len + 1) characters, one gather
        chunks = tf.gather(text, i[:, None] * seq_len + offsets)
        return chunks[:, :-1], chunks[:, 1:]

    # Batch the window numbers first, then cut all windows of a batch with one vectorised gather:
    # one small op per batch instead of one function call per window, on the cores that train
    # (the batches and their order are those of a per-window map; tests/test_pipelines.py).
    ds = starts.batch(batch_size, drop_remainder=drop_remainder).map(to_pairs)
    return ds.prefetch(tf.data.AUTOTUNE)


def stream_layout(n_chars: int, seq_len: int, batch_size: int) -> tuple[int, int]:
    """``(steps, stream_len)`` of the contiguous-stream layout.

    The ``n_chars - 1`` (input, target) pairs are cut into ``batch_size`` streams of
    ``stream_len = steps * seq_len`` pairs each; the remainder is not used.
    """
    stream_len = (n_chars - 1) // batch_size
    steps = stream_len // seq_len
    return steps, steps * seq_len


def stream_dataset(ids: np.ndarray, seq_len: int, batch_size: int) -> tf.data.Dataset:
    """Batches from ``batch_size`` parallel contiguous streams, for carried state.

    Stream ``b`` is ``ids[b*L : (b+1)*L + 1]`` with ``L = steps * seq_len``; batch ``i``
    holds characters ``[i*seq_len, (i+1)*seq_len)`` of every stream, so row ``b`` of
    batch ``i+1`` continues exactly where row ``b`` of batch ``i`` stopped. Never
    shuffle this dataset.

    Args:
        ids: int array of shape ``(n,)``.
        seq_len: truncated-BPTT length (time steps per batch), >= 1.
        batch_size: number of parallel streams, >= 1.

    Returns:
        A dataset of ``steps`` batches ``(x, y)``, each int32 ``(batch_size, seq_len)``.

    Raises:
        ValueError: bad ``seq_len``/``batch_size``, or a split too short for one batch
            (it needs at least ``batch_size * seq_len + 1`` characters).
    """
    ids = _check_args(ids, seq_len, batch_size)
    steps, stream_len = stream_layout(len(ids), seq_len, batch_size)
    if steps < 1:
        raise ValueError(f"The split is too short for one batch: {batch_size} streams of seq_len={seq_len} "
                         f"need at least {batch_size * seq_len + 1} characters, the split has {len(ids)}")
    starts = np.arange(batch_size) * stream_len
    x = np.stack([ids[s: s + stream_len] for s in starts])          # (batch_size, stream_len)
    y = np.stack([ids[s + 1: s + stream_len + 1] for s in starts])  # shifted by one
    # (batch_size, steps, seq_len) -> (steps, batch_size, seq_len): one slice per batch
    x = x.reshape(batch_size, steps, seq_len).transpose(1, 0, 2)
    y = y.reshape(batch_size, steps, seq_len).transpose(1, 0, 2)
    return tf.data.Dataset.from_tensor_slices((x, y)).prefetch(tf.data.AUTOTUNE)
