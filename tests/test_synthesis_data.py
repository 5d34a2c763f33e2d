"""Tests for utils.synthesis: words, cursive renderings as pen offsets, DTW and legibility."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from utils import synthesis as sy

TEXT = """
The quick brown fox jumps over the lazy dog while seven wizards quietly judge boxing matches.
Every morning the young writer walked along the river, carrying paper, pencils and a small
notebook full of letters, numbers and strange drawings. She would stop near the old bridge,
watch the water, listen to birds singing, and write about clouds, forests, mountains, gardens,
kings, queens, castles, horses, sailors and travellers who crossed distant oceans searching for
silver, gold and wisdom. Her brother played music in the kitchen; their mother baked bread,
apples and honey cakes; their father mended fences, chairs, tables, windows and doors. Winter
brought snow, summer brought thunder, autumn brought yellow leaves, spring brought flowers.
People laughed, argued, dreamed, planned journeys, counted money, lost keys, found friends,
painted pictures, built houses, planted trees and told stories by candle light until midnight.
"""


@pytest.fixture(scope="module")
def words():
    return sy.corpus_words(TEXT)


def cumulative(offsets):
    return np.cumsum(offsets[:, :2].astype(np.float64), axis=0)


def naive_dtw(a, b):
    n, m = len(a), len(b)
    d = np.full((n + 1, m + 1), np.inf)
    d[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            cost = np.hypot(*(a[i - 1] - b[j - 1]))
            d[i, j] = cost + min(d[i - 1, j - 1], d[i - 1, j], d[i, j - 1])
    return d[n, m] / (n + m)


# corpus_words, split_words ----------------------------------------------------------------------

def trajectory(offsets):
    return sy._trajectory(np.asarray(offsets, np.float64), 64)


def dtw(a, b):
    return float(sy._dtw_batch(np.asarray(a, float)[None], np.asarray(b, float)[None])[0])


def test_corpus_words_are_sorted_distinct_lowercase_a_to_z():
    text = "The cat's CAT sat; o'er the naïve mat-maker, 42 dogs! Zebra zebras xy"
    assert sy.corpus_words(text) == ["cat", "dogs", "maker", "mat", "sat", "the", "zebra",
                                     "zebras"]
    assert sy.corpus_words(text, min_len=1, max_len=2) == ["er", "o", "s", "xy"]
    assert sy.corpus_words(text, min_len=6, max_len=6) == ["zebras"]


@pytest.mark.parametrize("kwargs", [dict(min_len=0), dict(min_len=5, max_len=4),
                                    dict(max_len=sy.MAX_WORD_LEN + 1), dict(min_len=2.0)])
def test_corpus_words_refuses_bad_lengths(kwargs):
    with pytest.raises(ValueError, match="_len must be an int"):
        sy.corpus_words("some text", **kwargs)


def test_split_is_disjoint_sorted_sized_and_seeded(words):
    train, valid = sy.split_words(words, 10, seed=3)
    assert len(valid) == 10 and len(train) == len(words) - 10
    assert not set(train) & set(valid) and set(train) | set(valid) == set(words)
    assert train == sorted(train) and valid == sorted(valid)
    assert sy.split_words(list(reversed(words)), 10, seed=3) == (train, valid)
    assert sy.split_words(words, 10, seed=4)[1] != valid


@pytest.mark.parametrize("n_valid", [0, 4, 1.0])
def test_split_refuses_n_valid_outside_range(n_valid):
    with pytest.raises(ValueError, match=r"n_valid must be an int in \[1, 3\]"):
        sy.split_words(["ab", "cd", "ef", "gh"], n_valid, seed=0)


# render -----------------------------------------------------------------------------------------

def test_render_gives_float32_offsets_ending_a_stroke():
    for word in ["a", "minimum", "quiet", "abcdefghij"]:
        out = sy.render(word)
        assert out.dtype == np.float32 and out.ndim == 2 and out.shape[1] == 3
        assert out[-1, 2] == 1.0 and set(np.unique(out[:, 2])) <= {0.0, 1.0}


def test_canonical_rendering_is_deterministic_and_augmented_ones_differ():
    np.testing.assert_array_equal(sy.render("hello"), sy.render("hello"))
    rng = np.random.default_rng(0)
    a, b = sy.render("hello", rng), sy.render("hello", rng)
    assert a.shape != b.shape or not np.allclose(a, b)
    assert not np.allclose(cumulative(a)[-1], cumulative(b)[-1])
    np.testing.assert_array_equal(sy.render("hello", np.random.default_rng(5)),
                                  sy.render("hello", np.random.default_rng(5)))


@pytest.mark.parametrize("word", ["cat", "minimum", "house", "quiet", "zebras", "gold", "wxyz"])
def test_about_eight_to_fifteen_points_per_letter(word):
    rng = np.random.default_rng(1)
    for offsets in [sy.render(word), sy.render(word, rng), sy.render(word, rng)]:
        assert 8 <= len(offsets) / len(word) <= 15, (word, len(offsets))


def test_y_points_up_and_starts_at_the_baseline():
    points = cumulative(sy.render("l"))
    assert points[:, 1].max() > 15           # the ascender, about 21 units above the baseline
    assert points[:, 1].min() > -1           # nothing below the baseline
    start = sy.render("mum")[0, :2]           # the lead-in of m starts at x = 0, 5 units up
    np.testing.assert_allclose(start, [0.0, 5.0], atol=1e-5)
    assert cumulative(sy.render("g"))[:, 1].min() < -10     # a descender


def test_i_has_a_pen_lift_for_its_dot_and_cursive_joins_stay_pen_down():
    i = sy.render("i")
    assert i[:, 2].sum() == 2
    body_end = np.flatnonzero(i[:, 2])[0]
    assert (cumulative(i)[body_end + 1:, 1] > 12).all()        # the dot comes after the body
    assert sy.render("mum")[:, 2].sum() == 1                 # joins and humps: one stroke
    assert sy.render("mum", np.random.default_rng(2))[:, 2].sum() == 1
    assert sy.render("lull")[:, 2].sum() == 1
    assert sy.render("tax")[:, 2].sum() >= 3                 # t's cross and x's second stroke


def test_letters_follow_the_word_in_order_and_match_the_rows():
    """Each row's letter position: every letter has rows, in the word's order; augmentation and the
    labels leave the offsets unchanged."""
    for rng in (None, np.random.default_rng(5)):
        offsets, letters = sy.render("mint", rng, letters=True)
        assert letters.shape == (len(offsets),) and letters[0] == 0 and letters[-1] == 3
        assert np.all(np.diff(letters) >= 0) and set(letters) == {0, 1, 2, 3}
    np.testing.assert_array_equal(sy.render("mint", np.random.default_rng(5)), offsets)
    _, letters = sy.render("mint", letters=True)
    lifts = np.flatnonzero(sy.render("mint")[:, 2])
    assert letters[lifts[0]] == 1            # the first pen lift ends the i's dot, in letter 1


@pytest.mark.parametrize("word, message", [
    ("", "1 to 10 characters"), ("abcdefghijk", "1 to 10 characters"),
    ("Hello", r"characters 'H' outside ALPHABET 'abc"), ("o'er", r"characters \"'\" outside"),
    (42, "must be a str"),
])
def test_render_refuses_bad_words(word, message):
    with pytest.raises(ValueError, match=message):
        sy.render(word)


def test_render_refuses_a_seed_as_rng():
    with pytest.raises(ValueError, match="numpy.random.Generator"):
        sy.render("cat", 0)


def test_missing_font_package_gives_the_install_command(monkeypatch):
    monkeypatch.setattr(sy, "_GLYPHS", None)
    monkeypatch.setitem(sys.modules, "HersheyFonts", None)
    with pytest.raises(ModuleNotFoundError, match=r"pip install --no-deps Hershey-Fonts==2\.1\.0"):
        sy.render("cat")


# encode, pad ------------------------------------------------------------------------------------

def test_encode_maps_letters_from_one_and_pads_with_zero():
    out = sy.encode(["abc", "z", "jazz"], length=5)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, [[1, 2, 3, 0, 0], [26, 0, 0, 0, 0], [10, 1, 26, 26, 0]])
    assert sy.encode(["hello"]).shape == (1, sy.MAX_WORD_LEN)


@pytest.mark.parametrize("words, length, message", [
    (["hello"], 4, r"words\[0\]='hello' has 5 letters, more than length=4"),
    (["ok", "no!"], 5, r"words\[1\]='no!' has characters '!' outside ALPHABET"),
    (["ok", ""], 5, r"words\[1\] must have 1 to 10 characters"),
    ("hello", 5, "must be a list of words"),
    (["ok"], 0, "length must be an int >= 1"),
])
def test_encode_refuses_bad_words(words, length, message):
    with pytest.raises(ValueError, match=message):
        sy.encode(words, length)


# trajectory, dtw --------------------------------------------------------------------------------

def test_trajectory_is_centred_unit_height_and_scale_invariant():
    offsets = sy.render("hello", np.random.default_rng(0))
    traj = trajectory(offsets)
    assert traj.shape == (64, 2) and traj.dtype == np.float64
    np.testing.assert_allclose(traj.mean(axis=0), 0.0, atol=1e-12)
    assert np.ptp(traj[:, 1]) == pytest.approx(1.0)
    bigger = offsets.astype(np.float64) * [3.0, 3.0, 1.0]
    np.testing.assert_allclose(trajectory(bigger), traj, atol=1e-9)
    steps = np.hypot(*np.diff(sy._trajectory(offsets, 200), axis=0).T)
    assert steps.max() < 2.5 * np.median(steps)              # even spacing along the path
    assert sy._trajectory(np.zeros((4, 3)), 8).shape == (8, 2)   # a point: no division by 0


def test_dtw_matches_a_naive_reference():
    a = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]])
    b = np.array([[0.0, 0.0], [2.0, 0.0]])
    # path (0,0) (1,0) or (1,1) (2,1): costs 0 + 1 + 0 over n + m = 5
    assert dtw(a, b) == pytest.approx(1.0 / 5)
    assert naive_dtw(a, b) == pytest.approx(1.0 / 5)
    rng = np.random.default_rng(0)
    for n, m in [(1, 1), (1, 4), (5, 3), (7, 7), (12, 9)]:
        a, b = rng.normal(size=(n, 2)), rng.normal(size=(m, 2))
        assert dtw(a, b) == pytest.approx(naive_dtw(a, b), rel=1e-12)


def test_dtw_is_zero_on_itself_and_symmetric():
    a = trajectory(sy.render("hello"))
    b = trajectory(sy.render("world"))
    assert dtw(a, a) == 0.0
    assert dtw(a, b) == pytest.approx(dtw(b, a), rel=1e-12)
    assert dtw(a, b) > 0.01


# nearest_word, legibility -----------------------------------------------------------------------

def test_nearest_word_finds_every_canonical_rendering(words):
    rng = np.random.default_rng(0)
    targets = rng.choice(words, 20, replace=False)
    for target in targets:
        others = [w for w in words if w != target]
        candidates = [str(target)] + [str(w) for w in rng.choice(others, 9, replace=False)]
        rng.shuffle(candidates)
        assert sy._nearest([trajectory(sy.render(target))], [candidates])[0] == target


def test_fresh_renderings_are_legible_and_noise_is_not(words):
    train, valid = sy.split_words(words, 40, seed=0)
    rng = np.random.default_rng(7)
    samples = [sy.render(w, rng) for w in valid]
    table = sy.legibility(samples, valid, train, n_distractors=9, seed=0)
    assert list(table.columns) == ["word", "nearest", "correct"] and len(table) == 40
    assert table["correct"].dtype == bool and list(table["word"]) == valid
    score = table["correct"].mean()
    print(f"legibility of fresh augmented renderings: {score:.3f}")
    assert score >= 0.7
    noise = [np.column_stack([rng.normal(size=(60, 2)), np.zeros(60)]) for _ in valid]
    for x in noise:
        x[-1, 2] = 1.0
    chance = sy.legibility(noise, valid, train, n_distractors=9, seed=0)["correct"].mean()
    print(f"legibility of noise: {chance:.3f}")
    assert chance <= 0.4


def test_legibility_draws_the_same_distractors_for_the_same_seed(words, monkeypatch):
    train, valid = sy.split_words(words, 5, seed=1)
    seen = []
    real = sy._nearest

    def spy(samples, candidates, chunk=128):
        seen.append(candidates)
        return real(samples, candidates, chunk)

    monkeypatch.setattr(sy, "_nearest", spy)
    samples = [sy.render(w) for w in valid]
    for seed in (0, 0, 1):
        sy.legibility(samples, valid, train, n_distractors=4, seed=seed)
    assert seen[0] == seen[1] != seen[2]
    for word, candidates in zip(valid, seen[0]):
        assert word in candidates and len(set(candidates)) == 5
        assert all(abs(len(c) - len(word)) <= 1 for c in candidates)


def test_legibility_refuses_bad_arguments():
    cat = sy.render("cat")
    with pytest.raises(ValueError, match="1 samples and 2 words"):
        sy.legibility([cat], ["cat", "dog"], ["cow", "pig"])
    with pytest.raises(ValueError, match="pool has 2 words other than 'cat', fewer than "
                                         "n_distractors=9"):
        sy.legibility([cat], ["cat"], ["cat", "cow", "pig"])
    with pytest.raises(ValueError, match=r"samples\[0\] must hold finite numbers"):
        sy.legibility([np.full((3, 3), np.nan)], ["cat"], ["cow"], n_distractors=1)
