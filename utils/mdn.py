"""Mixture density network output for pen offsets (Graves 2013, eqs. 15-26).

Per time step the network emits ``1 + 6M`` raw numbers,
``[e_hat | pi_hat | mu1 | mu2 | sigma1_hat | sigma2_hat | rho_hat]`` (M each but ``e_hat``), which
:func:`mixture_params` maps to an end-of-stroke probability (sigmoid), mixture weights (softmax),
means, standard deviations (exp) and correlations (tanh). NLLs are in nats per point, in the
offsets' units (here standardised offsets, :func:`utils.handwriting.normalizer`).
"""
from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops
from scipy.stats import multivariate_normal

from .checks import check_finite, check_int, check_number
from .handwriting import POINT_KINDS, START_ROW, check_offsets, point_kinds
from .model import lstm_layers

#: Bounds on the log standard deviation: squared z-scores stay finite in float32.
LOG_SIGMA_MIN, LOG_SIGMA_MAX = -10.0, 10.0
_LOG_2PI = math.log(2.0 * math.pi)


def _split_raw(raw):
    """The 7 slices of raw ``(..., 1 + 6M)`` outputs."""
    m = (raw.shape[-1] - 1) // 6
    if raw.shape[-1] != 1 + 6 * m or m < 1:
        raise ValueError(f"raw last dimension must be 1 + 6M, got {raw.shape[-1]}")
    e = raw[..., :1]
    pieces = [raw[..., 1 + i * m: 1 + (i + 1) * m] for i in range(6)]
    return (e, *pieces)


@keras.saving.register_keras_serializable(package="mdn")
class MixtureDensityOutput(keras.layers.Layer):
    """Linear map from features ``(B, T, F)`` to the raw parameters ``(B, T, 1 + 6M)`` of
    M = ``num_components`` bivariate Gaussians."""

    def __init__(self, num_components: int, **kwargs):
        super().__init__(**kwargs)
        check_int(num_components, "num_components")
        self.num_components = int(num_components)
        self.dense = keras.layers.Dense(1 + 6 * self.num_components, name="mdn_params")

    def build(self, input_shape):
        self.dense.build(input_shape)

    def call(self, inputs):
        return self.dense(inputs)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 1 + 6 * self.num_components)

    def get_config(self):
        return {**super().get_config(), "num_components": self.num_components}


def mixture_params(raw, bias: float = 0.0, eps: float = 1e-6) -> dict:
    """Constrained mixture parameters, with Graves' sampling bias (section 5.4).

    Args:
        raw: ``(..., 1 + 6M)`` raw outputs.
        bias: b >= 0: ``pi = softmax(pi_hat * (1 + b))``, ``sigma = exp(sigma_hat - b)``; 0 is the
            trained distribution.
        eps: correlations are clipped to ``+-(1 - eps)``.

    Returns:
        float32 tensors: ``e`` and ``e_logit`` ``(..., 1)``; ``pi``, ``log_pi``, ``mu1``, ``mu2``,
        ``sigma1``, ``sigma2``, ``log_sigma1``, ``log_sigma2``, ``rho``, each ``(..., M)``.

    Raises:
        ValueError: ``bias`` not a finite number >= 0, or ``eps`` outside (0, 1).
    """
    check_number(bias, "bias", 0)
    if not 0 < eps < 1:
        raise ValueError(f"eps must be in (0, 1), got {eps}")
    raw = ops.convert_to_tensor(raw, dtype="float32")
    e_hat, pi_hat, mu1, mu2, s1_hat, s2_hat, rho_hat = _split_raw(raw)
    log_pi = ops.log_softmax(pi_hat * (1.0 + bias), axis=-1)
    log_s1 = ops.clip(s1_hat - bias, LOG_SIGMA_MIN, LOG_SIGMA_MAX)
    log_s2 = ops.clip(s2_hat - bias, LOG_SIGMA_MIN, LOG_SIGMA_MAX)
    return {
        "e": ops.sigmoid(e_hat), "e_logit": e_hat,
        "pi": ops.exp(log_pi), "log_pi": log_pi,
        "mu1": mu1, "mu2": mu2,
        "sigma1": ops.exp(log_s1), "sigma2": ops.exp(log_s2),
        "log_sigma1": log_s1, "log_sigma2": log_s2,
        "rho": ops.clip(ops.tanh(rho_hat), -(1.0 - eps), 1.0 - eps),
    }


