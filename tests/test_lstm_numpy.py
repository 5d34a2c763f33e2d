"""Tests for utils/lstm_numpy.py: the NumPy LSTM equals Keras, its gradients
equal finite differences."""

import numpy as np
import pytest

from utils.lstm_numpy import (
    GATES,
    lstm_backward,
    lstm_forward,
    numerical_gradient,
    relative_error,
)


def random_lstm(rng, B, T, D, H, dtype=np.float64, scale=0.5):
    """Random inputs, weights and initial states (B, T, D), (D, 4H), ..."""
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
    layer = keras.layers.LSTM(recurrent.shape[0], return_sequences=True,
                              return_state=True, dtype=dtype)
    layer.build((B, T, D))
    layer.set_weights([kernel, recurrent, bias])
    seq, h_last, c_last = layer(x, initial_state=[h0, c0])
    return np.asarray(seq), np.asarray(h_last), np.asarray(c_last)


# ---------------------------------------------------------------- forward
@pytest.mark.parametrize("dtype, atol", [("float32", 1e-5), ("float64", 1e-10)])
@pytest.mark.parametrize("B, T, D, H", [(1, 1, 1, 1), (2, 5, 3, 4), (4, 12, 7, 6), (3, 30, 2, 16)])
def test_forward_matches_keras(dtype, atol, B, T, D, H):
    rng = np.random.default_rng(B * 1000 + T * 10 + H)
    x, kernel, recurrent, bias, h0, c0 = random_lstm(rng, B, T, D, H, dtype)
    seq, h_last, c_last = keras_lstm(x, kernel, recurrent, bias, h0, c0, dtype)
    h, c, cache = lstm_forward(x, kernel, recurrent, bias, h0, c0)
    assert h.dtype == np.dtype(dtype) and c.dtype == np.dtype(dtype)
    assert seq.dtype == np.dtype(dtype)
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
    h, _, _ = lstm_forward(x, kernel, recurrent, bias)
    np.testing.assert_allclose(h, np.asarray(layer(x)), rtol=0, atol=1e-5)


def test_gate_shapes_ranges_and_state_equations():
    rng = np.random.default_rng(2)
    B, T, D, H = 3, 4, 2, 5
    x, kernel, recurrent, bias, h0, c0 = random_lstm(rng, B, T, D, H)
    h, c, cache = lstm_forward(x, kernel, recurrent, bias, h0, c0)
    assert h.shape == c.shape == (B, T, H)
    for name in GATES:
        assert cache[name].shape == (B, T, H)
    for name in ("i", "f", "o"):
        assert np.all((cache[name] > 0) & (cache[name] < 1))
    assert np.all(np.abs(cache["g"]) < 1)
    c_prev = np.concatenate([c0[:, None], c[:, :-1]], axis=1)
    np.testing.assert_allclose(c, cache["f"] * c_prev + cache["i"] * cache["g"], atol=1e-14)
    np.testing.assert_allclose(h, cache["o"] * np.tanh(c), atol=1e-14)


@pytest.mark.parametrize("block, gate", list(enumerate(GATES)))
def test_gate_order_by_perturbation(block, gate):
    """Changing column block k of the kernel changes gate k at t = 0 and no
    other gate (at t = 0 the gates only see x_0 and h0 = 0)."""
    rng = np.random.default_rng(3)
    B, T, D, H = 2, 3, 4, 3
    x, kernel, recurrent, bias, _, _ = random_lstm(rng, B, T, D, H)
    _, _, base = lstm_forward(x, kernel, recurrent, bias)
    perturbed = kernel.copy()
    perturbed[:, block * H:(block + 1) * H] += 1.0
    _, _, new = lstm_forward(x, perturbed, recurrent, bias)
    changed = [g for g in GATES if not np.allclose(new[g][:, 0], base[g][:, 0])]
    assert changed == [gate]


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


# ---------------------------------------------------------------- backward
def test_gradient_check_float64():
    rng = np.random.default_rng(5)
    B, T, D, H = 2, 4, 3, 3
    x, kernel, recurrent, bias, h0, c0 = random_lstm(rng, B, T, D, H)
    dh = rng.normal(size=(B, T, H))
    dc_last = rng.normal(size=(B, H))
    params = {"x": x, "kernel": kernel, "recurrent_kernel": recurrent,
              "bias": bias, "h0": h0, "c0": c0}

    def loss():
        h, c, _ = lstm_forward(params["x"], params["kernel"], params["recurrent_kernel"],
                               params["bias"], params["h0"], params["c0"])
        return np.sum(dh * h) + np.sum(dc_last * c[:, -1])

    _, _, cache = lstm_forward(x, kernel, recurrent, bias, h0, c0)
    grads = lstm_backward(dh, cache, dc_last)
    assert set(grads) == set(params)
    for name, value in params.items():
        before = value.copy()
        numeric = numerical_gradient(loss, value)
        np.testing.assert_array_equal(value, before)   # restored in place
        assert grads[name].shape == value.shape
        err = relative_error(grads[name], numeric)
        assert err < 1e-6, (name, err)


def test_backward_float32_dtype_and_shapes():
    rng = np.random.default_rng(6)
    x, kernel, recurrent, bias, h0, c0 = random_lstm(rng, 2, 3, 4, 5, np.float32)
    _, _, cache = lstm_forward(x, kernel, recurrent, bias, h0, c0)
    grads = lstm_backward(np.ones((2, 3, 5), np.float32), cache)
    for name, arr in (("x", x), ("kernel", kernel), ("recurrent_kernel", recurrent),
                      ("bias", bias), ("h0", h0), ("c0", c0)):
        assert grads[name].shape == arr.shape and grads[name].dtype == np.float32


def test_relative_error_and_numerical_gradient_basics():
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error(np.ones(3), -np.ones(3)) == pytest.approx(1.0)
    a = np.array([1.0, 2.0, 3.0])
    g = numerical_gradient(lambda: np.sum(a ** 2), a)
    np.testing.assert_allclose(g, 2 * a, atol=1e-8)
    np.testing.assert_array_equal(a, [1.0, 2.0, 3.0])


# ---------------------------------------------------------------- bad inputs
def test_bad_inputs_raise():
    rng = np.random.default_rng(7)
    x, kernel, recurrent, bias, h0, c0 = random_lstm(rng, 2, 3, 4, 5)
    with pytest.raises(ValueError, match="kernel.*\\(4, 20\\)"):
        lstm_forward(x, kernel[:, :-1], recurrent, bias)
    with pytest.raises(ValueError, match="recurrent_kernel.*\\(5, 20\\)"):
        lstm_forward(x, kernel, recurrent[:, :-4], bias)
    with pytest.raises(ValueError, match="bias.*\\(20,\\)"):
        lstm_forward(x, kernel, recurrent, bias[:-1])
    with pytest.raises(ValueError, match="h0.*\\(2, 5\\)"):
        lstm_forward(x, kernel, recurrent, bias, h0=h0[:1])
    with pytest.raises(ValueError, match="c0"):
        lstm_forward(x, kernel, recurrent, bias, c0=c0.T)
    with pytest.raises(ValueError, match="0 time steps"):
        lstm_forward(x[:, :0], kernel, recurrent, bias)
    with pytest.raises(ValueError, match="3-D"):
        lstm_forward(x[0], kernel, recurrent, bias)
    _, _, cache = lstm_forward(x, kernel, recurrent, bias)
    with pytest.raises(ValueError, match="dh"):
        lstm_backward(np.zeros((2, 3, 4)), cache)
