"""Words written in cursive, as Graves (2013, §5) pen offsets, and a legibility score for samples.

Words are drawn in the Hershey ``scripts`` font (Script Simplex) of the ``Hershey-Fonts`` package
(MIT, by Attila Kolinger; the font is Dr. A. V. Hershey's, as distributed by James Hurt).
Lengths are in font units, the font's own grid: a letter such as "a" or "o" is 9 units high, an
ascender 21 above the baseline, a descender 12 below it.

Legibility asks whether a sample's nearest canonical rendering, by dynamic time warping (DTW) of
trajectories resampled to 64 points, is the sample's own word among words of similar length.
"""
from __future__ import annotations

import functools
import re

import numpy as np
import pandas as pd

from .checks import ArgumentTypeError, check_int
from .handwriting import check_offsets

__all__ = ["ALPHABET", "INSTALL_HINT", "MAX_WORD_LEN", "corpus_words", "encode", "legibility",
           "render", "split_words"]

ALPHABET = "abcdefghijklmnopqrstuvwxyz"
INSTALL_HINT = "pip install --no-deps Hershey-Fonts==2.1.0"
#: The longest word :func:`encode` and :func:`render` accept.
MAX_WORD_LEN = 10

_FONT_NAME = "scripts"
#: Pen-down gap: a stroke continues the previous one when it starts less than this far (font units)
#: from that stroke's end in the canonical layout. It joins the letters, and the humps of m, n, u
#: and y, where Hershey lifts the pen 3.2 units away from where a writer retraces.
JOIN_GAP = 3.5
#: Distance between resampled points along a stroke, in font units.
STEP = 4.5
_SLANT_DEG = 20.0           # augmentation: shear of up to +-20 degrees
_SCALE = (0.85, 1.15)
_ASPECT = (0.9, 1.1)        # extra horizontal scale
_SPACING = (-1.0, 1.5)      # added to every letter's advance, font units
_JITTER = 0.5               # per-letter vertical shift, standard deviation in font units
_NOISE = 0.3                # per-vertex noise, standard deviation in font units

_GLYPHS = None              # {letter: (strokes, advance)}, loaded once by _glyphs()
_LETTERS = re.compile(r"[^\W\d_]+")


def _glyphs() -> dict[str, tuple[list[np.ndarray], float]]:
    """``{letter: (strokes, advance)}`` of the font: float64 ``(P, 2)`` vertices, x from the glyph's
    left side, y up from the baseline; ``advance`` is the letter's width (font units)."""
    global _GLYPHS
    if _GLYPHS is None:
        try:
            from HersheyFonts import HersheyFonts
        except ModuleNotFoundError as exc:
            raise ModuleNotFoundError(
                f"Handwriting synthesis draws words with the Hershey-Fonts package; install it "
                f"with: {INSTALL_HINT}", name="HersheyFonts") from exc
        font = HersheyFonts()
        font.load_default_font(_FONT_NAME)
        base = float(font.render_options["base_line"])
        glyphs = {}
        for letter, glyph in font.all_glyphs.items():
            if letter in ALPHABET:
                strokes = [np.array([(x - glyph.left_offset, base - y) for x, y in stroke], float)
                           for stroke in glyph.strokes]
                if letter in "ij":                  # Hershey dots first; a writer dots last
                    strokes = strokes[1:] + strokes[:1]
                glyphs[letter] = (strokes, float(glyph.char_width))
        _GLYPHS = glyphs
    return _GLYPHS


def _check_word(word, name: str) -> str:
    """``word`` if it is a str of 1 to MAX_WORD_LEN characters of ALPHABET, else ValueError."""
    if not isinstance(word, str):
        raise ArgumentTypeError(f"{name} must be a str, got {word!r} ({type(word).__name__})")
    if not word or len(word) > MAX_WORD_LEN:
        raise ValueError(f"{name} must have 1 to {MAX_WORD_LEN} characters, got {word!r} "
                         f"({len(word)})")
    bad = sorted(set(word) - set(ALPHABET))
    if bad:
        raise ValueError(f"{name}={word!r} has characters {''.join(bad)!r} outside ALPHABET "
                         f"{ALPHABET!r}")
    return word


def _check_words(words, name: str) -> list[str]:
    """``words`` as a list of checked words (a single str is refused)."""
    if isinstance(words, str):
        raise ArgumentTypeError(f"{name} must be a list of words, not the str {words!r}")
    return [_check_word(w, f"{name}[{i}]") for i, w in enumerate(words)]


