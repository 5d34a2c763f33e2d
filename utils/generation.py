"""A character generator that carries the LSTM state, and a check that generated text looks like a play."""
from __future__ import annotations

import re

import numpy as np
import tensorflow as tf

from .model import copy_weights, state_io_model, zero_states
from .vocab import Vocabulary


class CharGenerator:
    """Next-character probabilities of a trained ``model`` (``vocab``: its vocabulary), reading text one
    piece at a time with the state carried (:func:`utils.model.state_io_model`).

    Raises:
        ValueError: the model predicts another number of ids than ``vocab.size``.
    """

    def __init__(self, model, vocab: Vocabulary):
        self.vocab = vocab
        self.state_io = state_io_model(model)
        if self.state_io.outputs[0].shape[-1] != vocab.size:
            raise ValueError(f"model predicts {self.state_io.outputs[0].shape[-1]} ids, "
                             f"the vocabulary has {vocab.size}")
        self._read_compiled = tf.function(self._read, reduce_retracing=True)

    def update_weights(self, model) -> CharGenerator:
        """Copy the current weights of ``model`` (same architecture) into the generator; returns it."""
        copy_weights(model, self.state_io)
        return self

    def encode_prime(self, prime: str) -> np.ndarray:
        """The ids of ``prime``.

        Raises:
            ValueError: ``prime`` is empty, not a string, or has characters outside the vocabulary.
        """
        if not isinstance(prime, str) or not prime:
            raise ValueError("prime must be a non-empty string (the model needs at least one character "
                             "to condition on), e.g. 'ROMEO:\\n'")
        unknown = self.vocab.unknown_chars(prime)
        if unknown:
            raise ValueError(f"prime contains characters outside the vocabulary: {unknown}")
        return self.vocab.encode(prime)

    def _read(self, ids, states):
        logits, *states = self.state_io([ids, *states], training=False)
        return logits[:, -1, :], states

    def read(self, text: str, states=None) -> tuple[np.ndarray, list]:
        """Read ``text`` from ``states`` (what the previous call returned; None: an empty memory).

        Returns:
            ``(probs, states)``: the next character's probabilities, float32 ``(vocab.size,)`` summing
            to 1 (``[UNK]`` included), and every layer's ``h`` and ``c``, each ``(1, units)``.

        Raises:
            ValueError: as :meth:`encode_prime`, or ``states`` is not a list like the one returned.
        """
        ids = tf.constant(self.encode_prime(text)[None, :], tf.int32)
        if states is None:
            states = zero_states(self.state_io, 1)
        want = [(1, int(t.shape[-1])) for t in self.state_io.inputs[1:]]
        got = [tuple(np.shape(s)) for s in states] if isinstance(states, (list, tuple)) else type(states)
        if got != want:
            raise ValueError(f"states must be the list read returned: {len(want)} arrays of shapes {want}, "
                             f"got {got}")
        logits, states = self._read_compiled(ids, list(states))
        return tf.nn.softmax(logits)[0].numpy(), states

    def next_distribution(self, prefix: str) -> np.ndarray:
        """The next character's probabilities after ``prefix``, read from an empty memory (:meth:`read`)."""
        return self.read(prefix)[0]


#: A word: letters, optionally with one inner apostrophe ("o'er", "Tybalt's").
WORD_PATTERN = r"[A-Za-z]+(?:'[A-Za-z]+)?"
#: A speaker line of the cleaned plays: a capitalised name, then a colon, alone on its line.
SPEAKER_PATTERN = r"^[A-Z][A-Za-z' ]*:$"


def play_likeness(sample: str, known_words: set[str] | frozenset[str], prime: str = "") -> dict[str, float]:
    """How much a generated sample looks like a play.

    Args:
        sample: generated text, starting with ``prime``.
        known_words: the words of the training text (e.g. ``set(re.findall(WORD_PATTERN, text))``).
        prime: the priming text, left out of every count.

    Returns:
        ``{"words": n, "known_word_fraction": f, "speaker_lines": k}``: the number of generated words
        (:data:`WORD_PATTERN`), the fraction of them in ``known_words`` (nan if none) and the number of
        new speaker lines (:data:`SPEAKER_PATTERN`).

    Raises:
        TypeError: ``sample`` or ``prime`` is not a string, or ``known_words`` not a set.
        ValueError: ``sample`` does not start with ``prime``.
    """
    if not isinstance(sample, str) or not isinstance(prime, str):
        raise TypeError(f"sample and prime must be str, got {type(sample).__name__} and "
                        f"{type(prime).__name__}")
    if not isinstance(known_words, (set, frozenset)):  # `word in "some text"` would match substrings
        raise TypeError(f"known_words must be a set of words (set(re.findall(WORD_PATTERN, text))), got "
                        f"{type(known_words).__name__}")
    if not sample.startswith(prime):
        raise ValueError(f"sample does not start with the prime {prime!r}")
    generated = sample[len(prime):]
    # a speaker line begins after a newline: the prime's last character tells whether the first one does
    text = ("\n" if not prime or prime.endswith("\n") else "") + generated
    words = re.findall(WORD_PATTERN, generated)
    known = sum(word in known_words for word in words)
    return {"words": len(words), "known_word_fraction": known / len(words) if words else float("nan"),
            "speaker_lines": len(re.findall(SPEAKER_PATTERN, text, flags=re.M))}
