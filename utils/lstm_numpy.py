r"""A NumPy LSTM you can read line by line and check against Keras.

This module re-implements one ``keras.layers.LSTM`` layer (default
``activation="tanh"``, ``recurrent_activation="sigmoid"``, ``use_bias=True``)
in plain NumPy, together with its backward pass (backpropagation through time)
and a finite-difference gradient checker. Tools that look *inside* a trained
LSTM (gate saturation, correlation of memory cells with features of the text)
live in :mod:`utils.interpretation`.

Equations (Graves 2013, "Generating Sequences with Recurrent Neural Networks")
---------------------------------------------------------------------------
Graves writes the LSTM used in the paper as (eqs. 7-11, sigma = logistic
sigmoid, all products between vectors element-wise)::

    i_t = sigma(W_xi x_t + W_hi h_{t-1} + W_ci c_{t-1} + b_i)          (7)
    f_t = sigma(W_xf x_t + W_hf h_{t-1} + W_cf c_{t-1} + b_f)          (8)
    c_t = f_t c_{t-1} + i_t tanh(W_xc x_t + W_hc h_{t-1} + b_c)        (9)
    o_t = sigma(W_xo x_t + W_ho h_{t-1} + W_co c_t + b_o)              (10)
    h_t = o_t tanh(c_t)                                                (11)

Where Keras (and therefore this module) differs:

* **No peepholes.** The diagonal cell-to-gate weights ``W_ci, W_cf, W_co`` do
  not exist; the gates see only ``x_t`` and ``h_{t-1}``.
* **Row-vector convention and fused weights.** Keras stores the four input
  matrices side by side in one ``kernel`` and multiplies from the right::

      z_t = x_t @ kernel + h_{t-1} @ recurrent_kernel + bias      # (B, 4H)
      z_i, z_f, z_g, z_o = split(z_t, 4, axis=-1)                # (B, H) each
      i_t = sigmoid(z_i)          # input gate            (7) without W_ci
      f_t = sigmoid(z_f)          # forget gate           (8) without W_cf
      g_t = tanh(z_g)             # candidate cell input  (the tanh(...) in 9)
      o_t = sigmoid(z_o)          # output gate           (10) without W_co
      c_t = f_t * c_{t-1} + i_t * g_t                            # (9)
      h_t = o_t * tanh(c_t)                                      # (11)

  so ``kernel[:, 0:H]`` is ``W_xi^T``, ``kernel[:, H:2H]`` is ``W_xf^T``,
  ``kernel[:, 2H:3H]`` is ``W_xc^T`` and ``kernel[:, 3H:4H]`` is ``W_xo^T``
  (column blocks in the order **i, f, c (g), o**); likewise for
  ``recurrent_kernel`` and ``bias``. The tests check this order by
  perturbation rather than taking it on trust.
* ``unit_forget_bias=True`` in Keras only changes the *initial* value of the
  forget-gate bias block (to 1); it plays no role once weights are given.

Shapes (B = batch size, T = time steps, D = input features, H = units)
-----------------------------------------------------------------------
===================  ===========  ===========================================
array                shape        meaning
===================  ===========  ===========================================
``x``                (B, T, D)    input sequence
``kernel``           (D, 4H)      input weights, column blocks i, f, g, o
``recurrent_kernel`` (H, 4H)      recurrent weights, column blocks i, f, g, o
``bias``             (4H,)        biases, blocks i, f, g, o
``h0``, ``c0``       (B, H)       initial hidden and cell state (default 0)
``h``, ``c``         (B, T, H)    hidden and cell state after every step
``i, f, g, o``       (B, T, H)    gate activations (in ``cache``)
``dh``               (B, T, H)    upstream gradient dLoss/dh_t for every t
``dc_last``          (B, H)       upstream gradient on the final cell c_T
===================  ===========  ===========================================

All computations run in the floating dtype of ``x`` (float32 or float64); the
weights are cast to it. Everything here is unitless except where stated.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "sigmoid",
    "lstm_forward",
    "lstm_backward",
    "relative_error",
    "numerical_gradient",
    "GATES",
]

#: Gate names in the order of the column blocks of Keras' ``kernel``,
#: ``recurrent_kernel`` and ``bias``.
GATES = ("i", "f", "g", "o")


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Logistic sigmoid ``1 / (1 + exp(-z))``, element-wise, same dtype as ``z``.

    Written as ``0.5 * (1 + tanh(z / 2))``, an exact identity that never
    overflows (``exp(-z)`` would for very negative ``z``).
    """
    z = np.asarray(z)
    return 0.5 * (1.0 + np.tanh(0.5 * z))


