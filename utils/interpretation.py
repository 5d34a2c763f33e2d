"""Which LSTM memory cells track which feature of the text (after Karpathy, Johnson & Fei-Fei 2015).

Pearson correlations of cell activations with simple features of the characters read; arrays and
text only, no model.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

__all__ = ["text_features", "correlate_cells"]


# A speaker line: an all-caps name ("KING HENRY VI"), then ':' and nothing else.
_SPEAKER_LINE = re.compile(r"^[A-Z][A-Z0-9 '.,&-]*:[ \t]*$")
_VOWELS = frozenset("aeiouAEIOU")


def text_features(text: str) -> pd.DataFrame:
    """Interpretable features of every character of ``text``; a newline belongs to the line it ends.

    Returns:
        One row per character, columns: ``char``; and, all int64: ``position_in_line`` (characters
        since the line's start), ``line_end_near`` (characters left to the line's end: 0 on its
        ``"\\n"``, or on the last character of an unterminated last line), ``after_newline`` (first
        character of a line), ``in_speaker_name`` (on a line such as ``"FIRST CITIZEN:"``, colon
        included), ``is_space``, ``is_newline``, ``is_vowel``, ``is_upper``, ``is_punct`` (neither
        alphanumeric nor whitespace) and ``position_in_word`` (letters since the word's start; -1 on
        non-letters). The flags are 0 or 1.

    Raises:
        ValueError: ``text`` is not a ``str``.
    """
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}")
    n = len(text)
    position_in_line = np.zeros(n, np.int64)
    line_end_near = np.zeros(n, np.int64)
    in_speaker = np.zeros(n, np.int64)
    position_in_word = np.full(n, -1, np.int64)

    start = 0
    while start < n:
        end = text.find("\n", start)               # index of this line's "\n"
        stop = n if end == -1 else end + 1          # one past the line's last char
        content_end = n if end == -1 else end       # one past the visible content
        k = np.arange(start, stop)
        position_in_line[start:stop] = k - start
        line_end_near[start:stop] = content_end - k if end != -1 else (n - 1) - k
        if _SPEAKER_LINE.match(text[start:content_end]):
            in_speaker[start:content_end] = 1
        start = stop

    run = -1
    for k, ch in enumerate(text):
        run = run + 1 if ch.isalpha() else -1
        position_in_word[k] = run

    chars = list(text)

    def flag(test):
        return np.array([test(ch) for ch in chars], dtype=np.int64)

    return pd.DataFrame({
        "char": pd.Series(chars, dtype=object),
        "position_in_line": position_in_line,
        "line_end_near": line_end_near,
        "after_newline": (position_in_line == 0).astype(np.int64),
        "in_speaker_name": in_speaker,
        "is_space": flag(lambda ch: ch == " "),
        "is_newline": flag(lambda ch: ch == "\n"),
        "is_vowel": flag(lambda ch: ch in _VOWELS),
        "is_upper": flag(str.isupper),
        "is_punct": flag(lambda ch: not (ch.isalnum() or ch.isspace())),
        "position_in_word": position_in_word,
    })


def correlate_cells(activations, features: pd.DataFrame, top: int = 3) -> pd.DataFrame:
    """The cells most correlated with each feature (Pearson's r).

    Args:
        activations: float ``(T, H)``, one value per character and cell (e.g. ``tanh(c)``).
        features: ``T`` rows, e.g. :func:`text_features`; only numeric columns are used.
        top: cells reported per feature (int >= 1).

    Returns:
        Columns ``feature`` (str), ``cell`` (int) and ``r`` (float in [-1, 1]): per feature, in column
        order, its ``top`` cells by ``|r|``, largest first (ties: lower cell first). A constant cell
        gets ``r = 0``; a constant feature is left out.

    Raises:
        ValueError: ``activations`` is not 2-D, the row counts differ, or ``top < 1``.
    """
    acts = np.asarray(activations, dtype=np.float64)
    if acts.ndim != 2:
        raise ValueError(f"activations must be 2-D (T, H), got shape {acts.shape}")
    if len(features) != acts.shape[0]:
        raise ValueError(f"features has {len(features)} rows but activations has {acts.shape[0]} (T)")
    if top < 1:
        raise ValueError(f"top must be >= 1, got {top}")
    numeric = features.select_dtypes(include=[np.number, "bool"])
    feats = numeric.to_numpy(dtype=np.float64)                  # (T, F)

    a_c = acts - acts.mean(axis=0)
    f_c = feats - feats.mean(axis=0)
    a_norm = np.sqrt((a_c ** 2).sum(axis=0))                     # (H,)
    f_norm = np.sqrt((f_c ** 2).sum(axis=0))                     # (F,)
    # Treat norms at rounding level as zero (a "constant" column).
    a_ok = a_norm > 1e-12 * np.maximum(1.0, np.abs(acts).max(axis=0, initial=0.0))
    f_ok = f_norm > 1e-12 * np.maximum(1.0, np.abs(feats).max(axis=0, initial=0.0))

    cov = f_c.T @ a_c                                            # (F, H)
    denom = np.outer(f_norm, a_norm)
    valid = np.outer(f_ok, a_ok)
    r = np.zeros_like(cov)
    np.divide(cov, denom, out=r, where=valid)
    r = np.clip(r, -1.0, 1.0)

    rows = []
    k = min(top, acts.shape[1])
    for j, name in enumerate(numeric.columns):
        if not f_ok[j]:
            continue
        order = np.argsort(-np.abs(r[j]), kind="stable")[:k]
        rows.extend((str(name), int(cell), float(r[j, cell])) for cell in order)
    out = pd.DataFrame(rows, columns=["feature", "cell", "r"])
    return out.astype({"feature": object, "cell": np.int64, "r": np.float64})
