"""Mixture density network output for pen offsets (Graves 2013, eqs. 15-26).

The network emits, per time step, ``1 + 6M`` raw numbers laid out as::

    [ e_hat | pi_hat (M) | mu1 (M) | mu2 (M) | sigma1_hat (M) | sigma2_hat (M) | rho_hat (M) ]

which :func:`mixture_params` maps to an end-of-stroke probability ``e`` (sigmoid;
Graves writes ``1 / (1 + exp(e_hat))``, the same up to the sign of ``e_hat``),
mixture weights ``pi`` (softmax), means, standard deviations ``exp(sigma_hat)``
and correlations ``tanh(rho_hat)``. :func:`mdn_nll` is the per-point negative
log-likelihood (eq. 26) in nats, computed in log space.

Units: offsets are whatever the model was trained on (here normalised offsets,
see :func:`utils.handwriting.normalizer`), so NLL values are nats per point in
those units; they are comparable across models only on the same normalisation.
"""
from __future__ import annotations

import math
import time

import numpy as np

from . import environment  # noqa: F401  (quiet TensorFlow before it is imported)
import keras
from keras import ops

#: Bounds on the raw log standard deviation: keeps the squared z-scores finite in
#: float32 even for a near-degenerate component (sigma >= e^-10 ~ 4.5e-5 units).
LOG_SIGMA_MIN, LOG_SIGMA_MAX = -10.0, 10.0
_LOG_2PI = math.log(2.0 * math.pi)


def _check_components(num_components):
    if not isinstance(num_components, (int, np.integer)) or isinstance(num_components, bool) or num_components < 1:
        raise ValueError(f"num_components must be a positive int, got {num_components!r}")


def _split_raw(raw):
    """Split raw ``(..., 1 + 6M)`` into its 7 named slices (backend tensors)."""
    m = (raw.shape[-1] - 1) // 6
    if raw.shape[-1] != 1 + 6 * m or m < 1:
        raise ValueError(f"raw last dimension must be 1 + 6M, got {raw.shape[-1]}")
    e = raw[..., :1]
    pieces = [raw[..., 1 + i * m: 1 + (i + 1) * m] for i in range(6)]
    return (e, *pieces)