def corpus_words(text: str, min_len: int = 3, max_len: int = 8) -> list[str]:
    """The sorted distinct words of ``text`` made only of the letters a-z, ``min_len`` to
    ``max_len`` letters long.

    ``text`` is lower-cased and split on everything that is not a letter, so "o'er" gives "o" and
    "er"; a word with another letter (such as "é") is left out.

    Raises:
        ValueError: ``text`` is not a str, or not ``1 <= min_len <= max_len <= MAX_WORD_LEN``.
    """
    if not isinstance(text, str):
        raise ArgumentTypeError(f"text must be a str, got {type(text).__name__}")
    check_int(min_len, "min_len", 1, MAX_WORD_LEN)
    check_int(max_len, "max_len", min_len, MAX_WORD_LEN)
    alphabet = set(ALPHABET)
    return sorted({w for w in _LETTERS.findall(text.lower())
                   if min_len <= len(w) <= max_len and set(w) <= alphabet})


def split_words(words, n_valid: int, seed: int) -> tuple[list[str], list[str]]:
    """``(train, valid)``: the distinct ``words`` split at random (``seed``), ``n_valid`` of them
    for validation; both lists sorted, with no word in both.

    Raises:
        ValueError: ``n_valid`` is not in ``[1, number of distinct words - 1]``, or ``seed < 0``.
    """
    if isinstance(words, str):
        raise ArgumentTypeError(f"words must be a list of words, not the str {words!r}")
    unique = sorted(set(words))
    check_int(n_valid, "n_valid", 1, max(1, len(unique) - 1))
    if len(unique) < 2:
        raise ValueError(f"words must hold at least 2 distinct words to split, got {len(unique)}")
    check_int(seed, "seed", 0)
    order = np.random.default_rng(seed).permutation(len(unique))
    valid = sorted(unique[i] for i in order[:n_valid])
    train = sorted(unique[i] for i in order[n_valid:])
    return train, valid


def _resample(points: np.ndarray, letters: np.ndarray, step: float
              ) -> tuple[np.ndarray, np.ndarray]:
    """A polyline ``(P, 2)`` at even arc length about ``step`` apart, both ends kept (one point if
    it has no length): float64 ``(k, 2)`` points and the int ``(k,)`` letter of the polyline
    segment each point falls on (``letters`` gives each vertex's letter)."""
    seg = np.hypot(*np.diff(points, axis=0).T)
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    if arc[-1] <= 0:
        return points[:1], letters[:1]
    keep = np.concatenate([[True], seg > 0])
    arc, points, letters = arc[keep], points[keep], letters[keep]
    k = max(2, int(round(arc[-1] / step)) + 1)
    at = np.linspace(0.0, arc[-1], k)
    vertex = np.clip(np.searchsorted(arc, at, side="right") - 1, 0, len(arc) - 2)
    resampled = np.column_stack([np.interp(at, arc, points[:, 0]), np.interp(at, arc, points[:, 1])])
    return resampled, letters[vertex]


def render(word: str, rng: np.random.Generator | None = None, letters: bool = False):
    """``word`` written in cursive as Graves' pen offsets: float32 ``(T, 3)`` rows
    ``(dx, dy, end_of_stroke)`` in font units, y up.

    Row 0 is the first point's offset from the origin, the start of the word's baseline.
    ``end_of_stroke`` is 1 on the last point of every stroke (the last row included). Strokes that
    start within :data:`JOIN_GAP` of the previous stroke's end are joined, so the pen stays down
    between letters and in the humps of m, n, u and y. It lifts for the dots of i and j (drawn
    after the letter's body), the cross of t, the second stroke of x, inside d, g, p, q, s, t and
    w, and before letters that start away from the joining line (a, c, d, g, o, q, w). Each stroke
    is resampled at even arc length, about :data:`STEP` = 4.5 units apart: about 11 points per
    letter alone (7 for "c" and "r", 19 for "f").

    Args:
        word: 1 to :data:`MAX_WORD_LEN` letters of :data:`ALPHABET`.
        rng: ``None`` for the canonical rendering (deterministic); a generator for a random
            variation: slant +-20 degrees, scale 0.85-1.15, aspect 0.9-1.1, letter spacing -1 to
            +1.5 units, per-letter vertical jitter (sigma 0.5) and vertex noise (sigma 0.3 units).
        letters: also return, for each row, the position in ``word`` of the letter being drawn.

    Returns:
        The offsets; with ``letters``, the pair ``(offsets, int64 (T,) letter positions)``.
            The scale is applied after resampling, so it does not change ``T``.

    Raises:
        ValueError: ``word`` is empty, too long, or has characters outside ALPHABET; ``rng`` is
            neither ``None`` nor a ``numpy.random.Generator``.
        ModuleNotFoundError: ``Hershey-Fonts`` is not installed (the message gives the command).
    """
    _check_word(word, "word")
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise ArgumentTypeError(f"rng must be None or a numpy.random.Generator, got "
                                f"{type(rng).__name__}")
    glyphs = _glyphs()
    advances = np.cumsum([0.0] + [glyphs[c][1] for c in word[:-1]])
    if rng is None:
        shifts = np.column_stack([advances, np.zeros(len(word))])
    else:
        spacing = rng.uniform(*_SPACING)
        shifts = np.column_stack([advances + spacing * np.arange(len(word)),
                                  rng.normal(0.0, _JITTER, len(word))])
    strokes, prev_end = [], None       # joins are decided on the canonical layout
    for i, c in enumerate(word):
        for vertices in glyphs[c][0]:
            start = vertices[0] + (advances[i], 0.0)
            moved = vertices + shifts[i]
            if rng is not None:
                moved = moved + rng.normal(0.0, _NOISE, moved.shape)
            part = (moved, np.full(len(moved), i))
            if prev_end is not None and np.hypot(*(start - prev_end)) < JOIN_GAP:
                strokes[-1].append(part)
            else:
                strokes.append([part])
            prev_end = vertices[-1] + (advances[i], 0.0)
    scale, transform = 1.0, np.eye(2)
    if rng is not None:
        scale = rng.uniform(*_SCALE)
        aspect = rng.uniform(*_ASPECT)
        shear = np.tan(np.radians(rng.uniform(-_SLANT_DEG, _SLANT_DEG)))
        transform = np.array([[aspect, 0.0], [shear, 1.0]])  # x' = aspect * x + shear * y
    # resampled before scaling, so that the scale does not change the number of points
    pieces, owners = zip(*(_resample(np.concatenate([p for p, _ in parts]) @ transform,
                                     np.concatenate([o for _, o in parts]), STEP)
                           for parts in strokes))
    points = scale * np.concatenate(pieces)
    out = np.zeros((len(points), 3), dtype=np.float32)
    out[:, :2] = np.diff(points, axis=0, prepend=np.zeros((1, 2)))
    out[np.cumsum([len(p) for p in pieces]) - 1, 2] = 1.0
    return (out, np.concatenate(owners)) if letters else out


