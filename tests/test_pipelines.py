"""tf.data pipelines: shifted targets, stream contiguity, seeded shuffling, argument errors."""
from __future__ import annotations

import numpy as np
import pytest

from utils.pipelines import num_windows, stream_dataset, window_dataset

IDS = (np.arange(1003) % 97).astype(np.int32)  # distinct values within every window


def batches(ds):
    return [(x.numpy(), y.numpy()) for x, y in ds]


def test_window_targets_are_inputs_shifted_by_one():
    ds = window_dataset(IDS, seq_len=10, batch_size=4, seed=0)
    for x, y in batches(ds):
        assert x.shape == y.shape == (4, 10) and x.dtype == np.int32
        np.testing.assert_array_equal(x[:, 1:], y[:, :-1])
        np.testing.assert_array_equal(y[:, -1], (x[:, -1] + 1) % 97)


def test_windows_cover_every_target_once_per_epoch():
    ds = window_dataset(IDS, seq_len=10, batch_size=1, shuffle=False, drop_remainder=False)
    targets = np.concatenate([y.ravel() for _, y in batches(ds)])
    assert num_windows(len(IDS), 10) == 100  # 1002 targets: 100 whole windows of 10
    np.testing.assert_array_equal(targets, IDS[1:1001])


def test_shuffled_batches_hold_whole_windows_each_once_per_epoch():
    ids, seq_len = np.arange(1003, dtype=np.int32), 10  # id == position, so a row names its window
    n = num_windows(len(ids), seq_len)
    ds = window_dataset(ids, seq_len, 4, seed=3, drop_remainder=False)
    rows = np.concatenate([x for x, _ in batches(ds)])
    order = rows[:, 0] // seq_len
    np.testing.assert_array_equal(rows, order[:, None] * seq_len + np.arange(seq_len))  # whole windows
    assert sorted(order) == list(range(n)) and list(order) != list(range(n)), "each window once, shuffled"


def test_batches_equal_a_per_window_pipeline():
    """One gather per batch gives the batches, in the order, of the plain per-window tf.data recipe."""
    import tensorflow as tf

    ids, seq_len, batch = np.arange(1003, dtype=np.int32), 10, 4
    n = num_windows(len(ids), seq_len)
    text = tf.constant(ids)

    def window(i):
        return text[i * seq_len:(i + 1) * seq_len], text[i * seq_len + 1:(i + 1) * seq_len + 1]

    reference = (tf.data.Dataset.range(n).shuffle(n, seed=5, reshuffle_each_iteration=True).repeat()
                 .map(window).batch(batch, drop_remainder=True))
    ours = window_dataset(ids, seq_len, batch, seed=5, repeat=True)
    for (x, y), (x_ref, y_ref) in zip(ours.take(3 * n // batch), reference):  # three epochs, reshuffled each
        np.testing.assert_array_equal(x, x_ref)
        np.testing.assert_array_equal(y, y_ref)


def test_partial_last_batch_keeps_window_shape():
    ds = window_dataset(IDS, seq_len=10, batch_size=7, shuffle=False, drop_remainder=False)
    shapes = [x.shape for x, _ in batches(ds)]
    assert shapes[:-1] == [(7, 10)] * (len(shapes) - 1) and shapes[-1] == (num_windows(len(IDS), 10) % 7, 10)


def test_shuffling_is_deterministic_under_a_seed():
    first = batches(window_dataset(IDS, 10, 4, seed=7))
    again = batches(window_dataset(IDS, 10, 4, seed=7))
    other = batches(window_dataset(IDS, 10, 4, seed=8))
    assert all((a[0] == b[0]).all() for a, b in zip(first, again))
    assert not all((a[0] == b[0]).all() for a, b in zip(first, other))


def test_stream_rows_continue_across_batches():
    seq_len, batch_size = 7, 5
    got = batches(stream_dataset(IDS, seq_len, batch_size))
    steps, stream_len = 28, 196  # 1002 pairs: 5 streams of 200, cut to 28 whole batches of 7
    assert len(got) == steps
    for (x0, y0), (x1, _) in zip(got, got[1:]):
        np.testing.assert_array_equal(x1[:, 0], y0[:, -1])  # row b of batch i+1 continues row b of batch i
        np.testing.assert_array_equal(x0[:, 1:], y0[:, :-1])
    stream0 = np.concatenate([x[0] for x, _ in got])
    np.testing.assert_array_equal(stream0, IDS[:stream_len])
    stream1 = np.concatenate([x[1] for x, _ in got])
    np.testing.assert_array_equal(stream1, IDS[stream_len:2 * stream_len])


@pytest.mark.parametrize("kwargs, match", [
    (dict(seq_len=0, batch_size=4), "seq_len must be an int >= 1"),
    (dict(seq_len=5000, batch_size=4), "seq_len=5000 is longer than the split"),
    (dict(seq_len=10, batch_size=0), "batch_size must be an int >= 1"),
    (dict(seq_len=100, batch_size=11), "too short for one batch"),
])
def test_window_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        window_dataset(IDS, **kwargs)


@pytest.mark.parametrize("kwargs, match", [
    (dict(seq_len=0, batch_size=4), "seq_len must be an int >= 1"),
    (dict(seq_len=2000, batch_size=4), "longer than the split"),
    (dict(seq_len=10, batch_size=-1), "batch_size must be an int >= 1"),
    (dict(seq_len=100, batch_size=11), "too short for one batch"),
])
def test_stream_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        stream_dataset(IDS, **kwargs)


def test_ids_must_be_1d_integers():
    with pytest.raises(ValueError, match="1-D integer"):
        window_dataset(IDS.astype(float), 10, 4)


@pytest.mark.parametrize("kwargs, message", [(dict(seq_len=8.0), "seq_len must be an int"),
                                             (dict(seq_len=True), "seq_len must be an int"),
                                             (dict(batch_size="4"), "batch_size must be an int")])
def test_window_and_stream_datasets_reject_non_int_shapes(kwargs, message):
    ids = np.arange(200, dtype=np.int32) % 7
    args = {"seq_len": 8, "batch_size": 4, **kwargs}
    with pytest.raises(ValueError, match=message):
        window_dataset(ids, args["seq_len"], args["batch_size"])
    with pytest.raises(ValueError, match=message):
        stream_dataset(ids, args["seq_len"], args["batch_size"])


def test_a_batch_of_2_31_windows_or_more_is_refused():
    with pytest.raises(ValueError, match=r"batch_size must be an int >= 1 and at most 2147483647"):
        window_dataset(np.arange(10), 2, 2**31, drop_remainder=False)
