"""Model builder, bits-per-character metric, one-step generator and stream evaluation."""
from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from utils.benchmark import training_flops_per_char
from utils.evaluation import stream_log_probs, summarize, uniform_log_probs, unigram_model
from utils.generation import CharGenerator
from utils.metrics import BitsPerCharacter
from utils.model import lstm_flops_per_char, state_io_model
from utils.vocab import Vocabulary

VOCAB = Vocabulary.from_text("abcdefgh ij\n:ABC")


def lstm_params(d_in, units):
    return 4 * units * (d_in + units + 1)


@pytest.mark.parametrize("units, num_layers, skip",
                         [(16, 1, False), (16, 2, False), (8, 3, True), (12, 2, True)])
def test_shapes_and_parameter_counts(char_model, units, num_layers, skip):
    v, e = 30, 5
    model = char_model(v, embedding_dim=e, units=units, num_layers=num_layers, skip_connections=skip)
    assert model(np.zeros((3, 7), np.int32)).shape == (3, 7, v)
    expected = v * e + lstm_params(e, units)
    expected += sum(lstm_params(units + (e if skip else 0), units) for _ in range(num_layers - 1))
    expected += (units * (num_layers if skip else 1) + 1) * v
    assert model.count_params() == expected


def test_skip_connections_wired_as_graves(char_model):
    model = char_model(20, embedding_dim=4, units=6, num_layers=3, skip_connections=True)
    emb = model.get_layer("embedding").output
    for i in (2, 3):  # the input reaches every layer above the first
        parents = model.get_layer(f"skip_in_{i}")._inbound_nodes[0].input_tensors
        assert parents[0] is emb and parents[1] is model.get_layer(f"lstm_{i - 1}").output
    outputs = model.get_layer("skip_out")._inbound_nodes[0].input_tensors  # every layer reaches the output
    assert [t for t in outputs] == [model.get_layer(f"lstm_{i}").output for i in (1, 2, 3)]
    assert model.get_layer("logits").input.shape[-1] == 18