def encode(words, length: int = MAX_WORD_LEN) -> np.ndarray:
    """int32 ``(N, length)`` letter ids of ``words``: ``ALPHABET[i]`` -> ``i + 1``, then 0s.

    Raises:
        ValueError: a word is empty, longer than ``length`` or :data:`MAX_WORD_LEN`, or has
            characters outside ALPHABET; ``words`` is a str; ``length < 1``.
    """
    length = check_int(length, "length")
    words = _check_words(words, "words")
    out = np.zeros((len(words), length), dtype=np.int32)
    for i, word in enumerate(words):
        if len(word) > length:
            raise ValueError(f"words[{i}]={word!r} has {len(word)} letters, more than "
                             f"length={length}")
        out[i, :len(word)] = [ALPHABET.index(c) + 1 for c in word]
    return out


def _trajectory(offsets: np.ndarray, n: int) -> np.ndarray:
    """float64 ``(n, 2)``: the pen positions resampled at ``n`` points evenly spaced in arc length
    (pen-up moves included), moved to zero mean and divided by the path's height (its width if it
    is flat, 1 if it is a point), so that scaling the offsets changes nothing."""
    points = np.cumsum(offsets[:, :2], axis=0)
    seg = np.hypot(*np.diff(points, axis=0).T)
    if not np.any(seg > 0):
        return np.zeros((n, 2))
    points = points[np.concatenate([[True], seg > 0])]      # np.interp needs a rising arc
    arc = np.concatenate([[0.0], np.cumsum(seg[seg > 0])])
    at = np.linspace(0.0, arc[-1], n)
    out = np.column_stack([np.interp(at, arc, points[:, 0]), np.interp(at, arc, points[:, 1])])
    out -= out.mean(axis=0)
    extent = np.ptp(out, axis=0)
    size = extent[1] if extent[1] > 0 else (extent[0] if extent[0] > 0 else 1.0)
    return out / size