def _log_bivariate(x1, x2, p):
    """Log N(x | mu, sigma, rho) per component, ``(..., M)``; x1, x2 are ``(..., 1)``."""
    z1 = (x1 - p["mu1"]) * ops.exp(-p["log_sigma1"])
    z2 = (x2 - p["mu2"]) * ops.exp(-p["log_sigma2"])
    rho = p["rho"]
    one_m_r2 = (1.0 - rho) * (1.0 + rho)          # accurate near |rho| = 1
    z = z1 * z1 + z2 * z2 - 2.0 * rho * z1 * z2
    return (-_LOG_2PI - p["log_sigma1"] - p["log_sigma2"]
            - 0.5 * ops.log(one_m_r2) - z / (2.0 * one_m_r2))


def mdn_nll(y_true, raw, eps: float = 1e-6):
    """Negative log-likelihood (Graves eq. 26) of targets ``(B, T, 3)`` under raw outputs ``(B, T, 1 + 6M)``:
    float32 ``(B, T)``, nats per point, computed in log space; usable as a Keras loss.

    Raises:
        ValueError: the shapes, where known, are not ``(B, T, 3)`` and ``(B, T, 1 + 6M)``.
    """
    y_true = ops.convert_to_tensor(y_true, dtype="float32")
    raw = ops.convert_to_tensor(raw, dtype="float32")
    if len(y_true.shape) != 3 or y_true.shape[-1] not in (None, 3) or any(
            a is not None and b is not None and a != b for a, b in zip(y_true.shape[:2], raw.shape[:2])):
        raise ValueError(f"y_true must have shape (B, T, 3) and raw (B, T, 1 + 6M), got "
                         f"{tuple(y_true.shape)} and {tuple(raw.shape)}")
    p = mixture_params(raw, bias=0.0, eps=eps)
    log_mix = ops.logsumexp(p["log_pi"] + _log_bivariate(y_true[..., 0:1], y_true[..., 1:2], p), axis=-1)
    eos = y_true[..., 2]
    e_logit = p["e_logit"][..., 0]
    log_bern = eos * ops.log_sigmoid(e_logit) + (1.0 - eos) * ops.log_sigmoid(-e_logit)
    return -(log_mix + log_bern)


def build_mdn_model(num_components: int = 20, units: int = 64, num_layers: int = 1,
                    learning_rate: float = 5e-3, decay_steps: int | None = None, clipnorm: float = 1.0,
                    seed: int = 0) -> keras.Model:
    """Offsets ``(B, T, 3)`` -> ``num_layers`` LSTM layers of ``units`` -> :class:`MixtureDensityOutput`
    with ``num_components`` components, seeded with ``seed`` and compiled with :func:`mdn_nll` and Adam
    (``learning_rate``, gradients clipped to global norm ``clipnorm``; with ``decay_steps``, a cosine
    decay of the rate to 0 over that many steps).

    Raises:
        ValueError: a size or decay_steps not an int >= 1, a learning rate or clipnorm not a finite
            number > 0.
    """
    check_int(num_components, "num_components")
    check_int(units, "units")
    check_int(num_layers, "num_layers")
    check_number(learning_rate, "learning_rate", 0, above=True)
    if decay_steps is not None:
        check_int(decay_steps, "decay_steps", or_none=True)
    check_number(clipnorm, "clipnorm", 0, above=True)
    keras.utils.set_random_seed(seed)
    x = inputs = keras.Input((None, 3), name="offsets")
    for i in range(num_layers):
        x = keras.layers.LSTM(units, return_sequences=True, name=f"lstm_{i}")(x)
    outputs = MixtureDensityOutput(num_components, name="mdn")(x)
    model = keras.Model(inputs, outputs, name=f"mdn_m{num_components}")
    rate = learning_rate if decay_steps is None else keras.optimizers.schedules.CosineDecay(
        learning_rate, int(decay_steps))
    model.compile(optimizer=keras.optimizers.Adam(rate, global_clipnorm=clipnorm), loss=mdn_nll)
    return model


def point_nll(model, inputs, targets, batch_size: int = 64) -> np.ndarray:
    """NLL in nats, float64 ``(N, T)``, of every target of ``(inputs, targets)`` pairs ``(N, T, 3)``
    (:func:`utils.handwriting.make_pairs`) under a :func:`build_mdn_model` model; its mean is Keras' loss.

    Raises:
        ValueError: ``inputs`` or ``targets`` is not finite ``(N, T, 3)``, or their shapes differ.
    """
    inputs, targets = check_offsets(inputs, "inputs", (3,)), check_offsets(targets, "targets", (3,))
    if inputs.shape != targets.shape:
        raise ValueError(f"targets {targets.shape} and inputs {inputs.shape} must have the same shape")
    raw = model.predict(inputs, batch_size=batch_size, verbose=0)
    return ops.convert_to_numpy(mdn_nll(targets, raw)).astype(np.float64)