@pytest.mark.parametrize("kwargs", [dict(num_layers=0), dict(dropout=1.0), dict(dropout=-0.1)])
def test_builder_rejects_bad_arguments(char_model, kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        char_model(10, **kwargs)


def test_dropout_layers_follow_every_lstm_and_are_off_at_inference(char_model):
    model = char_model(12, units=6, num_layers=2, dropout=0.5, skip_connections=True)
    names = [layer.name for layer in model.layers]
    recurrent = [n for n in names if n.startswith(("lstm", "dropout"))]
    assert recurrent == ["lstm_1", "dropout_1", "lstm_2", "dropout_2"]
    x = np.arange(20).reshape(2, 10) % 12
    np.testing.assert_array_equal(model(x, training=False), model(x, training=False))
    assert np.abs(model(x, training=True) - model(x, training=False)).max() > 1e-4


def test_bpc_metric_is_cross_entropy_in_bits():
    probs = np.array([[[0.5, 0.25, 0.25], [0.125, 0.75, 0.125]]], np.float32)
    y = np.array([[0, 2]])
    metric = BitsPerCharacter()
    metric.update_state(y, np.log(probs))
    assert float(metric.result()) == pytest.approx((1.0 + 3.0) / 2, rel=1e-6)  # -log2(1/2), -log2(1/8)
    weighted = BitsPerCharacter(from_logits=False)
    weighted.update_state(y, probs, sample_weight=np.array([[1.0, 0.0]]))
    assert float(weighted.result()) == pytest.approx(1.0, rel=1e-6)  # only -log2(0.5) counts


@pytest.fixture(scope="module")
def small_model(char_model):
    keras.utils.set_random_seed(0)
    return char_model(VOCAB.size, embedding_dim=8, units=16, num_layers=2, dropout=0.3, skip_connections=True)


def test_one_step_generator_matches_full_model(small_model):
    gen = CharGenerator(small_model, VOCAB)
    for prefix in ("a", "abc de\nAB:", "ij" * 40):
        full = tf.nn.softmax(small_model(VOCAB.encode(prefix)[None], training=False)[0, -1]).numpy()
        np.testing.assert_allclose(gen.next_distribution(prefix), full, atol=1e-5)
        probs, states = gen.read(prefix[0])
        for char in prefix[1:]:  # one character per call, the states carried
            probs, states = gen.read(char, states)
        np.testing.assert_allclose(probs, full, atol=1e-5)


def test_read_carries_state_between_calls(small_model):
    """Reading a prime, then one drawn character per call, equals the full model on the whole text."""
    gen = CharGenerator(small_model, VOCAB)
    text = "abc de\nAB:ij"
    probs, states = gen.read(text[:4])
    assert len(states) == 4 and all(tuple(s.shape) == (1, 16) for s in states)  # (h, c) of two layers
    for i, char in enumerate(text[4:], start=5):
        full = tf.nn.softmax(small_model(VOCAB.encode(text[:i - 1])[None], training=False)[0, -1]).numpy()
        np.testing.assert_allclose(probs, full, atol=1e-5)
        probs, states = gen.read(char, states)
    full = tf.nn.softmax(small_model(VOCAB.encode(text)[None], training=False)[0, -1]).numpy()
    np.testing.assert_allclose(probs, full, atol=1e-5)
    assert probs.shape == (VOCAB.size,) and probs.sum() == pytest.approx(1.0, abs=1e-5)
    # without the states, the same character is read from an empty memory: a different distribution
    assert np.abs(gen.read(text[-1])[0] - probs).max() > 1e-4  # well above the 1e-5 tolerance above


@pytest.mark.parametrize("bad", ["", "ab\u00e9", 7])
def test_read_refuses_text_it_cannot_encode(small_model, bad):
    with pytest.raises(ValueError, match="prime"):
        CharGenerator(small_model, VOCAB).read(bad)


def test_read_does_not_retrace_for_every_length(small_model):
    """One step per character stays one compiled call: a prime and single characters trace at most twice."""
    gen = CharGenerator(small_model, VOCAB)
    probs, states = gen.read("abc de\nAB:")
    for char in "ij abc":
        probs, states = gen.read(char, states)
    gen.read("ab" * 20)
    assert gen._read_compiled.experimental_get_tracing_count() <= 2


def test_carried_state_equals_reading_all_at_once(small_model):
    step = state_io_model(small_model)
    ids = tf.constant(VOCAB.encode("abc de\nAB:ij")[None])
    zeros = [tf.zeros((1, 16))] * 4
    whole, *_ = step([ids, *zeros])
    first, *states = step([ids[:, :5], *zeros])
    second, *_ = step([ids[:, 5:], *states])
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), whole, atol=1e-5)


def test_stream_evaluation_scores_every_character(small_model):
    ids = VOCAB.encode("abc de\nAB:ij " * 40)
    log_p, correct = stream_log_probs(small_model, ids, batch_size=1, chunk_len=37)
    full = tf.nn.log_softmax(small_model(ids[None, :-1], training=False)[0]).numpy()
    np.testing.assert_allclose(log_p, full[np.arange(len(ids) - 1), ids[1:]], atol=1e-5)
    np.testing.assert_array_equal(correct, full.argmax(-1) == ids[1:])
    parallel, _ = stream_log_probs(small_model, ids, batch_size=4, chunk_len=16)
    assert parallel.shape == (len(ids) - 1,)
    # 519 targets in 4 streams of 144 (ceil(519 / 4) = 130, rounded up to whole chunks of 16): stream b
    # scores targets [144 b, 144 (b + 1)) from an empty state at its start
    for start in range(0, len(ids) - 1, 144):
        piece = ids[start:start + 145]
        alone = tf.nn.log_softmax(small_model(piece[None, :-1], training=False)[0]).numpy()
        np.testing.assert_allclose(parallel[start:start + 144], alone[np.arange(len(piece) - 1), piece[1:]],
                                   atol=1e-5)


def bits_per_char(log_p):
    """Reference for the student's function."""
    return float(-np.mean(log_p) / np.log(2.0))


def test_summary_units_and_baselines():
    scores = summarize(np.full(10, -math.log(4.0)), np.array([1, 0] * 5, bool),
                       bits_per_char=bits_per_char)
    assert scores["bpc"] == pytest.approx(2.0) and scores["perplexity"] == pytest.approx(4.0)
    assert scores["nats"] == pytest.approx(math.log(4.0)) and scores["accuracy"] == 0.5
    assert summarize(uniform_log_probs(np.zeros(9, int), 16), bits_per_char=bits_per_char)["bpc"] == \
        pytest.approx(4.0)
    assert math.isnan(summarize(np.zeros(3), bits_per_char=bits_per_char)["accuracy"])
    given = summarize(np.full(4, -1.0), bits_per_char=lambda log_p: 1.0)  # bpc: what the function says
    assert given["bpc"] == 1.0 and given["perplexity"] == 2.0
    assert given["nats"] == pytest.approx(0.693147, abs=1e-6)  # ln 2
    p = unigram_model(np.array([1, 1, 2]), 4)
    assert p.sum() == pytest.approx(1.0) and p[1] == pytest.approx(3 / 7)


