"""One LSTM layer in NumPy, step by step, with Keras' weights.

Keras' layout: ``kernel`` ``(D, 4H)``, ``recurrent_kernel`` ``(H, 4H)`` and ``bias`` ``(4H,)`` hold the
four gates side by side, in the order i, f, g (cell candidate), o. With a correct step function
:func:`lstm_forward` equals ``keras.layers.LSTM`` (tanh, sigmoid gates, bias, no peepholes).
"""
from __future__ import annotations

import numpy as np

__all__ = ["lstm_forward"]


def _check_shape(name: str, arr: np.ndarray, expected: tuple, symbolic: str) -> None:
    if arr.shape != tuple(expected):
        raise ValueError(f"{name} has shape {arr.shape}, expected {symbolic} = {tuple(expected)}")


def lstm_forward(x, kernel, recurrent_kernel, bias, step, h0=None, c0=None):
    """Run ``step`` over every time step of ``x``, carrying ``(h, c)``.

    Args:
        x: inputs ``(B, T, D)``; the computation runs in its float dtype (integers become float64).
        kernel: ``(D, 4H)``.
        recurrent_kernel: ``(H, 4H)``.
        bias: ``(4H,)``.
        step: ``step(x_t, h_prev, c_prev, kernel, recurrent_kernel, bias) -> (h_t, c_t)``, with
            ``x_t`` ``(B, D)`` and the states ``(B, H)``.
        h0: initial hidden state ``(B, H)``; zeros when None.
        c0: initial cell state ``(B, H)``; zeros when None.

    Returns:
        ``(h, c)``: the hidden and cell states after every step, each ``(B, T, H)`` in ``x``'s dtype.

    Raises:
        ValueError: ``x`` is not 3-D or has no time step, or an array (also one ``step`` returns)
            has the wrong shape; the message names it and the expected shape.
    """
    x = np.asarray(x)
    if x.ndim != 3:
        raise ValueError(f"x must be 3-D (B, T, D), got shape {x.shape}")
    B, T, D = x.shape
    if T == 0:
        raise ValueError("x has 0 time steps; the LSTM needs sequences of length >= 1")
    dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.dtype(np.float64)
    recurrent_kernel = np.asarray(recurrent_kernel)
    if recurrent_kernel.ndim != 2:
        raise ValueError(f"recurrent_kernel must be 2-D (H, 4H), got shape {recurrent_kernel.shape}")
    H = recurrent_kernel.shape[0]
    kernel, bias = np.asarray(kernel), np.asarray(bias)
    h0 = np.zeros((B, H), dtype) if h0 is None else np.asarray(h0)
    c0 = np.zeros((B, H), dtype) if c0 is None else np.asarray(c0)
    _check_shape("recurrent_kernel", recurrent_kernel, (H, 4 * H), "(H, 4H)")
    _check_shape("kernel", kernel, (D, 4 * H), "(D, 4H)")
    _check_shape("bias", bias, (4 * H,), "(4H,)")
    _check_shape("h0", h0, (B, H), "(B, H)")
    _check_shape("c0", c0, (B, H), "(B, H)")
    x, kernel, recurrent_kernel, bias, h_t, c_t = (a.astype(dtype, copy=False)
                                                    for a in (x, kernel, recurrent_kernel, bias, h0, c0))
    h, c = np.empty((B, T, H), dtype), np.empty((B, T, H), dtype)
    for t in range(T):
        h_t, c_t = step(x[:, t], h_t, c_t, kernel, recurrent_kernel, bias)
        h_t, c_t = np.asarray(h_t), np.asarray(c_t)
        _check_shape("h_t returned by step", h_t, (B, H), "(B, H)")
        _check_shape("c_t returned by step", c_t, (B, H), "(B, H)")
        h[:, t], c[:, t] = h_t, c_t
    return h, c
