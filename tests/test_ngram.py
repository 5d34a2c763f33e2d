"""Tests for utils/ngram.py (interpolated modified Kneser-Ney character LM)."""

from collections import Counter

import numpy as np
import pandas as pd
import pytest

from utils.ngram import KneserNeyLM, select_order


# --------------------------------------------------------------------------- helpers
class RefKN:
    """Slow, dictionary-based interpolated KN, straight from the formulas, with given discounts
    (``discounts[m - 1]``: D1, D2, D3+ of order m; the discount estimates are checked by hand below)."""

    def __init__(self, train, order, V, discounts):
        train = [int(x) for x in train]
        self.N, self.V = order, V
        self.counts = {}
        for m in range(1, order + 1):
            if m == order:  # raw counts at the highest order
                c = Counter(tuple(train[i : i + m]) for i in range(len(train) - m + 1))
            else:  # continuation counts: distinct left neighbours
                types = {tuple(train[i : i + m + 1]) for i in range(len(train) - m)}
                c = Counter(t[1:] for t in types)
            self.counts[m] = c
        self.D = {m: list(discounts[m - 1]) for m in self.counts}

    def prob(self, h, w):
        h = tuple(h)[-(self.N - 1) :] if self.N > 1 else ()
        return self._p(len(h) + 1, h, w)

    def _p(self, m, h, w):
        c = self.counts[m]
        D = self.D[m]
        follow = {g[-1]: k for g, k in c.items() if g[:-1] == h}
        total = sum(follow.values())
        lower = 1.0 / self.V if m == 1 else self._p(m - 1, h[1:], w)
        if total == 0:
            return lower
        gamma = sum(D[min(k, 3) - 1] for k in follow.values()) / total
        k = follow.get(w, 0)
        alpha = (k - D[min(k, 3) - 1]) / total if k > 0 else 0.0
        return alpha + gamma * lower


def _english_like(n_sentences, seed):
    """Random English sentences from a small grammar of real words."""
    rng = np.random.default_rng(seed)
    det = ["the", "a", "my", "his", "her", "this", "that", "every"]
    adj = ["noble", "sweet", "gentle", "fair", "bloody", "old", "young", "good", "false", "true"]
    noun = ["king", "lord", "lady", "heart", "crown", "sword", "night", "love", "death", "friend",
            "father", "daughter", "honour", "world", "grave", "fool", "eye", "hand"]
    verb = ["loves", "kills", "sees", "takes", "hath", "keeps", "follows", "fears", "betrays", "knows"]
    adv = ["well", "now", "here", "not", "still", "too"]
    out = []
    for _ in range(n_sentences):
        words = [rng.choice(det)]
        if rng.random() < 0.5:
            words.append(rng.choice(adj))
        words += [rng.choice(noun), rng.choice(verb)]
        if rng.random() < 0.3:
            words.append(rng.choice(adv))
        words += [rng.choice(det), rng.choice(noun)]
        s = " ".join(words)
        out.append(s[0].upper() + s[1:] + rng.choice([".", "!", "?", ";"]) + "\n")
    return "".join(out)


def _encode(text, chars):
    table = {c: i + 1 for i, c in enumerate(chars)}  # 0 = [UNK]
    return np.array([table.get(c, 0) for c in text], dtype=np.int64)


def _bpc(model, ids):
    return float(-model.log_prob(ids).mean() / np.log(2))


# --------------------------------------------------------------------------- normalisation
@pytest.mark.parametrize("order", [1, 2, 3, 5, 8])
def test_next_distribution_sums_to_one(order):
    rng = np.random.default_rng(order)
    V = 12
    train = rng.integers(0, V - 2, size=3000)  # ids V-2, V-1 never seen
    lm = KneserNeyLM(order, V).fit(train)
    contexts = [np.zeros(0, dtype=np.int64), np.array([V - 1]), np.full(order + 2, V - 2)]
    contexts += [rng.integers(0, V, size=L) for L in range(0, order + 3) for _ in range(5)]
    contexts += [train[s : s + L] for s in (0, 17, 2990) for L in range(order + 1)]
    for ctx in contexts:
        p = lm.next_distribution(ctx)
        assert p.shape == (V,) and p.dtype == np.float64
        assert abs(p.sum() - 1.0) < 1e-9
        assert np.all(p > 0)