def constant_velocity_point_nll(train_targets, eval_targets) -> np.ndarray:
    """NLL in nats, float64 ``(N_eval, T)``, of ``eval_targets`` under a constant-velocity baseline fitted
    on ``train_targets`` (both ``(N, T, 3)``, T >= 3), comparable with :func:`point_nll`.

    Each kind of point has a Gaussian fitted on its training points: the first point, a pen-up jump
    and a stroke's second point on the offset, later points on the change from the previous offset.
    End-of-stroke is Bernoulli with the training frequency.

    Raises:
        ValueError: not finite ``(N, T, 3)`` arrays, fewer than 3 points per sequence, or a kind of
            point to score with fewer than 2 training examples.
    """
    tr = check_offsets(train_targets, "train_targets", (3,))
    ev = check_offsets(eval_targets, "eval_targets", (3,))
    if tr.shape[1] < 3 or ev.shape[1] < 3:
        raise ValueError("sequences must have at least 3 points")

    def kinds(y):
        labels = point_kinds(y)
        first, jump, within = (labels == name for name in POINT_KINDS)
        second = np.zeros_like(within)
        second[:, 1:] = within[:, 1:] & ~within[:, :-1]
        return first, jump, second, within & ~second

    def residual(y):
        r = np.zeros_like(y[..., :2])
        r[:, 1:] = y[:, 1:, :2] - y[:, :-1, :2]
        return r

    tr_kinds, ev_kinds = kinds(tr), kinds(ev)
    res_tr, res_ev = residual(tr), residual(ev)
    out = np.zeros(ev.shape[:2])
    names = ("first point", "pen-up jump", "second point of a stroke", "later point of a stroke")
    for kind, (m_tr, m_ev) in enumerate(zip(tr_kinds, ev_kinds)):
        if not m_ev.any():
            continue                                   # e.g. no pen-up jumps in single-stroke data
        if m_tr.sum() < 2:
            raise ValueError(f"eval_targets have a {names[kind]} but train_targets have fewer than 2 to fit")
        x_tr, x_ev = (tr[..., :2], ev[..., :2]) if kind < 3 else (res_tr, res_ev)
        fitted = x_tr[m_tr]
        cov = np.cov(fitted, rowvar=False) + 1e-9 * np.eye(2)
        out[m_ev] = -multivariate_normal(fitted.mean(axis=0), cov).logpdf(x_ev[m_ev])
    p_eos = np.clip(tr[..., 2].mean(), 1e-6, 1 - 1e-6)
    eos = ev[..., 2]
    return out - (eos * np.log(p_eos) + (1 - eos) * np.log1p(-p_eos))


def draw_offsets(p, components, rng):
    """float32 ``(S, 3)``: one ``(dx, dy, eos)`` per row of NumPy mixture params, from component
    ``components[s]`` of row s."""
    n = len(components)
    rows = np.arange(n)
    mu1, mu2 = p["mu1"][rows, components], p["mu2"][rows, components]
    s1, s2, rho = p["sigma1"][rows, components], p["sigma2"][rows, components], p["rho"][rows, components]
    z1, z2 = rng.standard_normal(n), rng.standard_normal(n)
    dx = mu1 + s1 * z1
    dy = mu2 + s2 * (rho * z1 + np.sqrt(1.0 - rho * rho) * z2)
    eos = (rng.random(n) < p["e"][:, 0]).astype(np.float32)
    return np.stack([dx, dy, eos], axis=-1).astype(np.float32)


