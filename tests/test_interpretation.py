"""Tests for utils/interpretation.py: text features and cell correlations give known
answers, also on the cells of a NumPy LSTM."""

import warnings

import numpy as np
import pandas as pd
import pytest
from reference_solutions import lstm_step  # tests/ is on sys.path (pytest prepend mode)

from utils.interpretation import correlate_cells, text_features
from utils.lstm_numpy import lstm_forward


def test_text_features_known_text():
    text = "ROMEO:\nHi, you\n"
    df = text_features(text)
    assert len(df) == len(text)
    assert list(df["char"]) == list(text)
    assert list(df["position_in_line"]) == [0, 1, 2, 3, 4, 5, 6, 0, 1, 2, 3, 4, 5, 6, 7]
    assert list(df["line_end_near"]) == [6, 5, 4, 3, 2, 1, 0, 7, 6, 5, 4, 3, 2, 1, 0]
    assert list(df["after_newline"]) == [1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]
    assert list(df["in_speaker_name"]) == [1] * 6 + [0] * 9
    assert list(df["is_space"]) == [0] * 10 + [1] + [0] * 4
    assert list(df["is_newline"]) == [0] * 6 + [1] + [0] * 7 + [1]
    assert list(df["is_vowel"]) == [0, 1, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0]
    assert list(df["position_in_word"]) == [0, 1, 2, 3, 4, -1, -1, 0, 1, -1, -1, 0, 1, 2, -1]


def test_text_features_speaker_lines():
    text = "FIRST CITIZEN:\nSpeak: now.\nKing Lear:\nKING HENRY VI:\nAy."
    df = text_features(text)
    lines = text.split("\n")
    starts = np.cumsum([0] + [len(line) + 1 for line in lines[:-1]])
    expected = np.zeros(len(text), int)
    for start, line in zip(starts, lines):
        if line in ("FIRST CITIZEN:", "KING HENRY VI:"):
            expected[start:start + len(line)] = 1
    np.testing.assert_array_equal(df["in_speaker_name"], expected)
    # unterminated last line "Ay.": the count reaches 0 on its last character
    assert list(df["line_end_near"].iloc[-3:]) == [2, 1, 0]


def test_correlate_cells_known_answer():
    rng = np.random.default_rng(8)
    feats = pd.DataFrame({
        "a": rng.normal(size=50),
        "b": rng.integers(0, 2, size=50),
        "constant": np.ones(50),
        "char": ["x"] * 50,                      # non-numeric: ignored
    })
    acts = rng.normal(size=(50, 6))
    acts[:, 4] = 3 * feats["a"] + 1              # cell 4 == feature a  -> r = +1
    acts[:, 2] = -feats["b"]                     # cell 2 == -feature b -> r = -1
    acts[:, 5] = 0.7                             # constant cell -> r = 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")           # no NaN / divide warnings
        table = correlate_cells(acts, feats, top=3)
    assert list(table.columns) == ["feature", "cell", "r"]
    assert set(table["feature"]) == {"a", "b"}   # constant feature dropped
    assert not table["r"].isna().any()
    a_rows = table[table["feature"] == "a"]
    b_rows = table[table["feature"] == "b"]
    assert len(a_rows) == len(b_rows) == 3
    assert a_rows.iloc[0]["cell"] == 4 and a_rows.iloc[0]["r"] == pytest.approx(1.0)
    assert b_rows.iloc[0]["cell"] == 2 and b_rows.iloc[0]["r"] == pytest.approx(-1.0)
    assert (np.diff(np.abs(a_rows["r"].to_numpy())) <= 1e-12).all()
    # the constant cell has r = 0 and therefore ranks last
    full = correlate_cells(acts, feats, top=6)
    row = full[(full["feature"] == "a") & (full["cell"] == 5)]
    assert row["r"].item() == 0.0 and row.index[0] == full[full["feature"] == "a"].index[-1]


def test_correlate_cells_on_lstm_cells_and_text():
    text = "ROMEO:\nBut soft, what light.\nJULIET:\nAy me.\n"
    feats = text_features(text)
    rng = np.random.default_rng(9)
    x = rng.normal(size=(1, len(text), 3))                      # (B, T, D)
    kernel = 0.5 * rng.normal(size=(3, 16))                      # (D, 4H), H = 4 cells
    recurrent = 0.5 * rng.normal(size=(4, 16))                   # (H, 4H)
    bias = 0.5 * rng.normal(size=(16,))                          # (4H,)
    _, c = lstm_forward(x, kernel, recurrent, bias, lstm_step)
    table = correlate_cells(c[0], feats, top=2)
    assert len(table) == 2 * (feats.shape[1] - 1)      # every numeric feature varies here
    for feature, rows in table.groupby("feature", sort=False):   # against NumPy's Pearson correlation
        r = np.array([np.corrcoef(feats[feature], c[0][:, cell])[0, 1] for cell in range(4)])
        assert list(rows["cell"]) == list(np.argsort(-np.abs(r), kind="stable")[:2])
        np.testing.assert_allclose(rows["r"], r[rows["cell"]], atol=1e-12)
    with pytest.raises(ValueError, match="rows"):
        correlate_cells(c[0, :-1], feats)
