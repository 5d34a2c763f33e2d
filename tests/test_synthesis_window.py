"""Tests for section 14's soft window and synthesis network, run from the notebook's own cells."""
from __future__ import annotations

import numpy as np
import pytest
from keras import ops

from utils.mdn import mdn_nll
from utils.notebook_code import shared_code

V, K, H = 5, 3, 8   # vocabulary (with padding), window Gaussians, LSTM units


@pytest.fixture(scope="module")
def nb():
    return shared_code()


def numpy_window(h, kappa_prev, chars, kernel, bias):
    """Graves' eqs. 46-51 written directly: w (B, V), kappa (B, K), phi (B, U)."""
    alpha_hat, beta_hat, kappa_hat = np.split(h @ kernel + bias, 3, axis=-1)
    alpha, beta, kappa = np.exp(alpha_hat), np.exp(beta_hat), kappa_prev + np.exp(kappa_hat)
    u = np.arange(chars.shape[1])
    phi = np.zeros(chars.shape[:2])
    for k in range(alpha.shape[1]):
        phi += alpha[:, k:k + 1] * np.exp(-beta[:, k:k + 1] * (kappa[:, k:k + 1] - u) ** 2)
    w = np.einsum("bu,buv->bv", phi, chars)
    return w, kappa, phi


def window_inputs(rng, batch=4, length=6):
    chars = np.eye(V, dtype=np.float32)[rng.integers(0, V, (batch, length))]
    h = rng.uniform(-1, 1, (batch, H)).astype(np.float32)
    kappa = rng.uniform(0, 3, (batch, K)).astype(np.float32)
    return h, kappa, chars


def test_numpy_and_keras_window_steps_agree(nb):
    rng = np.random.default_rng(0)
    window = nb.SoftWindow(K, pace=0.1)
    h, kappa, chars = window_inputs(rng)
    window.build((None, H))
    kernel = rng.normal(0, 0.5, (H, 3 * K)).astype(np.float32)
    bias = rng.normal(0, 0.5, 3 * K).astype(np.float32)
    window.params.set_weights([kernel, bias])
    got = [ops.convert_to_numpy(t) for t in window(h, kappa, chars)]
    for name, a, b in zip(("w", "kappa", "phi"), got, numpy_window(h, kappa, chars, kernel, bias)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=name)


def test_the_window_starts_at_the_pace_it_is_given(nb):
    window = nb.SoftWindow(K, pace=0.08)
    h, kappa, chars = window_inputs(np.random.default_rng(1))
    _, new_kappa, _ = window(np.zeros_like(h), np.zeros_like(kappa), chars)
    np.testing.assert_allclose(ops.convert_to_numpy(new_kappa), 0.08, rtol=1e-5)


def test_phi_is_a_proper_weighting(nb):
    """Non-negative and finite, peaked on the character under kappa, and w holds exactly phi's
    weight of each character."""
    rng = np.random.default_rng(2)
    window = nb.SoftWindow(1, pace=0.1)
    h, _, chars = window_inputs(rng, length=7)
    window.build((None, H))
    window.params.set_weights([np.zeros((H, 3), np.float32), np.array([0.0, np.log(50.0), 0.0],
                                                                      np.float32)])
    for centre in (0.0, 2.0, 5.0):   # kappa = centre + exp(0) = centre + 1
        w, _, phi = (ops.convert_to_numpy(t) for t in window(h, np.full((4, 1), centre, np.float32),
                                                             chars))
        assert np.all(phi >= 0) and np.all(np.isfinite(phi))
        assert np.all(phi.argmax(axis=1) == centre + 1)
        np.testing.assert_allclose(phi.max(axis=1), 1.0, rtol=1e-5)
        np.testing.assert_allclose(w, np.einsum("bu,buv->bv", phi, chars), rtol=1e-6)
        np.testing.assert_allclose(w.sum(axis=1), phi.sum(axis=1), rtol=1e-5)
    w, _, phi = window(h, np.full((4, 1), 1e6, np.float32), chars)   # far past the text
    assert np.all(ops.convert_to_numpy(phi) == 0) and np.all(ops.convert_to_numpy(w) == 0)


def test_kappa_never_decreases(nb):
    """Over 60 steps of a random, untrained network fed wild pen offsets."""
    rng = np.random.default_rng(3)
    rnn = nb.SynthesisRNN(H, K, V, pace=0.1)
    rnn.build((None, None, 3))
    for w in rnn.weights:   # large weights: the window's steps span many orders of magnitude
        w.assign(rng.normal(0, 2.0, w.shape).astype(np.float32))
    chars = ops.one_hot(rng.integers(0, V, (4, 6)), V)
    state, kappas = rnn.initial_state(4), []
    for _ in range(60):
        x = rng.normal(0, 100, (4, 3)).astype(np.float32)
        state, _ = rnn.step(x, state, chars)
        kappas.append(ops.convert_to_numpy(state[4]))
    steps = np.diff(np.stack(kappas), axis=0)
    assert np.all(steps >= 0), steps.min()


def test_model_shapes_and_parameter_count(nb):
    model, window_model = nb.build_synthesis_model(V, H, K, 2, pace=0.1)
    strokes = np.zeros((3, 11, 3), np.float32)
    chars = np.ones((3, 4), np.int32)
    assert model.predict([strokes, chars], verbose=0).shape == (3, 11, 1 + 6 * 2)
    assert window_model.predict([strokes, chars], verbose=0).shape == (3, 11, 4)
    lstm1 = 4 * H * (3 + V + H + 1)
    window = (H + 1) * 3 * K
    lstm2 = 4 * H * (3 + H + V + H + 1)
    head = (2 * H + 1) * (1 + 6 * 2)
    assert model.count_params() == lstm1 + window + lstm2 + head


