"""Tests for utils/memory_task.py (data, models, gradient norms, and a tiny
smoke run of the experiment; the full experiment is not run here)."""

import numpy as np
import pytest

from utils.memory_task import (
    KINDS,
    build_memory_model,
    compile_memory_model,
    count_trainable,
    input_gradient_norms,
    make_memory_task,
    memory_vocab_size,
    run_memory_experiment,
)


def test_make_memory_task_labels_and_ranges():
    x, y = make_memory_task(200, 7, n_symbols=3, seed=1, n_noise=5)
    assert x.shape == (200, 7) and y.shape == (200,)
    assert x.dtype == np.int32 and y.dtype == np.int32
    np.testing.assert_array_equal(y, x[:, 0])
    assert set(np.unique(y)) == {0, 1, 2}                      # signal ids
    assert x[:, 1:].min() >= 3 and x[:, 1:].max() <= 7         # noise ids 3..7
    assert memory_vocab_size(3, 5) == 8


def test_make_memory_task_reproducible():
    a = make_memory_task(50, 10, seed=3)
    b = make_memory_task(50, 10, seed=3)
    c = make_memory_task(50, 10, seed=4)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_make_memory_task_length_one_and_bad_args():
    x, y = make_memory_task(5, 1)
    assert x.shape == (5, 1)
    np.testing.assert_array_equal(x[:, 0], y)
    for kwargs in ({"n_samples": 0, "length": 5}, {"n_samples": 5, "length": 0},
                   {"n_samples": 5, "length": 5, "n_symbols": 1}):
        with pytest.raises(ValueError):
            make_memory_task(**kwargs)


def test_build_memory_model_kinds_and_params():
    vocab = memory_vocab_size(4, 4)
    counts = {}
    for kind in KINDS:
        model = build_memory_model(kind, 8, vocab, 4)
        out = model(np.zeros((3, 6), np.int32))
        assert tuple(out.shape) == (3, 4)
        assert [layer.name for layer in model.layers] == ["ids", "embedding", kind, "logits"]
        counts[kind] = count_trainable(model)
    # parameter counts matched to within 10 %
    assert max(counts.values()) / min(counts.values()) < 1.1
    with pytest.raises(ValueError, match="kind"):
        build_memory_model("transformer", 8, vocab, 4)


def test_remember_bias_initialisation():
    lstm = build_memory_model("lstm", 5, 8, 4, remember_bias=4.0)
    bias = np.asarray(lstm.get_layer("lstm").cell.bias)
    np.testing.assert_allclose(bias[:5], -4.0)    # input gate
    np.testing.assert_allclose(bias[5:10], 4.0)   # forget gate
    np.testing.assert_allclose(bias[10:], 0.0)
    default = build_memory_model("lstm", 5, 8, 4, remember_bias=None)
    np.testing.assert_allclose(np.asarray(default.get_layer("lstm").cell.bias)[5:10], 1.0)
    gru = build_memory_model("gru", 5, 8, 4, remember_bias=4.0, match_params=False)
    gbias = np.asarray(gru.get_layer("gru").cell.bias)
    np.testing.assert_allclose(gbias[0, :5], 4.0)  # update gate z
    np.testing.assert_allclose(gbias[0, 5:], 0.0)
    np.testing.assert_allclose(gbias[1], 0.0)


def test_input_gradient_norms_shape_and_vanishing():
    import keras

    x, y = make_memory_task(64, 60, seed=0)
    keras.utils.set_random_seed(0)
    rnn = build_memory_model("rnn", 8, memory_vocab_size(), 4)
    keras.utils.set_random_seed(0)
    lstm = build_memory_model("lstm", 8, memory_vocab_size(), 4)
    g_rnn = input_gradient_norms(rnn, x, y)
    g_lstm = input_gradient_norms(lstm, x, y)
    assert g_rnn.shape == g_lstm.shape == (60,)
    assert np.all(np.isfinite(g_rnn)) and np.all(g_rnn >= 0)
    # relative gradient reaching the first step: much smaller in the RNN
    assert g_rnn[0] / g_rnn[-1] < 0.1 * (g_lstm[0] / g_lstm[-1])
    with pytest.raises(ValueError):
        input_gradient_norms(rnn, x, y[:-1])


def test_run_memory_experiment_smoke():
    df = run_memory_experiment(lengths=(4,), kinds=("rnn", "lstm", "gru"), n_train=64,
                               n_test=32, epochs=1, batch_size=32)
    assert list(df.columns) == ["kind", "length", "accuracy", "n_params", "seconds"]
    assert list(df["kind"]) == ["rnn", "lstm", "gru"] and list(df["length"]) == [4, 4, 4]
    assert df["accuracy"].between(0, 1).all() and (df["seconds"] > 0).all()
    # by hand, 8 inputs and 4 outputs: LSTM 6 units 4*6*(8+6+1) + 7*4; RNN 14 units; GRU 7 units
    assert list(df["n_params"]) == [14 * (8 + 14 + 1) + 15 * 4, 4 * 6 * (8 + 6 + 1) + 7 * 4,
                                    3 * 7 * (8 + 7 + 2) + 8 * 4]


def test_memory_models_clip_the_global_gradient_norm():
    model = compile_memory_model(build_memory_model("lstm", 4, 8, 4))
    assert model.optimizer.global_clipnorm == 1.0 and model.optimizer.clipnorm is None
