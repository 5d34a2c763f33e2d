"""Bits per character as a Keras metric, and unit conversions.

Cross-entropy in Keras is in *nats* (natural logarithm). Graves (2013) reports
*bits per character* (base-2 logarithm): ``bpc = nats / ln 2``. Perplexity is
``exp(nats) = 2 ** bpc``: the size of a uniform choice that is as uncertain.
"""
from __future__ import annotations

import math

import keras
from keras import ops

LN2 = math.log(2.0)


@keras.saving.register_keras_serializable(package="assignment4")
class BitsPerCharacter(keras.metrics.Mean):
    """Mean sparse categorical cross-entropy over characters, in bits.

    ``update_state(y_true, y_pred, sample_weight=None)`` takes integer targets of
    shape ``(B, T)`` and logits of shape ``(B, T, V)`` (``from_logits=True``) or
    probabilities (``from_logits=False``).

    Registered with Keras' serialisation under ``assignment4``, so a saved model that uses
    it (``best.keras``) loads wherever this module has been imported.
    """

    def __init__(self, name: str = "bpc", from_logits: bool = True, **kwargs):
        super().__init__(name=name, **kwargs)
        self.from_logits = from_logits

    def update_state(self, y_true, y_pred, sample_weight=None):
        nats = keras.losses.sparse_categorical_crossentropy(y_true, y_pred, from_logits=self.from_logits)
        return super().update_state(ops.divide(nats, LN2), sample_weight=sample_weight)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits}