# --------------------------------------------------------------------------
# Input checking
# --------------------------------------------------------------------------
def _check_shape(name: str, arr: np.ndarray, expected: tuple, symbolic: str) -> None:
    """Raise ``ValueError`` naming ``name`` if ``arr.shape != expected``."""
    if arr.shape != tuple(expected):
        raise ValueError(
            f"{name} has shape {arr.shape}, expected {symbolic} = {tuple(expected)}"
        )


def _float_dtype(x: np.ndarray) -> np.dtype:
    """The dtype to compute in: ``x``'s own if floating, else float64."""
    return x.dtype if np.issubdtype(x.dtype, np.floating) else np.dtype(np.float64)


# --------------------------------------------------------------------------
# Forward pass
# --------------------------------------------------------------------------
def lstm_forward(x, kernel, recurrent_kernel, bias, h0=None, c0=None):
    """Run one LSTM layer over a batch of sequences, exactly like Keras.

    Parameters
    ----------
    x : array (B, T, D), float32 or float64
        Input sequences. The computation runs in this dtype (integers are
        promoted to float64).
    kernel : array (D, 4H)
        Input weights, column blocks in the order i, f, g (cell candidate), o.
    recurrent_kernel : array (H, 4H)
        Recurrent weights, same block order.
    bias : array (4H,)
        Biases, same block order.
    h0, c0 : array (B, H) or None
        Initial hidden / cell state; zeros when ``None``.

    Returns
    -------
    h : array (B, T, H)
        Hidden state h_t after every step (Keras ``return_sequences=True``).
    c : array (B, T, H)
        Cell state c_t after every step (Keras returns only ``c[:, -1]``).
    cache : dict
        Everything the backward pass needs: ``"x", "kernel",
        "recurrent_kernel", "bias", "h0", "c0", "h", "c", "tanh_c"`` and the
        gate activations ``"i", "f", "g", "o"``, each (B, T, H), with
        i, f, o in (0, 1) and g in (-1, 1).

    Raises
    ------
    ValueError
        If ``x`` is not 3-D, has zero time steps, or any weight / state has
        the wrong shape (the message names the array and the expected shape).
    """
    x = np.asarray(x)
    if x.ndim != 3:
        raise ValueError(f"x must be 3-D (B, T, D), got shape {x.shape}")
    B, T, D = x.shape
    if T == 0:
        raise ValueError("x has 0 time steps; the LSTM needs sequences of length >= 1")
    dtype = _float_dtype(x)
    x = x.astype(dtype, copy=False)

    recurrent_kernel = np.asarray(recurrent_kernel)
    if recurrent_kernel.ndim != 2:
        raise ValueError(
            f"recurrent_kernel must be 2-D (H, 4H), got shape {recurrent_kernel.shape}"
        )
    H = recurrent_kernel.shape[0]
    kernel = np.asarray(kernel)
    bias = np.asarray(bias)
    _check_shape("recurrent_kernel", recurrent_kernel, (H, 4 * H), "(H, 4H)")
    _check_shape("kernel", kernel, (D, 4 * H), "(D, 4H)")
    _check_shape("bias", bias, (4 * H,), "(4H,)")
    kernel = kernel.astype(dtype, copy=False)
    recurrent_kernel = recurrent_kernel.astype(dtype, copy=False)
    bias = bias.astype(dtype, copy=False)

    if h0 is None:
        h0 = np.zeros((B, H), dtype)
    if c0 is None:
        c0 = np.zeros((B, H), dtype)
    h0 = np.asarray(h0)
    c0 = np.asarray(c0)
    _check_shape("h0", h0, (B, H), "(B, H)")
    _check_shape("c0", c0, (B, H), "(B, H)")
    h0 = h0.astype(dtype, copy=False)
    c0 = c0.astype(dtype, copy=False)

    h = np.empty((B, T, H), dtype)
    c = np.empty((B, T, H), dtype)
    gates = {name: np.empty((B, T, H), dtype) for name in GATES}

    # The input projection does not depend on the recurrence: do it for all t.
    zx = x @ kernel + bias                                    # (B, T, 4H)
    h_prev, c_prev = h0, c0
    for t in range(T):
        z = zx[:, t] + h_prev @ recurrent_kernel              # (B, 4H)
        i = sigmoid(z[:, 0 * H:1 * H])                        # input gate
        f = sigmoid(z[:, 1 * H:2 * H])                        # forget gate
        g = np.tanh(z[:, 2 * H:3 * H])                        # cell candidate
        o = sigmoid(z[:, 3 * H:4 * H])                        # output gate
        c_t = f * c_prev + i * g                              # Graves eq. 9
        h_t = o * np.tanh(c_t)                                # Graves eq. 11
        for name, val in zip(GATES, (i, f, g, o)):
            gates[name][:, t] = val
        h[:, t], c[:, t] = h_t, c_t
        h_prev, c_prev = h_t, c_t

    cache = {
        "x": x,
        "kernel": kernel,
        "recurrent_kernel": recurrent_kernel,
        "bias": bias,
        "h0": h0,
        "c0": c0,
        "h": h,
        "c": c,
        "tanh_c": np.tanh(c),
        **gates,
    }
    return h, c, cache