@pytest.mark.parametrize("num_layers, skip, lstm_flops, dense_flops", [
    (1, False, 2 * 4 * 32 * (8 + 32), 2 * 32 * 50),                                # by hand
    (2, True, 2 * 4 * 32 * (8 + 32) + 2 * 4 * 32 * (40 + 32), 2 * 64 * 50),       # layer 2 reads 32 + 8
    (3, False, 2 * 4 * 32 * (8 + 32) + 2 * (2 * 4 * 32 * (32 + 32)), 2 * 32 * 50),
])
def test_flops_per_char_counted_by_hand(char_model, num_layers, skip, lstm_flops, dense_flops):
    """Two FLOPs per multiply-add of every kernel; training is 3x the forward pass."""
    model = char_model(50, embedding_dim=8, units=32, num_layers=num_layers, skip_connections=skip)
    assert lstm_flops_per_char(model) == lstm_flops
    assert training_flops_per_char(model) == 3 * (lstm_flops + dense_flops)


def test_dynamic_evaluation_scores_before_learning_and_leaves_model_untouched(small_model):
    from utils.evaluation import dynamic_log_probs

    ids = VOCAB.encode("abc de\nAB:ij " * 60)
    before = [w.copy() for w in small_model.get_weights()]
    static, static_ok = stream_log_probs(small_model, ids, batch_size=2, chunk_len=20)
    zero_lr, zero_ok = dynamic_log_probs(small_model, ids, 0.0, batch_size=2, chunk_len=20)
    np.testing.assert_allclose(zero_lr, static, atol=1e-5)
    np.testing.assert_array_equal(zero_ok, static_ok)
    adapted, _ = dynamic_log_probs(small_model, ids, 1e-2, batch_size=2, chunk_len=20)
    # 779 targets in 2 streams of 400 (20 chunks of 20): each stream's first chunk is scored before any step
    np.testing.assert_allclose(adapted[:20], static[:20], atol=1e-5)
    np.testing.assert_allclose(adapted[400:420], static[400:420], atol=1e-5)
    assert np.abs(adapted[20:40] - static[20:40]).max() > 1e-3, "later chunks see adapted weights"
    assert adapted.mean() > static.mean() + 0.2, "adapting to a repetitive text must help"
    for w0, w1 in zip(before, small_model.get_weights()):
        np.testing.assert_array_equal(w0, w1)
    with pytest.raises(ValueError, match="learning_rate"):
        dynamic_log_probs(small_model, ids, -1.0)
    with pytest.raises(ValueError, match="optimizer"):
        dynamic_log_probs(small_model, ids, 1e-3, optimizer="rmsprop")


def test_generator_update_weights_follows_the_model(char_model):
    keras.utils.set_random_seed(3)
    model = char_model(VOCAB.size, embedding_dim=4, units=8, num_layers=1)
    gen = CharGenerator(model, VOCAB)
    before = gen.next_distribution("abc")
    model.get_layer("logits").set_weights([w + 0.5 for w in model.get_layer("logits").get_weights()])
    np.testing.assert_array_equal(gen.next_distribution("abc"), before)  # a copy, not the model itself
    full = tf.nn.softmax(model(VOCAB.encode("abc")[None], training=False)[0, -1]).numpy()
    np.testing.assert_allclose(gen.update_weights(model).next_distribution("abc"), full, atol=1e-6)