def sample_mdn(model, n_steps: int, *, sample_categorical, bias: float = 0.0, seed: int = 0, prime=None,
               num_samples: int = 1) -> np.ndarray:
    """Sample offsets one step at a time, carrying the LSTM state (Graves sections 4 and 5.4).

    The model reads :data:`utils.handwriting.START_ROW`, then ``prime``, then each sampled offset.

    Args:
        model: a trained :func:`build_mdn_model` model.
        n_steps: offsets to generate (int >= 1).
        sample_categorical: ``(logits, temperature, rng) -> int``: draws a row's component from its
            unbiased mixture logits, float64 ``(M,)``, at temperature ``1 / (1 + bias)``.
        bias: sampling bias b >= 0 (:func:`mixture_params`).
        seed: seed of the NumPy generator.
        prime: optional ``(P, 3)`` offsets to continue.
        num_samples: samples drawn as one batch (int >= 1).

    Returns:
        float32 ``(n_steps, 3)`` offsets in model units, or ``(num_samples, n_steps, 3)``.

    Raises:
        ValueError: a bad argument, or a component outside ``[0, M)``.
    """
    check_int(n_steps, "n_steps")
    check_int(num_samples, "num_samples")
    check_number(bias, "bias", 0)
    feed = START_ROW[None]
    if prime is not None:
        prime = np.asarray(prime, dtype=np.float32)
        if prime.ndim != 2 or prime.shape[1] != 3:
            raise ValueError(f"prime must have shape (P, 3), got {prime.shape}")
        feed = np.concatenate([feed, check_finite(prime, "prime")])
    lstms, head = lstm_layers(model), model.get_layer("mdn")
    states = [[ops.zeros((num_samples, layer.units))] * 2 for layer in lstms]

    def step(x):
        for i, layer in enumerate(lstms):
            x, states[i] = layer.cell(x, states[i], training=False)
        return head(x)

    for row in feed:                                   # condition on the start row and the prime
        raw = step(ops.convert_to_tensor(np.repeat(row[None], num_samples, axis=0)))
    rng = np.random.default_rng(seed)
    temperature = 1.0 / (1.0 + bias)
    out = np.zeros((num_samples, n_steps, 3), np.float32)
    for t in range(n_steps):
        p = {k: ops.convert_to_numpy(v) for k, v in mixture_params(raw, bias=bias).items()}
        pi_logits = ops.convert_to_numpy(_split_raw(raw)[1]).astype(np.float64)      # (S, M), unbiased
        components = np.array([int(sample_categorical(row, temperature, rng)) for row in pi_logits])
        if components.min() < 0 or components.max() >= pi_logits.shape[1]:
            raise ValueError(f"sample_categorical returned a component outside [0, {pi_logits.shape[1]})")
        out[:, t] = draw_offsets(p, components, rng)
        raw = step(ops.convert_to_tensor(out[:, t]))
    return out[0] if num_samples == 1 else out


def next_position_density(model, inputs, positions, xs, ys, scale, shift, bias: float = 0.0,
                          steps=None, blur: float = 0.0) -> np.ndarray:
    """Predicted densities of the next pen position, summed over the steps of one sequence (Graves Fig. 10).

    Args:
        model: a :func:`build_mdn_model` model, read on model inputs ``inputs`` ``(T, 3)``.
        positions: ``(T, 2)`` pen position before each target, dataset units.
        xs, ys: the grid, dataset units.
        scale, shift: normaliser ``std`` and ``mean``, ``(2,)``: ``offset = scale * model_offset + shift``.
        bias: sampling bias of the mixture.
        steps: indices of the steps to sum (default: all).
        blur: standard deviation (>= 0, dataset units) added to every component, so that components
            narrower than the grid do not fall between its points.

    Returns:
        float64 ``(len(ys), len(xs))`` density per unit².

    Raises:
        ValueError: mismatched ``inputs`` / ``positions`` lengths, or ``blur`` or ``bias`` not a finite
            number >= 0.
    """
    check_number(blur, "blur", 0)
    inputs = np.asarray(inputs, dtype=np.float32)
    positions = np.asarray(positions, dtype=np.float64)
    if inputs.ndim != 2 or positions.shape != (len(inputs), 2):
        raise ValueError(f"need inputs (T, 3) and positions (T, 2), got {inputs.shape} and {positions.shape}")
    scale, shift = np.asarray(scale, np.float64), np.asarray(shift, np.float64)
    raw = model(inputs[None], training=False)[0]
    p = {k: ops.convert_to_numpy(v).astype(np.float64) for k, v in mixture_params(raw, bias=bias).items()}
    if blur > 0:                                       # N(mu, S) * N(0, blur^2 I) = N(mu, S + blur^2 I)
        b1, b2 = blur / scale[0], blur / scale[1]      # in model units
        s1 = np.sqrt(p["sigma1"] ** 2 + b1 ** 2)
        s2 = np.sqrt(p["sigma2"] ** 2 + b2 ** 2)
        p["rho"] = p["rho"] * p["sigma1"] * p["sigma2"] / (s1 * s2)
        p["log_sigma1"], p["log_sigma2"] = np.log(s1), np.log(s2)
    p = {k: v.astype(np.float32) for k, v in p.items()}
    steps = np.arange(len(inputs)) if steps is None else np.asarray(steps)
    gx, gy = np.meshgrid(np.asarray(xs, np.float64), np.asarray(ys, np.float64))
    total = np.zeros(gx.shape)
    for t in steps:
        pt = {k: v[t] for k, v in p.items()}
        u1 = ((gx - positions[t, 0] - shift[0]) / scale[0]).astype(np.float32).reshape(-1, 1)
        u2 = ((gy - positions[t, 1] - shift[1]) / scale[1]).astype(np.float32).reshape(-1, 1)
        log_p = pt["log_pi"] + _log_bivariate(ops.convert_to_tensor(u1), ops.convert_to_tensor(u2), pt)
        density = np.exp(ops.convert_to_numpy(ops.logsumexp(log_p, axis=-1)).astype(np.float64))
        total += density.reshape(gx.shape) / (scale[0] * scale[1])
    return total
