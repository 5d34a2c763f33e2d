"""Train / validation / test splits by whole plays (held-out scores measure new plays), and statistics."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .corpus import Corpus
from .vocab import Vocabulary

#: Held-out plays: one tragedy and one comedy per split, about 5 % of the characters each.
SHAKESPEARE_VALID = ("othello", "as-you-like-it")
SHAKESPEARE_TEST = ("king-lear", "twelfth-night")


@dataclass(frozen=True)
class Split:
    """One split: its document names and their text joined by a blank line."""

    name: str
    documents: tuple[str, ...]
    text: str


def split_by_documents(corpus: Corpus, valid: tuple[str, ...] = SHAKESPEARE_VALID,
                       test: tuple[str, ...] = SHAKESPEARE_TEST) -> dict[str, Split]:
    """Split a multi-document corpus into train / valid / test by whole documents.

    Args:
        corpus: the corpus (documents in corpus order).
        valid, test: names of the held-out documents; every other document is training.

    Returns:
        ``{"train": Split, "valid": Split, "test": Split}``; documents keep corpus order.

    Raises:
        ValueError: an unknown document name (the message lists the valid names),
            a name in both held-out lists, or nothing left for training.
    """
    unknown = [n for n in (*valid, *test) if n not in corpus.documents]
    if unknown:
        raise ValueError(f"Unknown play name(s) {unknown}; valid names are: {', '.join(corpus.names)}")
    both = sorted(set(valid) & set(test))
    if both:
        raise ValueError(f"Play(s) {both} are in both the validation and the test split")
    held_out = set(valid) | set(test)
    members = {
        "train": tuple(n for n in corpus.names if n not in held_out),
        "valid": tuple(n for n in corpus.names if n in set(valid)),
        "test": tuple(n for n in corpus.names if n in set(test)),
    }
    if not members["train"]:
        raise ValueError("No documents left for training")
    return {name: Split(name, docs, "\n".join(corpus.documents[d] for d in docs))
            for name, docs in members.items()}


def split_by_fraction(corpus: Corpus, valid_frac: float = 0.05, test_frac: float = 0.05) -> dict[str, Split]:
    """Split a single-document text into contiguous train / valid / test parts (the last two at the end).

    A cut falls on the next line boundary when one is within 1,000 characters and 1 % of the text,
    else mid-line.

    Raises:
        ValueError: fractions outside ``(0, 0.5)`` or a text too short to split.
    """
    for name, frac in (("valid_frac", valid_frac), ("test_frac", test_frac)):
        if not 0 < frac < 0.5:
            raise ValueError(f"{name} must be in (0, 0.5), got {frac}")
    text = corpus.text
    n = len(text)

    def cut(pos: float) -> int:
        i = text.find("\n", int(pos))
        return int(pos) if i < 0 or i + 1 >= n or i - int(pos) > min(1000, n // 100) else i + 1

    a, b = cut(n * (1 - valid_frac - test_frac)), cut(n * (1 - test_frac))
    parts = {"train": text[:a], "valid": text[a:b], "test": text[b:]}
    empty = [k for k, v in parts.items() if not v]
    if empty:
        raise ValueError(f"The text ({n} characters) is too short to split: {empty} would be empty")
    name = corpus.names[0]
    return {k: Split(k, (f"{name}[{k}]",), v) for k, v in parts.items()}


def unigram_entropy_bits(text: str) -> float:
    """Entropy of the character frequencies of ``text``, in bits per character."""
    _, counts = np.unique(np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32), return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


def corpus_statistics(splits: dict[str, Split], vocab: Vocabulary) -> pd.DataFrame:
    """One row per split: ``plays``, ``characters``, ``share (%)``, ``distinct symbols``,
    ``[UNK] characters`` and ``unigram entropy (bits/char)``."""
    total = sum(len(s.text) for s in splits.values())
    rows = {}
    for name, s in splits.items():
        rows[name] = {
            "plays": len(s.documents),
            "characters": len(s.text),
            "share (%)": round(100 * len(s.text) / total, 2),
            "distinct symbols": len(set(s.text)),
            "[UNK] characters": vocab.count_unknown(s.text),
            "unigram entropy (bits/char)": round(unigram_entropy_bits(s.text), 4),
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("split")


def character_counts(ids: np.ndarray, vocab: Vocabulary) -> pd.Series:
    """How often each id of ``vocab`` occurs in ``ids``: an int64 Series named ``"count"``, indexed by
    ``vocab.labels``, most frequent first."""
    counts = np.bincount(np.asarray(ids, dtype=np.int64), minlength=vocab.size)
    return pd.Series(counts, index=vocab.labels, name="count").sort_values(ascending=False, kind="stable")
