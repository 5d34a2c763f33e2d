"""A one-step character generator that carries the LSTM state, and a check of generated text.

:class:`CharGenerator` holds the stateful-I/O view of a trained model (same weights, see
:func:`utils.model.state_io_model`): it reads a priming text once, then one character per
call, carrying every layer's ``(h, c)``, so each new character costs one step, not a
re-read of the whole context.
"""
from __future__ import annotations

import re

import numpy as np
import tensorflow as tf

from .model import copy_weights, state_io_model, zero_states
from .vocab import Vocabulary


class CharGenerator:
    """Next-character probabilities of a trained character model, read one piece at a time.

    Args:
        model: the trained model (the notebook's training view, ``ids (B, T) -> logits (B, T, V)``).
        vocab: the vocabulary it was trained with.
    """

    def __init__(self, model, vocab: Vocabulary):
        self.vocab = vocab
        self.step_model = state_io_model(model)
        if self.step_model.outputs[0].shape[-1] != vocab.size:
            raise ValueError(f"model predicts {self.step_model.outputs[0].shape[-1]} ids, "
                             f"the vocabulary has {vocab.size}")
        self._read_compiled = tf.function(self._read, reduce_retracing=True)

    def update_weights(self, model) -> "CharGenerator":
        """Copy the current weights of ``model`` (same architecture) into the generator; returns it."""
        copy_weights(model, self.step_model)
        return self

    def encode_prime(self, prime: str) -> np.ndarray:
        """Encode a priming text, refusing empty text and characters outside the vocabulary."""
        if not isinstance(prime, str) or not prime:
            raise ValueError("prime must be a non-empty string (the model needs at least one character "
                             "to condition on), e.g. 'ROMEO:\\n'")
        unknown = self.vocab.unknown_chars(prime)
        if unknown:
            raise ValueError(f"prime contains characters outside the vocabulary: {unknown}")
        return self.vocab.encode(prime)

    def _zero_state(self, batch: int):
        return zero_states(self.step_model, batch)

    def _read(self, ids, states):
        logits, *states = self.step_model([ids, *states], training=False)
        return logits[:, -1, :], states

    def read(self, text: str, states=None) -> tuple[np.ndarray, list]:
        """Read ``text`` from ``states``; return the next character's probabilities and the new states.

        Reading a text in pieces, each from the states the previous call returned, gives the
        same probabilities as reading it whole.

        Args:
            text: characters to read (non-empty, in-vocabulary).
            states: the states returned by the previous call, or None for an empty memory.

        Returns:
            ``(probs, states)``: float32 array ``(vocab.size,)`` summing to 1 (``[UNK]`` included,
            not masked), and the list of every layer's ``h`` and ``c``, each ``(1, units)``.
        """
        ids = tf.constant(self.encode_prime(text)[None, :], tf.int32)
        if states is None:
            states = self._zero_state(1)
        logits, states = self._read_compiled(ids, list(states))
        return tf.nn.softmax(logits)[0].numpy(), states

    def next_distribution(self, prefix: str) -> np.ndarray:
        """Probabilities of the next character after ``prefix`` (non-empty, in-vocabulary), read from an
        empty memory: float32 array ``(vocab.size,)`` summing to 1 (``[UNK]`` included, not masked)."""
        return self.read(prefix)[0]


#: A word: letters, optionally with one inner apostrophe ("o'er", "Tybalt's").
WORD_PATTERN = r"[A-Za-z]+(?:'[A-Za-z]+)?"
#: A speaker line of the cleaned plays: a capitalised name, then a colon, alone on its line.
SPEAKER_PATTERN = r"^[A-Z][A-Za-z' ]*:$"


def play_likeness(sample: str, known_words: set[str] | frozenset[str], prime: str = "") -> dict[str, float]:
    """How much a generated sample looks like a play: a regression check for generation.

    Args:
        sample: generated text, starting with ``prime``.
        known_words: the words of the training text (e.g. ``set(re.findall(WORD_PATTERN, text))``).
        prime: the priming text; it is left out of every count.

    Returns:
        ``{"words": n, "known_word_fraction": f, "speaker_lines": k}``: ``n`` words generated
        (:data:`WORD_PATTERN`), the fraction ``f`` of them that occur in the training text (nan if
        ``n == 0``), and the number ``k`` of new speaker lines (:data:`SPEAKER_PATTERN`).
    """
    if not isinstance(sample, str) or not isinstance(prime, str):
        raise TypeError(f"sample and prime must be str, got {type(sample).__name__} and {type(prime).__name__}")
    if not sample.startswith(prime):
        raise ValueError(f"sample does not start with the prime {prime!r}")
    generated = sample[len(prime):]
    # a speaker line begins after a newline: the prime's last character tells whether the first one does
    text = ("\n" if not prime or prime.endswith("\n") else "") + generated
    words = re.findall(WORD_PATTERN, generated)
    known = sum(word in known_words for word in words)
    return {"words": len(words), "known_word_fraction": known / len(words) if words else float("nan"),
            "speaker_lines": len(re.findall(SPEAKER_PATTERN, text, flags=re.M))}