@pytest.mark.parametrize("train_len", [1, 2, 3, 5])
def test_tiny_training_text_still_normalised(train_len):
    lm = KneserNeyLM(6, 4).fit(np.arange(train_len) % 4)
    for L in range(7):
        p = lm.next_distribution(np.ones(L, dtype=np.int64))
        assert abs(p.sum() - 1.0) < 1e-9 and np.all(p > 0)


# --------------------------------------------------------------------------- correctness
@pytest.mark.parametrize("order", [1, 2, 3, 4, 6])
def test_log_prob_matches_next_distribution(order):
    rng = np.random.default_rng(10 + order)
    V = 7
    train = rng.integers(0, V, size=2000) % (V - 1)  # id V-1 unseen
    test = rng.integers(0, V, size=300)
    lm = KneserNeyLM(order, V).fit(train)
    lp = lm.log_prob(test)
    assert lp.shape == (test.size - 1,) and lp.dtype == np.float64
    for i in range(test.size - 1):
        ctx = test[max(0, i + 1 - (order - 1)) : i + 1] if order > 1 else test[:0]
        assert np.exp(lp[i]) == pytest.approx(lm.next_distribution(ctx)[test[i + 1]], rel=1e-12)


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_matches_bruteforce_reference(order):
    rng = np.random.default_rng(100 + order)
    V = 5
    # a skewed source so that counts of 1, 2, 3, 4+ all occur
    train = rng.choice(V - 1, size=400, p=[0.5, 0.25, 0.15, 0.1])
    lm = KneserNeyLM(order, V).fit(train)
    ref = RefKN(train, order, V, lm.discounts_)
    contexts = [()] + [tuple(rng.integers(0, V, size=L)) for L in range(1, order + 1) for _ in range(8)]
    contexts += [tuple(train[5 : 5 + L]) for L in range(order)]
    for h in contexts:
        got = lm.next_distribution(np.array(h, dtype=np.int64))
        want = np.array([ref.prob(h, w) for w in range(V)])
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-15)


def test_unigram_hand_computed():
    # counts: id1 x1, id2 x2, id3 x3, id4 x4, id5 x1, id0 unseen (V = 6, T = 11)
    data = np.array([1, 2, 2, 3, 3, 3, 4, 4, 4, 4, 5])
    # counts-of-counts n1=2, n2=1, n3=1, n4=1 -> Y = 2/4 = 0.5,
    # D1 = 1 - 2*.5*1/2 = 0.5, D2 = 2 - 3*.5*1/1 = 0.5, D3+ = 3 - 4*.5*1/1 = 1.0
    # gamma = (0.5*2 + 0.5*1 + 1.0*2) / 11 = 3.5/11, shared uniformly: 3.5/66 each
    want = np.array([3.5, 6.5, 12.5, 15.5, 21.5, 6.5]) / 66.0
    lm = KneserNeyLM(1, 6).fit(data)
    np.testing.assert_allclose(lm.discounts_[0], [0.5, 0.5, 1.0])
    np.testing.assert_allclose(lm.next_distribution(np.array([], dtype=np.int64)), want, rtol=1e-12)
    np.testing.assert_allclose(lm.next_distribution(np.array([3, 2])), want, rtol=1e-12)  # context ignored
    np.testing.assert_allclose(lm.log_prob(data), np.log(want[data[1:]]), rtol=1e-12)


def test_discounts_clipped_and_fallen_back_by_hand():
    # unigram counts: id 1 once, id 2 twice, ids 3..12 three times: n1 = 1, n2 = 1, n3 = 10, n4 = 0
    # Y = 1/3, D1 = 1 - 2/3 = 1/3, D2 = 2 - 3 * 10/3 = -8 -> clipped to 1e-3, D3+: no n4 -> fallback 1.5
    data = np.array([1, 2, 2] + [i for i in range(3, 13) for _ in range(3)])
    lm = KneserNeyLM(1, 13).fit(data)
    np.testing.assert_allclose(lm.discounts_[0], [1 / 3, 1e-3, 1.5])


