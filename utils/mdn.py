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

import numpy as np

from . import environment  # noqa: F401  (quiet TensorFlow before it is imported)
from .handwriting import POINT_KINDS, START_ROW, point_kinds
import keras
from scipy.stats import multivariate_normal
from keras import ops

from .checks import check_int

#: Bounds on the raw log standard deviation: keeps the squared z-scores finite in
#: float32 even for a near-degenerate component (sigma >= e^-10 ~ 4.5e-5 units).
LOG_SIGMA_MIN, LOG_SIGMA_MAX = -10.0, 10.0
_LOG_2PI = math.log(2.0 * math.pi)


def _check_components(num_components):
    check_int(num_components, "num_components")


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


def build_mdn_model(num_components: int = 20, units: int = 64, num_layers: int = 1,
                    learning_rate: float = 5e-3, decay_steps: int | None = None, clipnorm: float = 1.0,
                    seed: int = 0) -> keras.Model:
    """Stacked LSTM + mixture density output, compiled with :func:`mdn_nll`.

    Input ``(B, T, 3)`` offsets -> LSTM x ``num_layers`` (``units`` each) ->
    :class:`MixtureDensityOutput` ``(B, T, 1 + 6M)``. ``num_components=1`` is the
    single-Gaussian baseline. Gradients are clipped by their *global* norm (over all
    variables together) through Adam's ``global_clipnorm``, as in the character model (Graves instead clips LSTM derivatives to [-10, 10] and output
    derivatives to [-100, 100]).

    Args:
        num_components: M (int >= 1).
        units: LSTM width (int >= 1).
        num_layers: number of stacked LSTM layers (int >= 1).
        learning_rate: Adam step size (> 0); the peak rate when ``decay_steps`` is set.
        decay_steps: if given (int >= 1), the rate follows a cosine decay to 0 over
            that many optimizer steps (set it to the total number of training steps),
            which removes most of the end-of-training noise in the validation NLL.
        clipnorm: bound on the global gradient norm (a number > 0).
        seed: weight-initialisation seed.

    Returns:
        Compiled ``keras.Model``.

    Raises:
        ValueError: a non-positive size, learning rate, decay_steps or clipnorm.
    """
    _check_components(num_components)
    check_int(units, "units")
    check_int(num_layers, "num_layers")
    if learning_rate <= 0:
        raise ValueError(f"learning_rate must be > 0, got {learning_rate}")
    if decay_steps is not None:
        check_int(decay_steps, "decay_steps", or_none=True)
    if isinstance(clipnorm, bool) or not isinstance(clipnorm, (int, float, np.floating)) or not clipnorm > 0:
        raise ValueError(f"clipnorm must be a number > 0, got {clipnorm!r}")
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
    """NLL of every target point under ``model`` (nats), for breakdowns by point type.

    Args:
        model: a model from :func:`build_mdn_model`.
        inputs, targets: float32 ``(N, T, 3)`` pairs (see ``utils.handwriting.make_pairs``).
        batch_size: sequences per forward pass.

    Returns:
        float64 ``(N, T)`` array; its mean is the validation loss Keras reports.
    """
    raw = model.predict(inputs, batch_size=batch_size, verbose=0)
    return ops.convert_to_numpy(mdn_nll(targets, raw)).astype(np.float64)


def constant_velocity_point_nll(train_targets, eval_targets) -> np.ndarray:
    """Per-point NLL (nats) of a constant-velocity baseline fitted on training data only.

    Four kinds of point, told apart by the ``end_of_stroke`` flags
    (:func:`utils.handwriting.point_kinds`), each with its own Gaussian fitted
    on the training points of that kind (full covariance):

    * t = 0, the first point of a sequence (an offset from the origin);
    * the first point of every later stroke: the pen-up jump;
    * a stroke's second point (no previous velocity within the stroke);
    * every other point: offset ``t`` is predicted to equal offset ``t - 1``, and
      the Gaussian is fitted on the residuals.

    End-of-stroke is Bernoulli with the training frequency. Same targets and units
    as :func:`mdn_nll` on ``make_pairs`` output, so the numbers are comparable.

    Args:
        train_targets, eval_targets: ``(N, T, 3)`` arrays (or lists of equal-length ``(T, 3)``), T >= 3.

    Returns:
        float64 ``(N_eval, T)`` NLL per point.

    Raises:
        ValueError: sequences shorter than 3 points, or a kind of point in
            ``eval_targets`` with fewer than 2 training examples.
    """
    tr = np.stack([np.asarray(o, np.float64) for o in train_targets])
    ev = np.stack([np.asarray(o, np.float64) for o in eval_targets])
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


def _lstm_layers(model):
    layers = [layer for layer in model.layers if isinstance(layer, keras.layers.LSTM)]
    if not layers:
        raise ValueError(f"model {model.name!r} has no LSTM layer")
    return layers, model.get_layer("mdn")


