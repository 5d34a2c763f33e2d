"""``tf.data`` pipelines for next-character prediction: ``(x, y)`` batches of int32 ids, ``y`` = ``x``
shifted by one character.

* :func:`window_dataset`: independent, shuffled windows, each read from an empty LSTM state.
* :func:`stream_dataset`: ``batch_size`` contiguous streams; row ``b`` of batch ``i+1`` continues row
  ``b`` of batch ``i``, for truncated back-propagation with the state carried (Graves 2013, 3.2).
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
    """Number of windows ``seq_len`` apart, each of ``seq_len + 1`` characters, in ``n_chars``."""
    return max(0, (n_chars - 1) // seq_len)


def window_dataset(ids: np.ndarray, seq_len: int, batch_size: int, *, shuffle: bool = True,
                   seed: int = 0, drop_remainder: bool = True, repeat: bool = False) -> tf.data.Dataset:
    """Batches of windows starting every ``seq_len`` characters (each target once per epoch).

    Args:
        ids: int ``(n,)``, the encoded split.
        seq_len: characters per window, >= 1.
        batch_size: windows per batch, >= 1.
        shuffle: reshuffle the windows every epoch, reproducibly from ``seed``.
        seed: the shuffle seed.
        drop_remainder: drop the last, smaller batch.
        repeat: repeat forever.

    Raises:
        ValueError: ``seq_len`` or ``batch_size`` < 1, ``seq_len`` longer than the split, or (with
            ``drop_remainder``) fewer windows than ``batch_size``.
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

    ds = starts.batch(batch_size, drop_remainder=drop_remainder).map(to_pairs)
    return ds.prefetch(tf.data.AUTOTUNE)


def stream_dataset(ids: np.ndarray, seq_len: int, batch_size: int) -> tf.data.Dataset:
    """Batches of ``batch_size`` contiguous streams, for carried state; never shuffle it.

    With ``steps = (len(ids) - 1) // batch_size // seq_len`` and ``L = steps * seq_len``, stream ``b``
    is ``ids[b*L : (b+1)*L + 1]`` and batch ``i`` holds its characters ``[i*seq_len, (i+1)*seq_len)``.

    Raises:
        ValueError: bad ``seq_len`` or ``batch_size``, or fewer than ``batch_size * seq_len + 1`` ids.
    """
    ids = _check_args(ids, seq_len, batch_size)
    steps = (len(ids) - 1) // batch_size // seq_len
    stream_len = steps * seq_len
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
