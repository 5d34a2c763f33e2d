"""Looking inside a trained LSTM: which memory cells track which feature of the text.

After Karpathy, Johnson & Fei-Fei (2015), "Visualizing and Understanding Recurrent Networks":
the Pearson correlation of each memory cell with simple, interpretable features of the
characters it reads (position in the line, speaker names, ...). This module only analyses
arrays and text; it runs no model.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

__all__ = ["text_features", "correlate_cells"]


# A speaker line: an all-caps name (letters, digits for e.g. "KING HENRY VI",
# spaces and a little punctuation) followed by ':' and nothing else.
_SPEAKER_LINE = re.compile(r"^[A-Z][A-Z0-9 '.,&-]*:[ \t]*$")
_VOWELS = frozenset("aeiouAEIOU")


def text_features(text: str) -> pd.DataFrame:
    """Simple, interpretable features of every character of a text.

    A newline character belongs to the line it ends. Lines are the pieces
    between ``"\\n"`` characters; the last line need not end with one.

    Returns
    -------
    pandas.DataFrame with one row per character (index 0..len(text)-1):

    ``char``               the character itself (str; ignored by
                           :func:`correlate_cells`)
    ``position_in_line``   characters since the last newline (0 for the
                           first character of a line; a line's ``"\\n"``
                           gets the line's length)
    ``line_end_near``      characters remaining to the end of the line
                           (0 on the ``"\\n"``; on an unterminated last line,
                           0 on its last character)
    ``after_newline``      1 for the first character of a line (also the very
                           first character of the text), else 0
    ``in_speaker_name``    1 on the characters of a speaker line such as
                           ``"FIRST CITIZEN:"`` (all-caps name + ``':'``
                           alone on its line), including the colon but not the
                           newline, else 0
    ``is_space``           1 for ``' '`` (not newlines), else 0
    ``is_newline``         1 for ``"\\n"``, else 0
    ``is_vowel``           1 for a, e, i, o, u (either case), else 0
    ``is_upper``           1 for an upper-case letter, else 0
    ``is_punct``           1 for a character that is neither alphanumeric
                           nor whitespace, else 0
    ``position_in_word``   letters since the start of the current word (0 on
                           its first letter); -1 on non-letters

    All feature columns are int64.
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
    df = pd.DataFrame(
        {
            "char": pd.Series(chars, dtype=object),
            "position_in_line": position_in_line,
            "line_end_near": line_end_near,
            "after_newline": (position_in_line == 0).astype(np.int64),
            "in_speaker_name": in_speaker,
            "is_space": np.array([ch == " " for ch in chars], dtype=np.int64),
            "is_newline": np.array([ch == "\n" for ch in chars], dtype=np.int64),
            "is_vowel": np.array([ch in _VOWELS for ch in chars], dtype=np.int64),
            "is_upper": np.array([ch.isupper() for ch in chars], dtype=np.int64),
            "is_punct": np.array(
                [not (ch.isalnum() or ch.isspace()) for ch in chars], dtype=np.int64
            ),
            "position_in_word": position_in_word,
        }
    )
    assert len(df) == n
    return df


def correlate_cells(activations, features: pd.DataFrame, top: int = 3) -> pd.DataFrame:
    """Which memory cells track which text feature? (Pearson correlation)

    Parameters
    ----------
    activations : array (T, H)
        One value per character and cell, e.g. the cell states ``c[0]`` of
        :func:`utils.lstm_numpy.lstm_forward` (or ``tanh(c)``, or ``h``) over a text of T chars.
    features : pandas.DataFrame with T rows
        E.g. :func:`text_features`; only its numeric columns are used.
    top : int
        How many cells to report per feature.

    Returns
    -------
    pandas.DataFrame with columns ``feature`` (str), ``cell`` (int, column of
    ``activations``) and ``r`` (float, Pearson correlation in [-1, 1]):
    for each feature (in column order) its ``top`` cells by ``|r|``,
    largest first (ties: lower cell index first).

    Constant columns: a constant cell gets ``r = 0`` (no linear relation can
    be measured); a constant feature is left out of the table. Neither
    produces NaNs or warnings.
    """
    acts = np.asarray(activations, dtype=np.float64)
    if acts.ndim != 2:
        raise ValueError(f"activations must be 2-D (T, H), got shape {acts.shape}")
    if len(features) != acts.shape[0]:
        raise ValueError(
            f"features has {len(features)} rows but activations has {acts.shape[0]} (T)"
        )
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