def test_bigram_hand_computed():
    # "abab" with a=0, b=1, V=3 (id 2 unseen). Bigram counts: ab:2, ba:1 (raw).
    # Order 2 discounts: n1=1, n2=1 -> Y=1/3, D1=1/3, D2, D3+ fall back to 1.0, 1.5.
    # Unigram continuation counts: a:1 (after b), b:1 (after a) -> n1=2, n2=0 -> fallback D1=0.5;
    #   p1(a) = p1(b) = 0.5/2 + (2*0.5/2)/3 = 1/4 + 1/6 = 5/12, p1(c) = 1/6.
    # Context "a": c(a)=2, ab seen twice: alpha(b) = (2-1)/2, gamma = 1/2
    #   -> p(b|a) = 1/2 + 1/2*5/12 = 17/24, p(a|a) = 5/24, p(c|a) = 1/12.
    lm = KneserNeyLM(2, 3).fit(np.array([0, 1, 0, 1]))
    p1 = np.array([5, 5, 2]) / 12
    np.testing.assert_allclose(lm.next_distribution(np.array([], dtype=np.int64)), p1)
    np.testing.assert_allclose(lm.next_distribution(np.array([0])), np.array([5, 17, 2]) / 24)
    # unseen context (id 2) -> full weight on the lower order
    np.testing.assert_allclose(lm.next_distribution(np.array([2])), p1)


def test_unseen_context_backs_off_to_lower_order():
    rng = np.random.default_rng(3)
    V = 9
    train = rng.integers(0, 6, size=5000)
    lm = KneserNeyLM(4, V).fit(train)
    # context (7, 8, x): 7 and 8 never seen -> same as context (x,) ... and (8,) -> unigram
    for x in range(6):
        np.testing.assert_allclose(
            lm.next_distribution(np.array([7, 8, x])), lm.next_distribution(np.array([x]))
        )
    np.testing.assert_allclose(lm.next_distribution(np.array([8])), lm.unigram_)


def test_repetitive_pattern_is_predicted():
    text = "abc" * 200
    ids = np.array([ord(c) - ord("a") for c in text])
    lm = KneserNeyLM(3, 5).fit(ids)
    test = np.array([ord(c) - ord("a") for c in "abcabcabcabc"])
    probs = np.exp(lm.log_prob(test))
    assert np.all(probs[1:] > 0.9)  # from the second target on, the full context is available
    assert lm.next_distribution(np.array([0, 1]))[2] > 0.9
    assert lm.next_distribution(np.array([0, 1]))[4] > 0  # unseen id


def test_unseen_ids_get_positive_probability():
    train = np.array([1, 2, 3, 1, 2, 3, 1, 2, 4] * 50)
    lm = KneserNeyLM(5, 8).fit(train)
    test = np.array([0, 1, 2, 7, 0, 5, 6, 1, 2, 3, 0])
    lp = lm.log_prob(test)
    assert np.all(np.isfinite(lp)) and np.all(lp < 0)
    assert np.all(lm.unigram_ > 0) and lm.unigram_[0] < lm.unigram_[1]


def test_int32_int64_and_lists_agree():
    rng = np.random.default_rng(5)
    train = rng.integers(0, 10, size=1000)
    test = rng.integers(0, 10, size=100)
    a = KneserNeyLM(4, 10).fit(train).log_prob(test)
    b = KneserNeyLM(4, 10).fit(train.astype(np.int32)).log_prob(test.astype(np.int32))
    c = KneserNeyLM(4, 10).fit(train.tolist()).log_prob(test.tolist())
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)


def test_log_prob_short_inputs():
    lm = KneserNeyLM(3, 4).fit(np.array([0, 1, 2, 3] * 10))
    out = lm.log_prob(np.array([2]))
    assert out.shape == (0,) and out.dtype == np.float64
    assert lm.log_prob(np.array([2, 3])).shape == (1,)


def test_fit_returns_self_and_refit_replaces_counts():
    lm = KneserNeyLM(2, 3)
    assert lm.fit(np.array([0, 1] * 20)) is lm
    assert lm.next_distribution(np.array([0]))[1] > 0.9
    lm.fit(np.array([0, 2] * 20))
    p = lm.next_distribution(np.array([0]))
    assert p[2] > 0.9 and p[1] < 0.1


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "args, exc, word",
    [
        ((0, 10), ValueError, "order"),
        ((-2, 10), ValueError, "order"),
        ((3, 0), ValueError, "vocab_size"),
        ((2.0, 10), TypeError, "order"),
        ((3, "10"), TypeError, "vocab_size"),
        ((True, 10), TypeError, "order"),
        ((10, 100), ValueError, "vocab_size**order"),
        ((9, 200), ValueError, "vocab_size**order"),
    ],
)
def test_constructor_errors(args, exc, word):
    with pytest.raises(exc, match=word.replace("*", r"\*")):
        KneserNeyLM(*args)


