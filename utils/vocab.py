"""Character vocabulary: text <-> integer ids, built from the training split only.

Id 0 is reserved for ``[UNK]``: a character that never occurs in the training
text (it can appear in validation or test text) is encoded as 0, counted by
:meth:`Vocabulary.count_unknown`, and decoded as :data:`UNK_CHAR` ("\\ufffd").
It is never silently dropped, so held-out scores cover every character.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np

UNK = "[UNK]"
UNK_ID = 0
UNK_CHAR = "\ufffd"  # what [UNK] decodes to: the Unicode replacement character


class Vocabulary:
    """A fixed mapping between characters and ids ``0 .. size-1`` (0 = ``[UNK]``).

    Args:
        chars: the known characters; duplicates are ignored and the ids follow
            sorted code-point order (so the same text always gives the same ids).

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
    def from_text(cls, text: str) -> "Vocabulary":
        """Build the vocabulary of every distinct character in ``text``."""
        return cls(set(text))

    @property
    def size(self) -> int:
        """Number of ids, ``[UNK]`` included."""
        return len(self.tokens)

    def __len__(self) -> int:
        return self.size

    def _codes(self, text: str) -> np.ndarray:
        return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)

    def encode(self, text: str) -> np.ndarray:
        """Encode ``text`` as ids.

        Returns:
            int32 array of shape ``(len(text),)``; unknown characters become ``UNK_ID``.
        """
        if not isinstance(text, str):
            raise TypeError(f"encode() takes a str, got {type(text).__name__}")
        codes = self._codes(text)
        ids = np.zeros(codes.shape, dtype=np.int32)
        known = codes < len(self._lookup)
        ids[known] = self._lookup[codes[known]]
        return ids

    def decode(self, ids: Iterable[int] | np.ndarray) -> str:
        """Decode ids back to text (``[UNK]`` becomes ``UNK_CHAR``).

        Args:
            ids: integer ids of shape ``(n,)``, each in ``[0, size)``.
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