@pytest.mark.parametrize("scale", [0.0, 1e-6, 1e4])
def test_loss_and_gradients_are_finite_on_extreme_inputs(nb, scale):
    import tensorflow as tf

    rng = np.random.default_rng(4)
    model, _ = nb.build_synthesis_model(V, H, K, 2, pace=0.1)
    strokes = (rng.normal(0, 1, (2, 9, 3)) * scale).astype(np.float32)
    strokes[..., 2] = rng.integers(0, 2, (2, 9))
    chars = np.zeros((2, 1), np.int32)          # a single padding character
    with tf.GradientTape() as tape:
        loss = ops.mean(mdn_nll(strokes, model([strokes, chars])))
    grads = tape.gradient(loss, model.trainable_weights)
    assert np.isfinite(float(loss))
    assert all(np.all(np.isfinite(ops.convert_to_numpy(g))) for g in grads)


@pytest.mark.parametrize("make, match", [
    (lambda nb: nb.SoftWindow(0, pace=0.1), "num_gaussians"),
    (lambda nb: nb.SoftWindow(2, pace=0.0), "pace"),
    (lambda nb: nb.SoftWindow(2, pace=float("nan")), "pace"),
    (lambda nb: nb.SynthesisRNN(8, 2, 1, pace=0.1), "vocab_size"),
    (lambda nb: nb.SynthesisRNN(2.5, 2, 5, pace=0.1), "units"),
])
def test_bad_sizes_are_refused_by_name(nb, make, match):
    with pytest.raises(ValueError, match=match):
        make(nb)


def greedy(logits, temperature, rng):
    return int(np.argmax(logits))


def test_write_stops_at_the_first_pen_lift_after_the_window_passes_the_word(nb):
    """A window that races (5 letters per point) passes every word at once: each sample ends at its
    first pen lift; one that crawls never passes, and every sample runs to the step limit."""
    from utils.synthesis import ALPHABET, MAX_WORD_LEN

    words = ["ab", "hi", "z"]
    for pace, finished in ((5.0, True), (1e-4, False)):
        model, _ = nb.build_synthesis_model(len(ALPHABET) + 1, H, K, 2, pace=pace)
        head = model.get_layer("mdn").dense
        kernel, bias = head.get_weights()
        bias[0] = 0.0                                  # pen lifts with probability 1/2
        head.set_weights([kernel * 0, bias])
        rows, phis = nb.write(model, words, sample_categorical=greedy, seed=1, max_points_per_letter=4)
        assert len(rows) == len(phis) == 3
        for r, p in zip(rows, phis):
            assert r.dtype == np.float32 and r.shape[1] == 3 and np.all(np.isfinite(r))
            assert p.shape == (len(r), MAX_WORD_LEN + 1)
            if finished:
                assert r[-1, 2] == 1 and r[:-1, 2].sum() == 0 and len(r) < 8
            else:
                assert len(r) == 4 * 2


def test_training_and_sampling_paths_agree_and_are_causal(nb):
    """``call`` (one tf.scan over the sequence) and ``step`` (one point at a time, as ``write`` runs
    it) give the same mixture outputs and window weights; output t never depends on later points."""
    rng = np.random.default_rng(6)
    model, window_model = nb.build_synthesis_model(V, H, K, 2, pace=0.3)
    strokes = rng.normal(0, 1, (2, 7, 3)).astype(np.float32)
    chars = rng.integers(0, V, (2, 4)).astype(np.int32)
    raw = ops.convert_to_numpy(model([strokes, chars]))
    phi = ops.convert_to_numpy(window_model([strokes, chars]))
    rnn, head = model.get_layer("rnn"), model.get_layer("mdn")
    state, onehot = rnn.initial_state(2), ops.one_hot(chars, V)
    for t in range(7):
        state, phi_t = rnn.step(strokes[:, t], state, onehot)
        raw_t = head(ops.concatenate([state[0], state[2]], axis=-1))
        np.testing.assert_allclose(ops.convert_to_numpy(raw_t), raw[:, t], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(ops.convert_to_numpy(phi_t), phi[:, t], rtol=1e-4, atol=1e-6)
    later = strokes.copy()
    later[:, 4:] = rng.normal(0, 5, later[:, 4:].shape)
    np.testing.assert_allclose(ops.convert_to_numpy(model([later, chars]))[:, :4], raw[:, :4],
                               rtol=1e-5, atol=1e-6)


def test_window_peaks_count_a_window_past_the_text_as_past_the_last_slot(nb):
    phi = np.array([[0.1, 0.7, 0.2], [0.0, 0.0, 0.0], [0.5, 0.1, 0.0]])
    np.testing.assert_array_equal(nb.window_peaks(phi), [1, 3, 0])
    letters = [np.array([1, 1, 0])]
    assert nb.alignment([phi], letters) == pytest.approx(2 / 3)
    assert nb.alignment([phi], [np.array([0, 1, 1])], ahead=1) == pytest.approx(1 / 3)


def test_write_samples_components_at_temperature_one_over_one_plus_bias(nb):
    from utils.synthesis import ALPHABET

    model, _ = nb.build_synthesis_model(len(ALPHABET) + 1, H, K, 3, pace=0.1)
    calls = []

    def recording(logits, temperature, rng):
        calls.append((np.asarray(logits).shape, temperature))
        return 0

    nb.write(model, ["ab"], sample_categorical=recording, bias=2.0, max_points_per_letter=2)
    assert calls and all(shape == (3,) and t == pytest.approx(1 / 3) for shape, t in calls)