def test_max_orders_allowed():
    KneserNeyLM(9, 100)  # 100**9 = 1e18 < 2**63
    lm = KneserNeyLM(63, 2).fit(np.array([1] * 70 + [0, 1]))  # largest key 2**63 - 1
    p = lm.next_distribution(np.ones(62, dtype=np.int64))
    assert p[1] > 0.8 and abs(p.sum() - 1) < 1e-9
    with pytest.raises(ValueError, match="order"):
        KneserNeyLM(64, 2)


def test_input_errors():
    lm = KneserNeyLM(3, 5)
    with pytest.raises(RuntimeError, match="fit"):
        lm.log_prob(np.array([0, 1, 2]))
    with pytest.raises(RuntimeError, match="fit"):
        lm.next_distribution(np.array([0]))
    with pytest.raises(ValueError, match="empty"):
        lm.fit(np.array([], dtype=np.int64))
    with pytest.raises(ValueError, match="1-D"):
        lm.fit(np.zeros((3, 4), dtype=np.int64))
    with pytest.raises(ValueError, match="range|lie in"):
        lm.fit(np.array([0, 1, 5]))
    with pytest.raises(ValueError, match="range|lie in"):
        lm.fit(np.array([0, -1, 2]))
    with pytest.raises(TypeError, match="integer"):
        lm.fit(np.array([0.0, 1.0]))
    lm.fit(np.array([0, 1, 2, 3, 4] * 5))
    with pytest.raises(ValueError, match="empty"):
        lm.log_prob(np.array([], dtype=np.int64))
    with pytest.raises(ValueError, match="1-D"):
        lm.log_prob(np.array(3))
    with pytest.raises(ValueError, match="range|lie in"):
        lm.log_prob(np.array([0, 7]))
    with pytest.raises(ValueError, match="range|lie in"):
        lm.next_distribution(np.array([9]))
    with pytest.raises(ValueError, match="1-D"):
        lm.next_distribution(np.zeros((1, 2), dtype=np.int64))


# --------------------------------------------------------------------------- realistic data
def test_markov_source_reaches_true_entropy_and_select_order():
    """On a 2nd-order Markov source, order 3 should get close to the true entropy rate."""
    rng = np.random.default_rng(7)
    V = 6
    trans = rng.dirichlet(np.full(V, 0.3), size=(V, V))  # P(x_t | x_{t-2}, x_{t-1})
    cdf = trans.cumsum(-1)
    T = 120_000
    x = np.zeros(T, dtype=np.int64)
    u = rng.random(T)
    for t in range(2, T):  # data generation only (not the code under test)
        x[t] = min(np.searchsorted(cdf[x[t - 2], x[t - 1]], u[t]), V - 1)
    train, valid = x[:100_000], x[100_000:]
    true_bpc = -np.mean(np.log2(trans[valid[:-2], valid[1:-1], valid[2:]]))
    best, table = select_order(train, valid, V, orders=range(1, 6))
    assert isinstance(table, pd.DataFrame)
    assert list(table.columns) == ["order", "valid_bpc", "fit_s"]
    assert table["order"].tolist() == [1, 2, 3, 4, 5]
    assert np.all(table["fit_s"] >= 0)
    bpc = dict(zip(table["order"], table["valid_bpc"]))
    assert best.order >= 3
    assert bpc[3] < bpc[2] < bpc[1]
    assert bpc[best.order] == table["valid_bpc"].min()
    assert abs(bpc[3] - true_bpc) < 0.03, (bpc[3], true_bpc)
    assert bpc[5] < true_bpc + 0.1  # higher orders overfit only mildly thanks to smoothing


def test_english_like_text():
    train_text = _english_like(6000, seed=0)
    valid_text = _english_like(600, seed=1) + "Zounds, a quixotic jester!\n"  # some unseen chars
    chars = sorted(set(train_text))
    V = len(chars) + 1
    train, valid = _encode(train_text, chars), _encode(valid_text, chars)
    assert (valid == 0).any()  # [UNK] occurs in validation
    bpc = {}
    for order in (1, 2, 3, 5, 7):
        lm = KneserNeyLM(order, V).fit(train)
        lp = lm.log_prob(valid)
        assert np.all(np.isfinite(lp))
        bpc[order] = float(-lp.mean() / np.log(2))
    # unigram bpc ~ the character entropy of the text (about 4 bits for English letters)
    assert 3.5 < bpc[1] < np.log2(V)
    assert bpc[7] < bpc[5] < bpc[3] < bpc[2] < bpc[1]
    assert bpc[7] < 1.6  # words and the grammar are learned
    # a real sentence built from known words is far more likely than its scrambled letters
    lm = KneserNeyLM(5, V).fit(train)
    good = _encode("The noble king loves the fair lady.\n", chars)
    bad = _encode(" .ehTl kignnlboe lseovt  ehfari dya\n", chars)
    assert lm.log_prob(good).sum() > lm.log_prob(bad).sum() + 20


