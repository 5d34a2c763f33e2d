"""Character vocabulary, built from the training split: text <-> int ids, 0 reserved for ``[UNK]``.

A character the training text lacks is encoded as :data:`UNK_ID` and decoded as :data:`UNK_CHAR`;
it is never dropped, so held-out scores cover every character.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np

UNK = "[UNK]"
UNK_ID = 0
UNK_CHAR = "\ufffd"  # what [UNK] decodes to: the Unicode replacement character
#: How plots and tables show the invisible characters.
DISPLAY = {"\n": "⏎", " ": "␣"}
#: The legend of :data:`DISPLAY`, for axis labels.
DISPLAY_NOTE = "⏎ = newline, ␣ = space"


class Vocabulary:
    """A mapping between the characters ``chars`` (ids in code-point order) and ids ``0 .. size-1``.

    Raises:
        ValueError: an entry is not a single character, or there is none.

    Example:
        >>> vocab = Vocabulary.from_text("abca")
        >>> vocab.encode("cab").tolist(), vocab.decode([3, 1, 2])
        ([3, 1, 2], 'cab')
    """

    def __init__(self, chars: Iterable[str]):
        chars = sorted(set(chars))
        bad = [c for c in chars if len(c) != 1]
        if bad:
            raise ValueError(f"Vocabulary entries must be single characters, got {bad[:3]!r}")
        if not chars:
            raise ValueError("Vocabulary needs at least one character; the training text is empty.")
        self.chars: list[str] = chars
        self.tokens: list[str] = [UNK, *chars]
        codes = np.array([ord(c) for c in chars], dtype=np.int64)
        self._lookup = np.zeros(int(codes.max()) + 1, dtype=np.int32)  # code point -> id (0 = UNK)
        self._lookup[codes] = np.arange(1, len(chars) + 1, dtype=np.int32)
        self._id_to_char = np.array([UNK_CHAR, *chars])

    @classmethod
    def from_text(cls, text: str) -> Vocabulary:
        """The vocabulary of every distinct character of ``text``."""
        return cls(set(text))

    @property
    def size(self) -> int:
        """Number of ids, ``[UNK]`` included."""
        return len(self.tokens)

    @property
    def labels(self) -> list[str]:
        """A printable label per id: the tokens, newline and space shown as in :data:`DISPLAY`."""
        return [DISPLAY.get(t, t) for t in self.tokens]

    def __len__(self) -> int:
        return self.size

    def encode(self, text: str) -> np.ndarray:
        """The ids of ``text``: int32 ``(len(text),)``, unknown characters as :data:`UNK_ID`.

        Raises:
            TypeError: ``text`` is not a ``str``.
        """
        if not isinstance(text, str):
            raise TypeError(f"encode() takes a str, got {type(text).__name__}")
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
        ids = np.zeros(codes.shape, dtype=np.int32)
        known = codes < len(self._lookup)
        ids[known] = self._lookup[codes[known]]
        return ids

    def decode(self, ids: Iterable[int] | np.ndarray) -> str:
        """The text of ``ids`` (each in ``[0, size)``); ``[UNK]`` becomes :data:`UNK_CHAR`.

        Raises:
            ValueError: an id is out of range.
        """
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        if ids.size and (ids.min() < 0 or ids.max() >= self.size):
            raise ValueError(f"ids must lie in [0, {self.size}), got min {ids.min()}, max {ids.max()}")
        return "".join(self._id_to_char[ids].tolist())

    def count_unknown(self, text: str) -> int:
        """Number of characters of ``text`` that are not in the vocabulary."""
        return int(np.count_nonzero(self.encode(text) == UNK_ID))

    def unknown_chars(self, text: str) -> list[str]:
        """The distinct characters of ``text`` that are not in the vocabulary, sorted."""
        return sorted(set(text) - set(self.chars))