# --------------------------------------------------------------------------
# Backward pass (backpropagation through time)
# --------------------------------------------------------------------------
def lstm_backward(dh, cache, dc_last=None):
    """Backpropagation through time for :func:`lstm_forward`.

    Parameters
    ----------
    dh : array (B, T, H)
        Upstream gradient dLoss/dh_t on the hidden state of *every* step
        (zeros where a step's output is not used).
    cache : dict
        The third return value of :func:`lstm_forward`.
    dc_last : array (B, H) or None
        Upstream gradient on the final cell state c_T (e.g. when the final
        state is passed on to another layer); zeros when ``None``.

    Returns
    -------
    dict
        Gradients of the loss, each with the shape and dtype of the matching
        forward argument: ``"x"`` (B, T, D), ``"kernel"`` (D, 4H),
        ``"recurrent_kernel"`` (H, 4H), ``"bias"`` (4H,), ``"h0"`` (B, H)
        and ``"c0"`` (B, H).

    Notes
    -----
    Going backwards in time, with ``dh_t`` the total gradient on h_t (its
    upstream part plus what flows back from step t+1) and ``dc_t`` the total
    gradient on c_t::

        do   = dh_t * tanh(c_t)
        dc_t = dc_t + dh_t * o_t * (1 - tanh(c_t)^2)
        di, df, dg = dc_t * g_t, dc_t * c_{t-1}, dc_t * i_t
        dz   = [di * i(1-i), df * f(1-f), dg * (1-g^2), do * o(1-o)]
        dx_t = dz @ kernel.T;   dh_{t-1} += dz @ recurrent_kernel.T
        dc_{t-1} = dc_t * f_t   # the "constant error carousel" when f ~ 1
    """
    x = cache["x"]
    kernel, recurrent_kernel = cache["kernel"], cache["recurrent_kernel"]
    B, T, D = x.shape
    H = recurrent_kernel.shape[0]
    dtype = x.dtype
    dh = np.asarray(dh)
    _check_shape("dh", dh, (B, T, H), "(B, T, H)")
    dh = dh.astype(dtype, copy=False)
    if dc_last is None:
        dc_next = np.zeros((B, H), dtype)
    else:
        dc_next = np.asarray(dc_last)
        _check_shape("dc_last", dc_next, (B, H), "(B, H)")
        dc_next = dc_next.astype(dtype, copy=True)

    h, c, tanh_c = cache["h"], cache["c"], cache["tanh_c"]
    i_all, f_all, g_all, o_all = (cache[name] for name in GATES)

    dx = np.zeros_like(x)
    dkernel = np.zeros_like(kernel)
    drecurrent = np.zeros_like(recurrent_kernel)
    dbias = np.zeros_like(cache["bias"])
    dh_next = np.zeros((B, H), dtype)                         # from step t+1

    for t in reversed(range(T)):
        i, f, g, o = i_all[:, t], f_all[:, t], g_all[:, t], o_all[:, t]
        h_prev = h[:, t - 1] if t > 0 else cache["h0"]
        c_prev = c[:, t - 1] if t > 0 else cache["c0"]
        dh_t = dh[:, t] + dh_next                             # (B, H)
        do = dh_t * tanh_c[:, t]
        dc_t = dc_next + dh_t * o * (1.0 - tanh_c[:, t] ** 2)
        di = dc_t * g
        df = dc_t * c_prev
        dg = dc_t * i
        dz = np.concatenate(                                  # (B, 4H)
            [di * i * (1.0 - i), df * f * (1.0 - f), dg * (1.0 - g ** 2), do * o * (1.0 - o)],
            axis=1,
        )
        dx[:, t] = dz @ kernel.T
        dkernel += x[:, t].T @ dz
        drecurrent += h_prev.T @ dz
        dbias += dz.sum(axis=0)
        dh_next = dz @ recurrent_kernel.T
        dc_next = dc_t * f

    grads = {
        "x": dx,
        "kernel": dkernel,
        "recurrent_kernel": drecurrent,
        "bias": dbias,
        "h0": dh_next,
        "c0": dc_next,
    }
    for name in ("x", "kernel", "recurrent_kernel", "bias", "h0", "c0"):
        assert grads[name].shape == cache[name].shape, name
    return grads


