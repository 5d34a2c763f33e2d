"""Tests for utils.mdn: mixture parameters, NLL against NumPy, sampling, training."""
from __future__ import annotations

import numpy as np
import pytest
from keras import ops
from scipy.stats import multivariate_normal

from utils import handwriting as hw
from utils import mdn


def _raw(rng, B, T, M, rho_hat=None, log_sigma=None):
    raw = rng.normal(size=(B, T, 1 + 6 * M)).astype(np.float32)
    if rho_hat is not None:
        raw[..., 1 + 5 * M:] = rho_hat
    if log_sigma is not None:
        raw[..., 1 + 3 * M:1 + 5 * M] = log_sigma
    return raw


def _numpy_nll(y, raw, eps=1e-6):
    """Direct mixture density with scipy, float64."""
    M = (raw.shape[-1] - 1) // 6
    out = np.zeros(y.shape[:2])
    for b in range(y.shape[0]):
        for t in range(y.shape[1]):
            r = raw[b, t].astype(np.float64)
            e_hat, pi_hat = r[0], r[1:1 + M]
            mu1, mu2, s1, s2, rh = (r[1 + i * M:1 + (i + 1) * M] for i in range(1, 6))
            pi = np.exp(pi_hat - pi_hat.max())
            pi /= pi.sum()
            s1 = np.exp(np.clip(s1, mdn.LOG_SIGMA_MIN, mdn.LOG_SIGMA_MAX))
            s2 = np.exp(np.clip(s2, mdn.LOG_SIGMA_MIN, mdn.LOG_SIGMA_MAX))
            rho = np.clip(np.tanh(rh), -(1 - eps), 1 - eps)
            c12 = rho * s1 * s2
            cov = [[[s1[j] ** 2, c12[j]], [c12[j], s2[j] ** 2]] for j in range(M)]
            logs = [np.log(pi[j]) + multivariate_normal([mu1[j], mu2[j]], cov[j], allow_singular=True).logpdf(
                y[b, t, :2]) for j in range(M)]
            e = 1 / (1 + np.exp(-e_hat))
            bern = np.log(e) if y[b, t, 2] else np.log1p(-e)
            out[b, t] = -(np.logaddexp.reduce(logs) + bern)
    return out


@pytest.mark.parametrize("M", [1, 3])
def test_nll_matches_numpy(M):
    rng = np.random.default_rng(0)
    raw = _raw(rng, 2, 4, M)
    y = rng.normal(size=(2, 4, 3)).astype(np.float32)
    y[..., 2] = rng.random((2, 4)) < 0.3
    got = ops.convert_to_numpy(mdn.mdn_nll(y, raw))
    assert got.shape == (2, 4)
    np.testing.assert_allclose(got, _numpy_nll(y, raw), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("rho_hat", [6.0, -6.0, 20.0])
def test_nll_rho_near_one_and_tiny_sigma_is_finite_and_correct(rho_hat):
    rng = np.random.default_rng(1)
    raw = _raw(rng, 1, 3, 2, rho_hat=rho_hat, log_sigma=-6.0)   # sigma ~ 2.5e-3, |rho| ~ 1 - 1e-5 .. 1 - 1e-6
    M = 2
    y = np.zeros((1, 3, 3), np.float32)
    y[0, :, 0] = raw[0, :, 1 + M] + 1e-3                         # near component 0's mean
    y[0, :, 1] = raw[0, :, 1 + 2 * M] + np.sign(rho_hat) * 1e-3
    got = ops.convert_to_numpy(mdn.mdn_nll(y, raw))
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, _numpy_nll(y, raw), rtol=2e-3, atol=2e-3)


def test_nll_extreme_inputs_are_finite():
    rng = np.random.default_rng(2)
    raw = _raw(rng, 2, 3, 4) * 50.0                              # sigmas e^-50..e^50, rho = +-1, huge logits
    y = rng.normal(size=(2, 3, 3)).astype(np.float32) * 100.0
    y[..., 2] = 1.0
    assert np.all(np.isfinite(ops.convert_to_numpy(mdn.mdn_nll(y, raw))))


