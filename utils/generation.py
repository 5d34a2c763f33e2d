"""Fast text generation with a one-step generator that carries the LSTM state.

The Keras character-LSTM example samples by re-feeding the last ``window``
characters through the whole model for every new character: O(window) work per
character. Here the stateful-I/O view of the trained model (same weights, see
:func:`utils.model.state_io_model`) reads the priming text once, then advances
one character per step, carrying every layer's ``(h, c)``: O(1) work per
character. The whole sampling loop runs inside one ``tf.function``.

Sampling: the next-character logits are divided by the *temperature* T before
the softmax (T < 1 sharpens the distribution towards the likeliest characters,
T > 1 flattens it; T = 0 means greedy, always the most likely character);
optionally only the ``top_k`` likeliest characters are kept. ``[UNK]`` is never
sampled.
"""
from __future__ import annotations

import re

import numpy as np
import tensorflow as tf

from .checks import check_int
from .model import copy_weights, state_io_model, zero_states
from .vocab import UNK_ID, Vocabulary


class CharGenerator:
    """Generates text from a trained training-view character model.

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
        self._sample = tf.function(self._sample_loop, reduce_retracing=True)
        self._read_compiled = tf.function(self._read, reduce_retracing=True)  # one trace per input length kind

    def update_weights(self, model) -> "CharGenerator":
        """Copy the current weights of ``model`` (e.g. after another training epoch).

        Reusing one generator this way keeps its compiled sampling loop (no retracing).
        """
        copy_weights(model, self.step_model)
        return self

    # -- validation -----------------------------------------------------------------
    def encode_prime(self, prime: str) -> np.ndarray:
        """Encode a priming text, refusing empty text and characters outside the vocabulary."""
        if not isinstance(prime, str) or not prime:
            raise ValueError("prime must be a non-empty string (the model needs at least one character "
                             "to condition on), e.g. 'ROMEO:\\n'")
        unknown = self.vocab.unknown_chars(prime)
        if unknown:
            raise ValueError(f"prime contains characters outside the vocabulary: {unknown}")
        return self.vocab.encode(prime)

    def _check(self, temperature, top_k, length, num_samples, seed=0):
        if (isinstance(temperature, (bool, np.bool_)) or not isinstance(temperature, (int, float, np.number))
                or not np.isfinite(temperature) or temperature < 0):
            raise ValueError(f"temperature must be a number >= 0 (0 = greedy), got {temperature!r}")
        max_k = self.vocab.size - 1  # [UNK] is never sampled
        if top_k is not None:
            check_int(top_k, "top_k", 1, max_k, or_none=True)
        check_int(length, "length")
        check_int(num_samples, "num_samples")
        check_int(seed, "seed", 0, 2**31 - 1)  # the sampler's seed is an int32

    # -- core -----------------------------------------------------------------------
    def _zero_state(self, batch: int):
        return zero_states(self.step_model, batch)

    def _read(self, ids, states):
        logits, *states = self.step_model([ids, *states], training=False)
        return logits[:, -1, :], states

    def read(self, text: str, states=None) -> tuple[np.ndarray, list]:
        """Read ``text`` from ``states`` and return the next character's probabilities and the new states.

        This is the generator's one step, exposed: read a priming text once (``states=None``
        starts from zeros), then feed each drawn character with the states returned by the
        previous call. Reading a text in pieces this way gives the same probabilities as
        reading it whole (the LSTM's ``(h, c)`` of every layer is carried between calls).

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

    def next_distribution(self, prefix: str, step_by_step: bool = False) -> np.ndarray:
        """Probabilities of the next character after ``prefix``, read from an empty memory.

        Args:
            prefix: the text read so far (non-empty, in-vocabulary).
            step_by_step: read ``prefix`` one character per call, carrying every layer's
                ``(h, c)`` from call to call - exactly what :meth:`generate` does - instead
                of in one call. Both must give the full model's probabilities.

        Returns:
            float32 array ``(vocab.size,)`` summing to 1 (``[UNK]`` included, not masked).
        """
        self.encode_prime(prefix)  # refuse bad input before reading anything
        if not step_by_step:
            return self.read(prefix)[0]
        probs, states = self.read(prefix[0])
        for char in prefix[1:]:
            probs, states = self.read(char, states)
        return probs

    def _sample_loop(self, prime_ids, length, temperature, top_k, seed):
        batch = tf.shape(prime_ids)[0]
        logits, states = self._read(prime_ids, self._zero_state(batch))
        out = tf.TensorArray(tf.int32, size=length)
        unk_mask = tf.one_hot(UNK_ID, self.vocab.size, on_value=-1e9, off_value=0.0)
        for i in tf.range(length):
            masked = logits + unk_mask
            if temperature > 0:
                kth = tf.math.top_k(masked, k=top_k).values[:, -1:]
                masked = tf.where(masked < kth, -1e9, masked)
                nxt = tf.random.stateless_categorical(masked / temperature, 1,
                                                      seed=tf.stack([seed, i]), dtype=tf.int32)[:, 0]
            else:
                nxt = tf.argmax(masked, axis=-1, output_type=tf.int32)
            out = out.write(i, nxt)
            logits, states = self._read(nxt[:, None], states)
        return tf.transpose(out.stack())

    def generate(self, prime: str, length: int = 200, *, temperature: float = 1.0, top_k: int | None = None,
                 seed: int = 0, num_samples: int = 1) -> list[str]:
        """Sample ``num_samples`` continuations of ``prime`` in one batch.

        Args:
            prime: priming text (non-empty, in-vocabulary), e.g. ``"HAMLET:\\n"``.
            length: characters to generate after the prime.
            temperature: softmax temperature, >= 0 (0 = greedy).
            top_k: keep only the ``top_k`` likeliest characters (None = all).
            seed: sampling seed; the same seed gives the same samples.
            num_samples: samples drawn in parallel (each row has its own randomness).

        Returns:
            ``num_samples`` strings, each ``prime`` followed by ``length`` characters.
        """
        self._check(temperature, top_k, length, num_samples, seed)
        prime_ids = np.repeat(self.encode_prime(prime)[None, :], num_samples, axis=0)
        k = self.vocab.size - 1 if top_k is None else int(top_k)
        ids = self._sample(tf.constant(prime_ids, tf.int32), tf.constant(length, tf.int32),
                           tf.constant(float(temperature)), tf.constant(k, tf.int32),
                           tf.constant(int(seed), tf.int32)).numpy()
        return [prime + self.vocab.decode(row) for row in ids]


class WindowedGenerator:
    """Reference sampler in the style of the Keras example: for every new character, re-feed
    the last ``window`` characters through the full model (O(window) work per character).

    For a fair speed comparison the full model is called through one ``tf.function`` on a
    fixed ``(1, window)`` shape, created (and traced on first use) once per generator, so
    repeated calls - e.g. a warm-up and a timed run - never retrace.

    Args:
        model: the trained model (training view).
        vocab: its vocabulary.
        window: characters of context re-fed for every new character (>= 1).
    """

    def __init__(self, model, vocab: Vocabulary, window: int = 100):
        check_int(window, "window")
        self.vocab, self.window = vocab, int(window)
        self._forward = tf.function(lambda x: tf.nn.softmax(model(x, training=False)[0, -1]))

    def generate(self, prime: str, length: int, seed: int = 0) -> str:
        """``prime`` (at least ``window`` characters) followed by ``length`` sampled characters."""
        if len(prime) < self.window:
            raise ValueError(f"prime must hold at least window={self.window} characters, got {len(prime)}")
        rng = np.random.default_rng(seed)
        ids = list(self.vocab.encode(prime))
        for _ in range(length):
            p = self._forward(tf.constant([ids[-self.window:]], tf.int32)).numpy().astype(np.float64)
            p[UNK_ID] = 0.0
            ids.append(int(rng.choice(len(p), p=p / p.sum())))
        return self.vocab.decode(ids)


#: A word: letters, optionally with one inner apostrophe ("o'er", "Tybalt's").
WORD_PATTERN = r"[A-Za-z]+(?:'[A-Za-z]+)?"
#: A speaker line of the cleaned plays: a capitalised name, then a colon, alone on its line.
SPEAKER_PATTERN = r"^[A-Z][A-Za-z' ]*:$"


def play_likeness(sample: str, known_words: set[str] | frozenset[str], prime: str = "") -> dict[str, float]:
    """How much a generated sample looks like a play: a regression check for generation.

    Args:
        sample: generated text, starting with ``prime`` (as :meth:`CharGenerator.generate` returns it).
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
