"""Bits per character as a Keras metric."""
from __future__ import annotations

import keras
from keras import ops

from .units import LN2


@keras.saving.register_keras_serializable(package="assignment4")
class BitsPerCharacter(keras.metrics.Mean):
    """Mean sparse categorical cross-entropy over characters, in bits.

    ``update_state(y_true, y_pred, sample_weight=None)`` takes int targets ``(B, T)`` and logits
    ``(B, T, V)`` (or probabilities with ``from_logits=False``). Registered with Keras under
    ``assignment4``, so a saved model that uses it loads once this module is imported.
    """

    def __init__(self, name: str = "bpc", from_logits: bool = True, **kwargs):
        super().__init__(name=name, **kwargs)
        self.from_logits = from_logits

    def update_state(self, y_true, y_pred, sample_weight=None):
        nats = keras.losses.sparse_categorical_crossentropy(y_true, y_pred, from_logits=self.from_logits)
        return super().update_state(ops.divide(nats, LN2), sample_weight=sample_weight)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits}