# --------------------------------------------------------------------------
# Gradient checking
# --------------------------------------------------------------------------
def relative_error(a, b) -> float:
    """Relative difference ``||a - b|| / (||a|| + ||b||)`` (Euclidean norms).

    0 means identical, 1 means unrelated (e.g. opposite signs); 0.0 if both are
    all zeros. A correct float64 gradient compared with centred finite
    differences typically gives 1e-9 to 1e-11. This norm-based version is
    used instead of the element-wise maximum (CS231n's ``rel_error``) because
    it is not dominated by entries that are themselves ~0.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    if denom == 0.0:
        return 0.0
    return float(np.linalg.norm(a - b) / denom)


def numerical_gradient(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Centred finite-difference gradient of a scalar function.

    Parameters
    ----------
    f : callable
        ``f()`` (no arguments) returns a scalar that depends on ``x``.
    x : ndarray (any shape, floating; use float64)
        The array to differentiate with respect to. It is **modified in
        place** one entry at a time (so ``f`` sees the change) and restored
        afterwards, also if ``f`` raises.
    eps : float
        Step size; ``(f(x + eps) - f(x - eps)) / (2 eps)`` has error
        O(eps^2) plus rounding ~1e-16 / eps.

    Returns
    -------
    ndarray, same shape as ``x``, float64.
    """
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        raise ValueError("x must be a floating-point NumPy array (it is perturbed in place)")
    grad = np.zeros(x.shape, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    while not it.finished:
        idx = it.multi_index
        old = x[idx]
        try:
            x[idx] = old + eps
            f_plus = float(f())
            x[idx] = old - eps
            f_minus = float(f())
        finally:
            x[idx] = old
        grad[idx] = (f_plus - f_minus) / (2.0 * eps)
        it.iternext()
    return grad