@keras.saving.register_keras_serializable(package="mdn")
class MixtureDensityOutput(keras.layers.Layer):
    """Linear map from features to raw mixture parameters.

    Input ``(B, T, F)`` float32 features -> output ``(B, T, 1 + 6M)`` raw (unconstrained)
    parameters in the layout of the module docstring.

    Args:
        num_components: M, the number of bivariate Gaussian components (int >= 1).
    """

    def __init__(self, num_components: int, **kwargs):
        super().__init__(**kwargs)
        _check_components(num_components)
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
        raw: ``(..., 1 + 6M)`` raw outputs (NumPy array or tensor).
        bias: b >= 0; ``pi = softmax(pi_hat * (1 + b))``, ``sigma = exp(sigma_hat - b)``.
            0 gives the trained distribution; larger b gives cleaner, less varied samples.
        eps: correlations are clipped to ``+-(1 - eps)``.

    Returns:
        Dict of float32 tensors: ``e`` ``(..., 1)`` end-of-stroke probability, and
        ``pi``, ``mu1``, ``mu2``, ``sigma1``, ``sigma2``, ``rho`` each ``(..., M)``;
        plus ``log_pi``, ``log_sigma1``, ``log_sigma2`` for log-space use.

    Raises:
        ValueError: negative ``bias`` or ``eps`` outside (0, 1).
    """
    if bias < 0:
        raise ValueError(f"bias must be >= 0, got {bias}")
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
    """Per-point negative log-likelihood of Graves' eq. 26, in nats.

    ``-log( sum_j pi_j N(x | mu_j, sigma_j, rho_j) ) - log Bernoulli(eos | e)``, with
    the mixture summed by log-sum-exp over components and the Bernoulli term by
    log-sigmoid, so it stays finite for tiny sigmas and |rho| near 1. Usable as
    a Keras loss directly (Keras averages the returned values over points).

    Args:
        y_true: ``(B, T, 3)`` targets ``(dx, dy, end_of_stroke)``.
        raw: ``(B, T, 1 + 6M)`` raw network outputs.
        eps: correlation bound, ``|rho| <= 1 - eps``.

    Returns:
        float32 tensor ``(B, T)``: NLL per point in nats.
    """
    y_true = ops.convert_to_tensor(y_true, dtype="float32")
    p = mixture_params(raw, bias=0.0, eps=eps)
    log_mix = ops.logsumexp(p["log_pi"] + _log_bivariate(y_true[..., 0:1], y_true[..., 1:2], p), axis=-1)
    eos = y_true[..., 2]
    e_logit = p["e_logit"][..., 0]
    log_bern = eos * ops.log_sigmoid(e_logit) + (1.0 - eos) * ops.log_sigmoid(-e_logit)
    return -(log_mix + log_bern)


def build_mdn_model(num_components: int = 20, units: int = 32, num_layers: int = 1,
                    learning_rate: float = 1e-2, clipnorm: float = 1.0, seed: int = 0) -> keras.Model:
    """Stacked LSTM + mixture density output, compiled with :func:`mdn_nll`.

    Input ``(B, T, 3)`` offsets -> LSTM x ``num_layers`` (``units`` each) ->
    :class:`MixtureDensityOutput` ``(B, T, 1 + 6M)``. ``num_components=1`` is the
    single-Gaussian baseline. Gradients are clipped by global norm through Adam's
    ``clipnorm`` (Graves instead clips LSTM derivatives to [-10, 10] and output
    derivatives to [-100, 100]).

    Args:
        num_components: M (int >= 1).
        units: LSTM width (int >= 1).
        num_layers: number of stacked LSTM layers (int >= 1).
        learning_rate: Adam step size (> 0).
        clipnorm: gradient norm bound (> 0).
        seed: weight-initialisation seed.

    Returns:
        Compiled ``keras.Model``.

    Raises:
        ValueError: a non-positive size, learning rate or clipnorm.
    """
    _check_components(num_components)
    for name, value in (("units", units), ("num_layers", num_layers)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if learning_rate <= 0:
        raise ValueError(f"learning_rate must be > 0, got {learning_rate}")
    if clipnorm <= 0:
        raise ValueError(f"clipnorm must be > 0, got {clipnorm}")
    keras.utils.set_random_seed(seed)
    x = inputs = keras.Input((None, 3), name="offsets")
    for i in range(num_layers):
        x = keras.layers.LSTM(units, return_sequences=True, name=f"lstm_{i}")(x)
    outputs = MixtureDensityOutput(num_components, name="mdn")(x)
    model = keras.Model(inputs, outputs, name=f"mdn_m{num_components}")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate, clipnorm=clipnorm), loss=mdn_nll)
    return model


class _TimeBudget(keras.callbacks.Callback):
    def __init__(self, seconds):
        super().__init__()
        self.seconds, self.start = seconds, None

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if time.perf_counter() - self.start >= self.seconds:
            self.model.stop_training = True


def fit_with_budget(model, inputs, targets, seconds: float = 60.0, batch_size: int = 32,
                    max_epochs: int = 10_000, validation_data=None) -> dict:
    """Train whole epochs until ``seconds`` of wall time have passed.

    Args:
        model: compiled model from :func:`build_mdn_model`.
        inputs, targets: float32 ``(N, T, 3)`` arrays (see ``utils.handwriting.make_pairs``).
        seconds: wall-clock budget (> 0); the epoch running when it expires finishes.
        batch_size: sequences per step.
        max_epochs: hard cap on epochs.
        validation_data: optional ``(inputs, targets)`` evaluated each epoch.

    Returns:
        Dict: ``history`` (Keras history dict), ``epochs`` (int), ``seconds`` (float, wall).

    Raises:
        ValueError: non-positive ``seconds``.
    """
    if seconds <= 0:
        raise ValueError(f"seconds must be > 0, got {seconds}")
    t0 = time.perf_counter()
    hist = model.fit(inputs, targets, batch_size=batch_size, epochs=max_epochs, shuffle=True, verbose=0,
                     validation_data=validation_data, callbacks=[_TimeBudget(seconds)])
    return {"history": hist.history, "epochs": len(hist.history["loss"]), "seconds": time.perf_counter() - t0}


def evaluate_nll(model, inputs, targets, batch_size: int = 64) -> float:
    """Mean NLL per point (nats) of ``model`` on ``(N, T, 3)`` pairs."""
    raw = model.predict(inputs, batch_size=batch_size, verbose=0)
    return float(np.mean(ops.convert_to_numpy(mdn_nll(targets, raw))))


def constant_velocity_nll(train_targets, eval_targets) -> float:
    """NLL per point (nats) of a constant-velocity baseline, fitted on train only.

    Predicts offset ``t`` equal to offset ``t-1`` with a full-covariance Gaussian
    residual fitted on training residuals (t >= 2). Offset 0 (the start position,
    an absolute point) and offset 1 (the first velocity, with no previous velocity
    to copy) each get their own Gaussian fitted on the training sequences;
    end-of-stroke is Bernoulli with the training frequency. Same
    targets and units as :func:`mdn_nll` on ``make_pairs`` output.

    Args:
        train_targets, eval_targets: ``(N, T, 3)`` arrays (or lists of ``(T, 3)``), T >= 3.

    Returns:
        Mean NLL per point over all ``eval_targets`` points (float, nats).
    """
    tr = np.stack([np.asarray(o, np.float64) for o in train_targets])
    ev = np.stack([np.asarray(o, np.float64) for o in eval_targets])

    def gauss_fit(x):
        mean = x.mean(axis=0)
        cov = np.cov(x, rowvar=False) + 1e-9 * np.eye(2)
        return mean, cov

    def gauss_nll(x, mean, cov):
        d = x - mean
        sol = np.linalg.solve(cov, d.T).T
        return 0.5 * np.sum(d * sol, axis=-1) + 0.5 * np.log(np.linalg.det(cov)) + _LOG_2PI

    if tr.shape[1] < 3 or ev.shape[1] < 3:
        raise ValueError("sequences must have at least 3 points")
    m_res, c_res = gauss_fit((tr[:, 2:, :2] - tr[:, 1:-1, :2]).reshape(-1, 2))
    m_start, c_start = gauss_fit(tr[:, 0, :2])
    m_first, c_first = gauss_fit(tr[:, 1, :2])
    p_eos = np.clip(tr[..., 2].mean(), 1e-6, 1 - 1e-6)

    nll_start = gauss_nll(ev[:, 0, :2], m_start, c_start) + gauss_nll(ev[:, 1, :2], m_first, c_first)
    nll_rest = gauss_nll((ev[:, 2:, :2] - ev[:, 1:-1, :2]).reshape(-1, 2), m_res, c_res)
    eos = ev[..., 2].ravel()
    nll_eos = -(eos * np.log(p_eos) + (1 - eos) * np.log(1 - p_eos))
    return float((nll_start.sum() + nll_rest.sum() + nll_eos.sum()) / ev[..., 0].size)


def _sample_step(p, rng):
    """Draw one ``(dx, dy, eos)`` from NumPy mixture params of a single step."""
    pi = p["pi"].astype(np.float64)
    k = rng.choice(len(pi), p=pi / pi.sum())
    s1, s2, rho = p["sigma1"][k], p["sigma2"][k], p["rho"][k]
    cov = [[s1 * s1, rho * s1 * s2], [rho * s1 * s2, s2 * s2]]
    dx, dy = rng.multivariate_normal([p["mu1"][k], p["mu2"][k]], cov)
    eos = float(rng.random() < p["e"][0])
    return np.array([dx, dy, eos], dtype=np.float32)


def sample_mdn(model, n_steps: int, bias: float = 0.0, seed: int = 0, prime=None) -> np.ndarray:
    """Generate offsets one step at a time (Graves section 4; biased sampling section 5.4).

    Simple and O(n^2): each step re-runs the whole input sequence (a null row,
    then the prime, then the samples so far) and samples from the last step's
    mixture. Fine for ~100 steps.

    Args:
        model: a model from :func:`build_mdn_model` (trained on ``make_pairs`` inputs).
        n_steps: number of offsets to generate (int >= 1).
        bias: sampling bias b >= 0 (see :func:`mixture_params`).
        seed: NumPy RNG seed; same seed, same model -> same samples.
        prime: optional ``(P, 3)`` offsets (model units) to condition on; the
            output continues after them.

    Returns:
        float32 ``(n_steps, 3)`` sampled ``(dx, dy, end_of_stroke)`` in model units
        (invert the normaliser to get dataset units). Generation does not stop at
        an end-of-stroke.

    Raises:
        ValueError: bad ``n_steps``, ``bias`` or ``prime`` shape.
    """
    if not isinstance(n_steps, (int, np.integer)) or n_steps < 1:
        raise ValueError(f"n_steps must be a positive int, got {n_steps!r}")
    if bias < 0:
        raise ValueError(f"bias must be >= 0, got {bias}")
    seq = [np.zeros(3, np.float32)]
    if prime is not None:
        prime = np.asarray(prime, dtype=np.float32)
        if prime.ndim != 2 or prime.shape[1] != 3:
            raise ValueError(f"prime must have shape (P, 3), got {prime.shape}")
        seq.extend(prime)
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_steps):
        raw = model(np.stack(seq)[None], training=False)[:, -1]
        p = {k: ops.convert_to_numpy(v)[0] for k, v in mixture_params(raw, bias=bias).items()}
        step = _sample_step(p, rng)
        out.append(step)
        seq.append(step)
    return np.stack(out)


def density_grid(model, inputs, step: int, xs, ys, bias: float = 0.0) -> np.ndarray:
    """Predicted density of the offset at ``step`` over a grid (for a Fig. 10-style heat map).

    Args:
        model: a model from :func:`build_mdn_model`.
        inputs: ``(T, 3)`` model inputs for one sequence (``make_pairs`` inputs row).
        step: target index 0 <= step < T; the model sees ``inputs[:step + 1]``.
        xs, ys: 1-D grids of ``dx`` and ``dy`` values (model units).
        bias: sampling bias applied to the mixture.

    Returns:
        float64 ``(len(ys), len(xs))`` density of the next offset (per unit^2).

    Raises:
        ValueError: ``step`` out of range.
    """
    inputs = np.asarray(inputs, dtype=np.float32)
    if not 0 <= step < len(inputs):
        raise ValueError(f"step must be in [0, {len(inputs)}), got {step}")
    raw = model(inputs[None, :step + 1], training=False)[:, -1]
    p = mixture_params(raw, bias=bias)
    gx, gy = np.meshgrid(np.asarray(xs, np.float32), np.asarray(ys, np.float32))
    x1 = ops.convert_to_tensor(gx.reshape(-1, 1))
    x2 = ops.convert_to_tensor(gy.reshape(-1, 1))
    log_mix = ops.logsumexp(p["log_pi"] + _log_bivariate(x1, x2, p), axis=-1)
    return np.exp(ops.convert_to_numpy(log_mix).astype(np.float64)).reshape(gx.shape)
