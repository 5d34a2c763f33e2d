"""utils/lstm_numpy.py: lstm_forward runs a given step; with a correct step it equals Keras."""

import numpy as np
import pytest
from reference_solutions import lstm_step  # tests/ is on sys.path (pytest prepend mode)

from utils.lstm_numpy import lstm_forward


def random_lstm(rng, B, T, D, H, dtype=np.float64, scale=0.5):
    """Random inputs, weights and initial states (B, T, D), (D, 4H), (H, 4H), (4H,), (B, H), (B, H)."""
    x = rng.normal(size=(B, T, D)).astype(dtype)
    kernel = (scale * rng.normal(size=(D, 4 * H))).astype(dtype)
    recurrent = (scale * rng.normal(size=(H, 4 * H))).astype(dtype)
    bias = (scale * rng.normal(size=(4 * H,))).astype(dtype)
    h0 = rng.normal(size=(B, H)).astype(dtype)
    c0 = rng.normal(size=(B, H)).astype(dtype)
    return x, kernel, recurrent, bias, h0, c0


def keras_lstm(x, kernel, recurrent, bias, h0, c0, dtype):
    """Run keras.layers.LSTM with the given weights; returns (seq, h_T, c_T)."""
    import keras

    B, T, D = x.shape
    layer = keras.layers.LSTM(recurrent.shape[0], return_sequences=True, return_state=True, dtype=dtype)
    layer.build((B, T, D))
    layer.set_weights([kernel, recurrent, bias])
    seq, h_last, c_last = layer(x, initial_state=[h0, c0])
    return np.asarray(seq), np.asarray(h_last), np.asarray(c_last)


@pytest.mark.parametrize("dtype, atol", [("float32", 1e-5), ("float64", 1e-10)])
@pytest.mark.parametrize("B, T, D, H", [(1, 1, 1, 1), (2, 5, 3, 4), (4, 12, 7, 6), (3, 30, 2, 16)])
def test_forward_with_a_correct_step_matches_keras(dtype, atol, B, T, D, H):
    rng = np.random.default_rng(B * 1000 + T * 10 + H)
    x, kernel, recurrent, bias, h0, c0 = random_lstm(rng, B, T, D, H, dtype)
    seq, h_last, c_last = keras_lstm(x, kernel, recurrent, bias, h0, c0, dtype)
    h, c = lstm_forward(x, kernel, recurrent, bias, lstm_step, h0, c0)
    assert h.dtype == np.dtype(dtype) and c.dtype == np.dtype(dtype) and h.shape == c.shape == (B, T, H)
    np.testing.assert_allclose(h, seq, rtol=0, atol=atol)
    np.testing.assert_allclose(h[:, -1], h_last, rtol=0, atol=atol)
    np.testing.assert_allclose(c[:, -1], c_last, rtol=0, atol=atol)


def test_forward_default_zero_state_matches_keras():
    import keras

    rng = np.random.default_rng(1)
    x, kernel, recurrent, bias, _, _ = random_lstm(rng, 2, 6, 3, 5, np.float32)
    layer = keras.layers.LSTM(5, return_sequences=True)
    layer.build(x.shape)
    layer.set_weights([kernel, recurrent, bias])
    h, _ = lstm_forward(x, kernel, recurrent, bias, lstm_step)
    np.testing.assert_allclose(h, np.asarray(layer(x)), rtol=0, atol=1e-5)


def test_forward_calls_the_step_once_per_time_step_and_carries_the_states():
    rng = np.random.default_rng(2)
    B, T, D, H = 3, 4, 2, 5
    x, kernel, recurrent, bias, h0, c0 = random_lstm(rng, B, T, D, H)
    calls = []

    def step(x_t, h_prev, c_prev, k, r, b):
        calls.append((x_t.copy(), h_prev.copy(), c_prev.copy()))
        assert k is not None and r.shape == (H, 4 * H) and b.shape == (4 * H,)
        return h_prev + 1.0, c_prev - x_t.sum(axis=1, keepdims=True)

    h, c = lstm_forward(x, kernel, recurrent, bias, step, h0, c0)
    assert len(calls) == T
    for t, (x_t, h_prev, c_prev) in enumerate(calls):
        np.testing.assert_array_equal(x_t, x[:, t])
        np.testing.assert_allclose(h_prev, h0 + t, rtol=1e-14)
        np.testing.assert_array_equal(c_prev, c0 if t == 0 else c[:, t - 1])
    np.testing.assert_allclose(h[:, -1], h0 + T, rtol=1e-14)
    np.testing.assert_allclose(c[:, -1], c0 - x.sum(axis=(1, 2))[:, None])


def test_gate_order_in_keras_by_behaviour():
    """Keras' own block order: with bias blocks (i, f, g, o) = (-30, +30, 0, -30)
    the cell keeps c0 exactly (f = 1, i = 0) and the output is ~0 (o = 0).
    Any other order would change c_T or h_T."""
    rng = np.random.default_rng(4)
    B, T, D, H = 2, 5, 3, 4
    x, kernel, recurrent, _, h0, c0 = random_lstm(rng, B, T, D, H, scale=0.1)
    bias = np.concatenate([np.full(H, -30.0), np.full(H, 30.0), np.zeros(H), np.full(H, -30.0)])
    seq, h_last, c_last = keras_lstm(x, kernel, recurrent, bias, h0, c0, "float64")
    np.testing.assert_allclose(c_last, c0, atol=1e-10)
    assert np.abs(seq).max() < 1e-10
    # and with the output gate open instead, h_T = tanh(c0)
    bias[3 * H:] = 30.0
    _, h_last, _ = keras_lstm(x, kernel, recurrent, bias, h0, c0, "float64")
    np.testing.assert_allclose(h_last, np.tanh(c0), atol=1e-10)


def test_bad_inputs_raise():
    rng = np.random.default_rng(7)
    x, kernel, recurrent, bias, h0, c0 = random_lstm(rng, 2, 3, 4, 5)
    with pytest.raises(ValueError, match="kernel.*\\(4, 20\\)"):
        lstm_forward(x, kernel[:, :-1], recurrent, bias, lstm_step)
    with pytest.raises(ValueError, match="recurrent_kernel.*\\(5, 20\\)"):
        lstm_forward(x, kernel, recurrent[:, :-4], bias, lstm_step)
    with pytest.raises(ValueError, match="bias.*\\(20,\\)"):
        lstm_forward(x, kernel, recurrent, bias[:-1], lstm_step)
    with pytest.raises(ValueError, match="h0.*\\(2, 5\\)"):
        lstm_forward(x, kernel, recurrent, bias, lstm_step, h0=h0[:1])
    with pytest.raises(ValueError, match="c0"):
        lstm_forward(x, kernel, recurrent, bias, lstm_step, c0=c0.T)
    with pytest.raises(ValueError, match="0 time steps"):
        lstm_forward(x[:, :0], kernel, recurrent, bias, lstm_step)
    with pytest.raises(ValueError, match="3-D"):
        lstm_forward(x[0], kernel, recurrent, bias, lstm_step)
    with pytest.raises(ValueError, match=r"h_t returned by step has shape \(2, 4\)"):
        lstm_forward(x, kernel, recurrent, bias, lambda x_t, h, c, *w: (h[:, :-1], c))