def test_mixture_params_weights_and_bias():
    rng = np.random.default_rng(3)
    raw = _raw(rng, 2, 5, 4)
    p0 = {k: ops.convert_to_numpy(v) for k, v in mdn.mixture_params(raw).items()}
    p2 = {k: ops.convert_to_numpy(v) for k, v in mdn.mixture_params(raw, bias=2.0).items()}
    np.testing.assert_allclose(p0["pi"].sum(-1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(p2["pi"].sum(-1), 1.0, rtol=1e-5)
    assert np.all(p0["sigma1"] > 0) and np.all(np.abs(p0["rho"]) < 1)
    assert np.all((p0["e"] > 0) & (p0["e"] < 1))
    np.testing.assert_allclose(p2["sigma1"], p0["sigma1"] * np.exp(-2.0), rtol=1e-5)
    assert np.all(p2["pi"].max(-1) >= p0["pi"].max(-1) - 1e-6)   # bias sharpens the weights
    with pytest.raises(ValueError, match="bias"):
        mdn.mixture_params(raw, bias=-1.0)
    with pytest.raises(ValueError, match="raw"):
        mdn.mixture_params(np.zeros((2, 8), np.float32))


def test_layer_and_model_shapes():
    with pytest.raises(ValueError, match="num_components"):
        mdn.MixtureDensityOutput(0)
    model = mdn.build_mdn_model(num_components=3, units=8)
    assert model.output_shape == (None, None, 19)
    # one bound on the norm of all gradients together, not a bound per variable
    assert model.optimizer.global_clipnorm == 1.0 and model.optimizer.clipnorm is None
    for bad in (0, -1.0, True, "1"):
        with pytest.raises(ValueError, match="clipnorm"):
            mdn.build_mdn_model(num_components=1, units=4, clipnorm=bad)
    out = model(np.zeros((2, 7, 3), np.float32))
    assert tuple(out.shape) == (2, 7, 19)


@pytest.fixture(scope="module")
def toy():
    """Tiny training set: noisy straight lines with random slopes (normalised-ish units)."""
    rng = np.random.default_rng(0)
    T = 20
    d = rng.normal(size=(32, 1, 2)) * 0.5
    y = np.concatenate([np.repeat(d, T, axis=1) + 0.05 * rng.normal(size=(32, T, 2)), np.zeros((32, T, 1))],
                       -1)
    y[:, -1, 2] = 1
    y = y.astype(np.float32)
    x = np.zeros_like(y)
    x[:, 1:] = y[:, :-1]
    return x, y


def test_training_smoke_reduces_loss(toy):
    x, y = toy
    model = mdn.build_mdn_model(num_components=3, units=16, learning_rate=1e-2, decay_steps=30)
    before = mdn.point_nll(model, x, y).mean()
    model.fit(x, y, batch_size=16, epochs=15, verbose=0)
    after = mdn.point_nll(model, x, y).mean()
    assert model.optimizer.learning_rate.numpy() < 1e-6           # the cosine decay reached 0
    assert after < before - 0.5
    with pytest.raises(ValueError, match="decay_steps"):
        mdn.build_mdn_model(decay_steps=0)


def test_point_nll_mean_is_keras_loss(toy):
    x, y = toy
    model = mdn.build_mdn_model(num_components=2, units=8)
    per_point = mdn.point_nll(model, x, y)
    assert per_point.shape == y.shape[:2]
    assert per_point.mean() == pytest.approx(model.evaluate(x, y, verbose=0, batch_size=len(x)), rel=1e-5)


def sample_categorical(logits, temperature, rng):
    """Reference for the student's sample_next_char."""
    scaled = np.asarray(logits, np.float64) / temperature
    p = np.exp(scaled - scaled.max())
    return int(rng.choice(len(p), p=p / p.sum()))


def test_sampling_shapes_seed_and_bias(toy):
    x, _ = toy
    model = mdn.build_mdn_model(num_components=3, units=8, seed=1)
    s = mdn.sample_mdn(model, 5, sample_categorical=sample_categorical, seed=0)
    assert s.shape == (5, 3) and s.dtype == np.float32 and set(np.unique(s[:, 2])) <= {0.0, 1.0}
    np.testing.assert_array_equal(s, mdn.sample_mdn(model, 5, sample_categorical=sample_categorical, seed=0))
    assert mdn.sample_mdn(model, 4, sample_categorical=sample_categorical, seed=0,
                          num_samples=6).shape == (6, 4, 3)
    primed = mdn.sample_mdn(model, 4, sample_categorical=sample_categorical, seed=0, prime=x[0, 1:6])
    assert primed.shape == (4, 3)
    with pytest.raises(ValueError, match="prime"):
        mdn.sample_mdn(model, 4, sample_categorical=sample_categorical, prime=np.zeros((3, 2)))
    with pytest.raises(ValueError, match="num_samples"):
        mdn.sample_mdn(model, 4, sample_categorical=sample_categorical, num_samples=0)
    var0, var3 = (mdn.sample_mdn(model, 40, sample_categorical=sample_categorical, bias=b, seed=3,
                                 num_samples=8)[..., :2].var() for b in (0.0, 3.0))
    assert var3 < 0.5 * var0


def test_stateful_sampler_matches_the_full_sequence_model(toy):
    """With a huge bias (sigma ~ e^-10) each sample is, to 1e-3, the mean of one component of
    the full model run on [start row, prime, samples so far]: the carried state is right."""
    x, _ = toy
    model = mdn.build_mdn_model(num_components=3, units=8, seed=2)
    prime = x[0, 1:6]
    out = mdn.sample_mdn(model, 10, sample_categorical=sample_categorical, bias=30.0, seed=0, prime=prime)
    seq = np.concatenate([hw.START_ROW[None], prime, out[:-1]])
    params = mdn.mixture_params(model(seq[None]), bias=30.0)
    p = {k: ops.convert_to_numpy(v)[0, len(prime):] for k, v in params.items()}
    dist = np.maximum(np.abs(out[:, :1] - p["mu1"]), np.abs(out[:, 1:2] - p["mu2"]))   # (10, M)
    assert dist.min(axis=1).max() < 1e-3


def test_sampler_draws_the_component_with_the_given_function(toy):
    """Each row's component comes from sample_categorical(unbiased pi logits (M,), 1 / (1 + bias), rng)."""
    x, _ = toy
    model = mdn.build_mdn_model(num_components=3, units=8, seed=2)
    calls = []

    def always_last(logits, temperature, rng):
        calls.append((np.asarray(logits).shape, temperature))
        return 2

    out = mdn.sample_mdn(model, 6, sample_categorical=always_last, bias=30.0, seed=0, num_samples=2)
    assert calls == [((3,), 1 / 31)] * 12
    seq = np.concatenate([np.repeat(hw.START_ROW[None, None], 2, axis=0), out[:, :-1]], axis=1)
    p = {k: ops.convert_to_numpy(v) for k, v in mdn.mixture_params(model(seq), bias=30.0).items()}
    np.testing.assert_allclose(out[..., 0], p["mu1"][..., 2], atol=1e-3)  # component 2, sigma ~ e^-10
    np.testing.assert_allclose(out[..., 1], p["mu2"][..., 2], atol=1e-3)
    with pytest.raises(ValueError, match=r"outside \[0, 3\)"):
        mdn.sample_mdn(model, 2, sample_categorical=lambda logits, t, rng: 3)


def test_next_position_density_integrates_to_the_number_of_steps():
    model = mdn.build_mdn_model(num_components=2, units=8)
    inputs = np.zeros((4, 3), np.float32)
    positions = np.array([[0, 0], [1, 0], [2, 1], [3, 1]], np.float64)
    xs = np.linspace(-30, 35, 261)
    ys = np.linspace(-30, 30, 241)
    scale, shift = np.array([2.0, 1.5]), np.array([0.5, -0.2])
    dens = mdn.next_position_density(model, inputs, positions, xs, ys, scale, shift)
    cell = (xs[1] - xs[0]) * (ys[1] - ys[0])
    assert dens.shape == (241, 261) and np.all(dens >= 0)
    assert abs(dens.sum() * cell - 4) < 0.1
    one = mdn.next_position_density(model, inputs, positions, xs, ys, scale, shift, steps=[2])
    assert abs(one.sum() * cell - 1) < 0.05
    blurred = mdn.next_position_density(model, inputs, positions, xs, ys, scale, shift, steps=[2], blur=2.0)
    assert abs(blurred.sum() * cell - 1) < 0.05 and blurred.max() < one.max()   # same mass, spread wider
    with pytest.raises(ValueError, match="blur"):
        mdn.next_position_density(model, inputs, positions, xs, ys, scale, shift, blur=-1.0)
    with pytest.raises(ValueError, match="positions"):
        mdn.next_position_density(model, inputs, positions[:3], xs, ys, scale, shift)


def test_constant_velocity_baseline(toy):
    _, y = toy
    nll = mdn.constant_velocity_point_nll(y[:24], y[24:])
    assert nll.shape == (8, 20) and np.all(np.isfinite(nll))
    noisy = y[24:].copy()
    noisy[..., :2] += np.random.default_rng(0).normal(size=noisy[..., :2].shape)
    assert mdn.constant_velocity_point_nll(y[:24], noisy).mean() > nll.mean() + 1
    with pytest.raises(ValueError, match="3 points"):
        mdn.constant_velocity_point_nll(y[:, :2], y[:, :2])
    two_strokes = y[24:].copy()
    two_strokes[:, 9, 2] = 1                                  # a pen lift the training data never shows
    with pytest.raises(ValueError, match="pen-up jump"):
        mdn.constant_velocity_point_nll(y[:24], two_strokes)


def test_constant_velocity_models_pen_up_jumps_separately():
    """Two strokes per sequence: the jump after the pen lift is scored by the start Gaussian,
    so a line made of exactly-constant-velocity strokes costs little except at the starts."""
    rng = np.random.default_rng(0)
    seqs = []
    for _ in range(40):
        parts = []
        for _ in range(2):
            v = rng.normal(size=2)
            stroke = np.zeros((10, 3))
            stroke[0, :2] = rng.normal(size=2) * 10           # jump
            stroke[1:, :2] = v + 1e-3 * rng.normal(size=(9, 2))
            stroke[-1, 2] = 1
            parts.append(stroke)
        seqs.append(np.concatenate(parts))
    y = np.stack(seqs).astype(np.float32)
    y[:, 0, :2] += 100.0                                      # t = 0 comes from elsewhere: its own Gaussian
    nll = mdn.constant_velocity_point_nll(y[:30], y[30:])
    starts = hw.stroke_starts(y[30:])
    second = np.roll(starts, 1, axis=1)
    rest = ~(starts | second)
    assert nll[rest].mean() < -5 and nll[starts].mean() > 3
    assert nll[:, 0].mean() < 8.5  # its own Gaussian: ~7.5 nats; one shared with the jumps: ~9.1


def _argmax(logits, temperature, rng):
    return int(np.argmax(logits))


@pytest.mark.parametrize("bias", [float("nan"), float("inf"), "1"])
def test_bias_must_be_a_finite_number(bias):
    model = mdn.build_mdn_model(2, 4)
    with pytest.raises(ValueError, match="bias must be a finite number >= 0"):
        mdn.sample_mdn(model, 3, sample_categorical=_argmax, bias=bias)
    with pytest.raises(ValueError, match="bias must be a finite number >= 0"):
        mdn.mixture_params(np.zeros((1, 13), np.float32), bias=bias)


def test_targets_of_the_wrong_shape_are_refused_by_name():
    model = mdn.build_mdn_model(2, 4)
    x = np.zeros((2, 5, 3), np.float32)
    with pytest.raises(ValueError, match=r"targets must have shape \(N, T, 3\).*got \(2, 5, 2\)"):
        mdn.point_nll(model, x, np.zeros((2, 5, 2)))
    with pytest.raises(ValueError, match=r"targets \(2, 6, 3\) and inputs \(2, 5, 3\) must have the same"):
        mdn.point_nll(model, x, np.zeros((2, 6, 3)))
    with pytest.raises(ValueError, match=r"y_true must have shape \(B, T, 3\)"):
        mdn.mdn_nll(np.zeros((2, 5, 2)), np.zeros((2, 5, 13)))
    with pytest.raises(ValueError, match=r"train_targets must have shape \(N, T, 3\)"):
        mdn.constant_velocity_point_nll([], [np.zeros((4, 3))])


def test_build_and_sample_refuse_nan_and_huge_lengths():
    model = mdn.build_mdn_model(2, 4)
    with pytest.raises(ValueError, match="learning_rate must be a finite number > 0, got nan"):
        mdn.build_mdn_model(2, 4, learning_rate=float("nan"))
    with pytest.raises(ValueError, match=r"n_steps must be an int >= 1 and at most 2147483647"):
        mdn.sample_mdn(model, 2**31, sample_categorical=_argmax)
    with pytest.raises(ValueError, match=r"prime must hold finite numbers, got -inf"):
        mdn.sample_mdn(model, 2, sample_categorical=_argmax, prime=np.full((2, 3), -np.inf))