def _diagonals(n: int, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The cells ``(i, j)`` of an ``n`` by ``m`` grid as int arrays ``(k, i, j)``, ``k = i + j``."""
    j = np.arange(n + m - 1)[:, None] - np.arange(n)
    k, i = np.nonzero((j >= 0) & (j < m))
    return k, i, j[k, i]


def _dtw_batch(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """float64 ``(B,)`` DTW distances between pairs of float64 ``(B, n, 2)`` and ``(B, m, 2)``
    trajectories, normalised by ``n + m``; one NumPy step per anti-diagonal ``i + j = k``."""
    batch, n, m = len(a), a.shape[1], b.shape[1]
    k, i, j = _diagonals(n, m)
    diff = a[:, i] - b[:, j]
    skewed = np.full((n + m - 1, batch, n), np.inf)  # skewed[k, :, i] = cost of (i, k - i)
    skewed[k, :, i] = np.sqrt(diff[..., 0] ** 2 + diff[..., 1] ** 2).T
    # D on diagonals k - 2, k - 1, k; column 0 pads i = -1, where a 0 starts the path at (0, 0)
    before, last, cur = (np.full((batch, n + 1), np.inf) for _ in range(3))
    before[:, 0] = 0.0
    for step in range(n + m - 1):
        out = cur[:, 1:]
        np.minimum(before[:, :-1], last[:, :-1], out=out)   # (i-1, j-1), (i-1, j)
        np.minimum(out, last[:, 1:], out=out)               # (i, j-1)
        out += skewed[step]
        if step == 0:
            before[:, 0] = np.inf
        before, last, cur = last, cur, before
    return last[:, n] / (n + m)


@functools.cache
def _canonical_trajectory(word: str, n: int = 64) -> np.ndarray:
    out = _trajectory(render(word).astype(np.float64), n)
    out.flags.writeable = False
    return out


def _nearest(samples: list[np.ndarray], candidates: list[list[str]], chunk: int = 128
             ) -> list[str]:
    """For each sample trajectory ``(64, 2)``, the candidate word whose canonical trajectory is
    nearest by DTW (the first on ties)."""
    pairs = [(s, w) for s, words in zip(samples, candidates) for w in words]
    dist = np.empty(len(pairs))
    for first in range(0, len(pairs), chunk):
        part = pairs[first:first + chunk]
        dist[first:first + len(part)] = _dtw_batch(
            np.stack([s for s, _ in part]), np.stack([_canonical_trajectory(w) for _, w in part]))
    out, first = [], 0
    for words in candidates:
        out.append(words[int(np.argmin(dist[first:first + len(words)]))])
        first += len(words)
    return out


def _distractors(target: str, pool: list[str], k: int, rng: np.random.Generator) -> list[str]:
    """``k`` distinct words of ``pool`` other than ``target`` whose length is within +-1 of the
    target's, widened to +-2, +-3, ... until there are enough."""
    others = [w for w in pool if w != target]
    if len(others) < k:
        raise ValueError(f"pool has {len(others)} words other than {target!r}, fewer than "
                         f"n_distractors={k}")
    width = 1
    while True:
        near = [w for w in others if abs(len(w) - len(target)) <= width]
        if len(near) >= k:
            return [near[i] for i in rng.choice(len(near), size=k, replace=False)]
        width += 1


def legibility(samples, words: list[str], pool: list[str], n_distractors: int = 9,
               seed: int = 0) -> pd.DataFrame:
    """Which samples are nearest to their own word among ``1 + n_distractors`` candidates.

    For sample ``i``, ``n_distractors`` distinct words other than ``words[i]`` are drawn from
    ``pool`` (seeded: the same ``words``, ``pool`` and ``seed`` give the same draw), with length
    within +-1 of ``words[i]``'s (+-2, +-3, ... if there are too few). The pick among them and
    ``words[i]`` is the candidate whose canonical :func:`render` is nearest to the sample by
    dynamic time warping (Euclidean point cost, normalised by the path lengths) of the two pen
    paths, each resampled to 64 points and scaled to unit height. Chance is
    ``1 / (1 + n_distractors)``.

    Args:
        samples: pen offsets, finite ``(T_i, 3)`` arrays, one per word.
        words: the words the samples should show.
        pool: words to draw distractors from (repeats are ignored).
        n_distractors: distractors per sample, at least 1.
        seed: seed of the distractor draw, at least 0.

    Returns:
        One row per sample: ``word`` (str), ``nearest`` (str, the word picked) and ``correct``
        (bool, ``nearest == word``).

    Raises:
        ValueError: ``samples`` and ``words`` differ in length, a sample is not a non-empty finite
            ``(T, 3)`` array, a word is refused by :func:`render`, or ``pool`` has fewer than
            ``n_distractors`` words other than a target.
    """
    words = _check_words(words, "words")
    if isinstance(samples, np.ndarray) and samples.ndim == 3:
        samples = list(samples)
    if len(samples) != len(words):
        raise ValueError(f"samples and words must have the same length, got {len(samples)} "
                         f"samples and {len(words)} words")
    pool = sorted(set(_check_words(pool, "pool")))
    k = check_int(n_distractors, "n_distractors")
    rng = np.random.default_rng(check_int(seed, "seed", 0))
    trajectories = [_trajectory(check_offsets(s, f"samples[{i}]"), 64)
                    for i, s in enumerate(samples)]
    candidates = [sorted([w] + _distractors(w, pool, k, rng)) for w in words]
    nearest = _nearest(trajectories, candidates)
    return pd.DataFrame({"word": words, "nearest": nearest,
                         "correct": [a == b for a, b in zip(words, nearest)]})