def _draw(p, components, rng):
    """One ``(dx, dy, eos)`` per row from NumPy mixture params ``(S, M)`` / ``(S, 1)`` and the
    chosen component of each row, ``components`` int ``(S,)``."""
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
    """Generate offsets one step at a time, carrying LSTM state (Graves section 4, 5.4).

    The model reads the start row (:data:`utils.handwriting.START_ROW`, as in training),
    then ``prime`` if given, then each sampled offset. ``num_samples`` samples run as one batch.

    Args:
        model: a model from :func:`build_mdn_model` (trained on ``make_pairs`` inputs).
        n_steps: number of offsets to generate (int >= 1).
        sample_categorical: ``sample_categorical(logits, temperature, rng) -> int``: draws the
            mixture component of each row from the unbiased mixture logits (float64 ``(M,)``) at
            temperature ``1 / (1 + bias)``, with ``rng`` a :class:`numpy.random.Generator`.
        bias: sampling bias b >= 0: the mixture weights' temperature and ``sigma = exp(sigma_hat - b)``
            (:func:`mixture_params`); 0 samples the trained distribution.
        seed: NumPy RNG seed; same seed, same model, same ``sample_categorical`` -> same samples.
        prime: optional ``(P, 3)`` offsets (model units) to condition on; the output continues after them.
        num_samples: independent samples drawn together (int >= 1).

    Returns:
        float32 ``(n_steps, 3)`` sampled ``(dx, dy, end_of_stroke)`` in model units
        (``(num_samples, n_steps, 3)`` when ``num_samples > 1``); invert the normaliser for
        dataset units. Generation does not stop at an end-of-stroke.

    Raises:
        ValueError: bad ``n_steps``, ``num_samples``, ``bias`` or ``prime`` shape, or a component
            id outside ``[0, M)`` from ``sample_categorical``.
    """
    check_int(n_steps, "n_steps")
    check_int(num_samples, "num_samples")
    if bias < 0:
        raise ValueError(f"bias must be >= 0, got {bias}")
    feed = START_ROW[None]
    if prime is not None:
        prime = np.asarray(prime, dtype=np.float32)
        if prime.ndim != 2 or prime.shape[1] != 3:
            raise ValueError(f"prime must have shape (P, 3), got {prime.shape}")
        feed = np.concatenate([feed, prime])
    lstms, head = _lstm_layers(model)
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
        out[:, t] = _draw(p, components, rng)
        raw = step(ops.convert_to_tensor(out[:, t]))
    return out[0] if num_samples == 1 else out


def next_position_density(model, inputs, positions, xs, ys, scale, shift, bias: float = 0.0,
                          steps=None, blur: float = 0.0) -> np.ndarray:
    """Summed predicted density of the next pen position over a whole trajectory (Graves Fig. 10).

    One forward pass gives the mixture for every step ``t``; its density over the
    next *offset* is moved to absolute coordinates around ``positions[t]``
    (dataset units: ``offset = scale * model_offset + shift``) and the densities of
    all chosen steps are added on the grid. A component much narrower than a grid
    cell would fall between grid points; ``blur`` convolves each step's density with
    an isotropic Gaussian of that standard deviation (dataset units, e.g. the grid
    spacing), which adds ``blur**2`` to each component's variances and keeps its
    covariance: the picture is the density seen at grid resolution.

    Args:
        model: a model from :func:`build_mdn_model`.
        inputs: ``(T, 3)`` model inputs for one sequence (a ``make_pairs`` inputs row).
        positions: ``(T, 2)`` pen position *before* each target step, dataset units
            (the origin, then the absolute points of the sequence).
        xs, ys: 1-D grids of absolute x and y, dataset units.
        scale, shift: ``(2,)`` normaliser ``std`` and ``mean`` of the offsets.
        bias: sampling bias applied to the mixture.
        steps: optional indices of the steps to include (default: all ``T``).
        blur: display smoothing (>= 0, dataset units); 0 gives the exact density.

    Returns:
        float64 ``(len(ys), len(xs))`` grid: the sum over steps of each step's
        density (per unit^2), so it integrates to about the number of steps whose
        mass lies inside the grid.

    Raises:
        ValueError: mismatched ``inputs`` / ``positions`` lengths, or ``blur < 0``.
    """
    if blur < 0:
        raise ValueError(f"blur must be >= 0, got {blur}")
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
        log_mix = ops.logsumexp(pt["log_pi"] + _log_bivariate(ops.convert_to_tensor(u1), ops.convert_to_tensor(u2), pt),
                                axis=-1)
        total += np.exp(ops.convert_to_numpy(log_mix).astype(np.float64)).reshape(gx.shape) / (scale[0] * scale[1])
    return total