def test_state_io_view_is_derived_from_any_functional_lstm_model():
    """A model defined differently from the notebook's still gets a correct stateful-I/O view."""
    keras.utils.set_random_seed(4)
    ids = keras.Input(shape=(None,), dtype="int32")
    x = keras.layers.Embedding(VOCAB.size, 5, name="emb")(ids)
    x = keras.layers.LSTM(7, return_sequences=True, name="first")(x)
    x = keras.layers.Dense(6, activation="tanh", name="between")(x)
    x = keras.layers.LSTM(9, return_sequences=True, name="second")(x)
    model = keras.Model(ids, keras.layers.Dense(VOCAB.size, name="out")(x))
    step = state_io_model(model, batch_size=2)
    assert [t.shape for t in step.inputs[1:]] == [(2, 7), (2, 7), (2, 9), (2, 9)]
    text = tf.constant(np.stack([VOCAB.encode("abc de\nAB:ij"), VOCAB.encode("ij:BA\ned cba")]))
    whole = model(text, training=False).numpy()
    states, pieces = [tf.zeros((2, 7))] * 2 + [tf.zeros((2, 9))] * 2, []
    for t in range(text.shape[1]):  # one character at a time, state carried
        logits, *states = step([text[:, t:t + 1], *states])
        pieces.append(logits.numpy())
    np.testing.assert_allclose(np.concatenate(pieces, axis=1), whole, atol=1e-5)
    zeros = [tf.zeros((2, 7))] * 2 + [tf.zeros((2, 9))] * 2
    before = step([text, *zeros])[0].numpy()
    model.get_layer("out").set_weights([w + 1 for w in model.get_layer("out").get_weights()])
    np.testing.assert_array_equal(step([text, *zeros])[0].numpy(), before)  # a copy of the weights


def test_views_refuse_models_they_cannot_handle():
    ids = keras.Input(shape=(None,), dtype="int32")
    no_lstm = keras.Model(ids, keras.layers.Embedding(5, 3)(ids))
    with pytest.raises(ValueError, match="no keras.layers.LSTM"):
        state_io_model(no_lstm)
    with pytest.raises(TypeError, match="functional keras.Model"):
        state_io_model("not a model")


def test_notebook_code_is_the_notebooks_own(tmp_path):
    from utils.notebook_code import notebook_parameters, shared_code, tagged_sources

    code = shared_code()
    assert callable(code.build_model) and callable(code.compile_model)
    assert any("layers.LSTM(" in source for source in tagged_sources("shared-code"))
    params = notebook_parameters()
    assert params["NUM_LAYERS"] >= 2 and params["DROPOUT"] > 0, "the default is a stacked LSTM with dropout"
    import nbformat

    empty = tmp_path / "empty.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]), str(empty))
    with pytest.raises(ValueError, match="no code cell tagged 'shared-code'"):
        shared_code(empty)


def test_play_likeness_tells_a_play_from_noise(splits):
    import re

    from utils.generation import WORD_PATTERN, play_likeness

    known = set(re.findall(WORD_PATTERN, splits["train"].text))
    real = splits["valid"].text[5000:5600]  # a real passage of a held-out play
    prime = real[:20]
    scores = play_likeness(real, known, prime=prime)
    assert scores["known_word_fraction"] > 0.9 and scores["speaker_lines"] >= 1 and scores["words"] > 50
    rng = np.random.default_rng(0)
    letters = sorted(set(splits["train"].text))
    noise = prime + "".join(rng.choice(letters, 600))
    assert play_likeness(noise, known, prime=prime)["known_word_fraction"] < 0.5
    assert play_likeness("ROMEO:\nJULIET:\nAy me.", {"Ay", "me"}, prime="ROMEO:\n") == \
        {"words": 3, "known_word_fraction": 2 / 3, "speaker_lines": 1}
    with pytest.raises(ValueError, match="does not start with the prime"):
        play_likeness("abc", known, prime="x")


def test_read_refuses_states_it_did_not_return(small_model):
    gen = CharGenerator(small_model, VOCAB)
    _, states = gen.read("ab")
    with pytest.raises(ValueError, match=r"states must be the list read returned: 4 arrays of shapes "
                                         r"\[\(1, 16\), .*\], got \[\(1, 16\), \(1, 16\)\]"):
        gen.read("c", states[:2])
    with pytest.raises(ValueError, match=r"states must be the list read returned"):
        gen.read("c", [np.zeros((2, 16))] * 4)


@pytest.mark.parametrize("known", ["the cat", ["the"], None])
def test_play_likeness_wants_a_set_of_words(known):
    from utils.generation import play_likeness

    with pytest.raises(TypeError, match=r"known_words must be a set of words .*got " + type(known).__name__):
        play_likeness("the cat", known)