# --------------------------------------------------------------------------- predict
@pytest.mark.parametrize("order", [1, 2, 3, 5, 8])
@pytest.mark.parametrize("dense_max", [None, 0])  # 0 forces the sparse scatter path at every order
def test_predict_matches_log_prob_and_next_distribution(order, dense_max, monkeypatch):
    rng = np.random.default_rng(200 + order)
    V = 7
    train = rng.choice(V - 1, size=3000, p=[0.3, 0.25, 0.2, 0.1, 0.1, 0.05])  # id V-1 unseen
    test = np.concatenate([rng.integers(0, V, size=150), train[100:250]])  # unseen ids and contexts
    lm = KneserNeyLM(order, V).fit(train)
    if dense_max is not None:
        monkeypatch.setattr(KneserNeyLM, "_DENSE_MAX_ENTRIES", dense_max)
        lm._dense.clear()
    lp, am = lm.predict(test)
    assert lp.shape == am.shape == (test.size - 1,)
    assert lp.dtype == np.float64 and am.dtype == np.int64
    np.testing.assert_allclose(lp, lm.log_prob(test), rtol=0, atol=1e-12)
    for i in range(test.size - 1):
        ctx = test[max(0, i + 1 - (order - 1)) : i + 1] if order > 1 else test[:0]
        assert am[i] == np.argmax(lm.next_distribution(ctx)), i
    for chunk in (1, 7, 64):  # chunk boundaries inside the short-context start and beyond
        lp2, am2 = lm.predict(test, chunk_size=chunk)
        np.testing.assert_array_equal(lp2, lp)
        np.testing.assert_array_equal(am2, am)


def test_predict_ties_go_to_lowest_id():
    lm = KneserNeyLM(2, 5).fit(np.array([3, 1, 3, 2]))  # after 3: ids 1 and 2 once each
    _, am = lm.predict(np.array([3, 0]))
    p = lm.next_distribution(np.array([3]))
    assert p[1] == p[2] == p.max() and am[0] == 1


def test_predict_deterministic_pattern_accuracy():
    pattern = np.array([0, 0, 1] * 300)  # "aab": after "a" either id comes, order 3 is needed
    test = np.array([1] + [0, 0, 1] * 20)
    _, am3 = KneserNeyLM(3, 4).fit(pattern).predict(test)
    assert np.mean(am3 == test[1:]) == 1.0
    _, am2 = KneserNeyLM(2, 4).fit(pattern).predict(test)
    assert np.mean(am2 == test[1:]) < 0.9


def test_predict_short_inputs_and_errors():
    lm = KneserNeyLM(3, 5)
    with pytest.raises(RuntimeError, match="fit"):
        lm.predict(np.array([0, 1, 2]))
    lm.fit(np.array([0, 1, 2, 3, 4] * 5))
    lp, am = lm.predict(np.array([2]))
    assert lp.shape == am.shape == (0,) and lp.dtype == np.float64 and am.dtype == np.int64
    with pytest.raises(ValueError, match="empty"):
        lm.predict(np.array([], dtype=np.int64))
    with pytest.raises(ValueError, match="1-D"):
        lm.predict(np.zeros((2, 3), dtype=np.int64))
    with pytest.raises(ValueError, match="range|lie in"):
        lm.predict(np.array([0, 7]))
    with pytest.raises(ValueError, match="range|lie in"):
        lm.predict(np.array([-1, 2]))
    with pytest.raises(TypeError, match="integer"):
        lm.predict(np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="chunk_size"):
        lm.predict(np.array([0, 1]), chunk_size=0)
    with pytest.raises(TypeError, match="chunk_size"):
        lm.predict(np.array([0, 1]), chunk_size=2.5)


def test_a_huge_order_is_refused_at_once():
    with pytest.raises(ValueError, match="does not fit the int64"):
        KneserNeyLM(2**31 - 1, 5)  # computing 5 ** (2**31 - 1) would take hours
    with pytest.raises(ValueError, match=r"order must be an int >= 1 and at most 2147483647"):
        KneserNeyLM(2**31, 1)
