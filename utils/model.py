"""Views of the notebook's character model, derived from the model's own graph.

The notebook's ``build_model`` makes a functional model ``ids (B, T) -> logits (B, T, V)`` whose LSTM
layers start every call from a zero state. Generation, held-out scoring and truncated back-propagation
need the state carried instead:

* :func:`state_io_model`, the *state-I/O view*: same graph and weights, every LSTM layer's ``(h, c)``
  as extra inputs and outputs;
* :func:`stateful_model`: same graph with Keras-stateful LSTM layers and a fixed batch size (fresh
  weights).

Layers keep their names in every view, so :func:`copy_weights` copies weights by name.
"""
from __future__ import annotations

import math

import keras
from keras import layers

from .checks import check_int


def lstm_layers(model: keras.Model) -> list:
    """The ``keras.layers.LSTM`` layers of ``model``, in graph order."""
    return [layer for layer in model.layers if isinstance(layer, layers.LSTM)]


def _clone_layer(layer, **lstm_overrides):
    config = layer.get_config()
    if isinstance(layer, layers.LSTM):
        config.update(lstm_overrides)
    return layer.__class__.from_config(config)


def _check_model(model) -> None:
    if not isinstance(model, keras.Model) or not hasattr(model, "_run_through_graph"):
        raise TypeError(f"expected a functional keras.Model, got {type(model).__name__}")
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(f"expected one input (ids) and one output (logits), got {len(model.inputs)} "
                         f"and {len(model.outputs)}")
    if not lstm_layers(model):
        raise ValueError(f"model {model.name!r} has no keras.layers.LSTM layer")


def state_io_model(model: keras.Model, batch_size: int | None = None) -> keras.Model:
    """The state-I/O view of ``model`` (a functional ``ids -> logits`` model with LSTM layers).

    Returns:
        A model with a copy of the weights, ``[ids, h_1, c_1, ..., h_L, c_L] -> [logits, h_1, c_1, ...,
        h_L, c_L]``, states float32 ``(batch_size, units_l)``, layers in graph order.

    Raises:
        TypeError: ``model`` is not a functional Keras model.
        ValueError: it has not one input and one output, or no LSTM layer.
    """
    _check_model(model)
    state_in, state_out = [], []

    def call(layer, *args, **kwargs):
        if not isinstance(layer, layers.LSTM):
            return layer(*args, **kwargs)
        h0 = keras.Input(shape=(layer.units,), batch_size=batch_size, name=f"{layer.name}_h")
        c0 = keras.Input(shape=(layer.units,), batch_size=batch_size, name=f"{layer.name}_c")
        outputs, h, c = layer(*args, initial_state=[h0, c0], **kwargs)
        state_in.extend([h0, c0])
        state_out.extend([h, c])
        return outputs

    ids = keras.Input(shape=(None,), batch_size=batch_size, dtype="int32", name="ids")
    # What keras.models.clone_model runs, called directly: the clone gains inputs (the states).
    logits = model._run_through_graph(
        ids, operation_fn=lambda layer: _clone_layer(layer, return_state=True, stateful=False), call_fn=call)
    view = keras.Model([ids, *state_in], [logits, *state_out], name=model.name + "_state_io")
    return copy_weights(model, view)


def stateful_model(model: keras.Model, batch_size: int) -> keras.Model:
    """``model``'s architecture, new weights, with Keras-stateful LSTM layers and ``batch_size`` streams:
    each batch starts from the states the previous one left (:func:`reset_lstm_states` zeroes them)."""
    _check_model(model)
    batch_size = check_int(batch_size, "batch_size")
    ids = keras.Input(batch_shape=(batch_size, None), dtype="int32", name="ids")
    return keras.models.clone_model(model, input_tensors=ids,
                                    clone_function=lambda layer: _clone_layer(layer, stateful=True))


def zero_states(state_io: keras.Model, batch_size: int) -> list:
    """Zero ``[h_1, c_1, ..., h_L, c_L]``, each float32 ``(batch_size, units_l)``, for a state-I/O view."""
    import tensorflow as tf

    return [tf.zeros((batch_size, int(t.shape[-1]))) for t in state_io.inputs[1:]]


def reset_lstm_states(model: keras.Model) -> None:
    """Zero the carried ``(h, c)`` of every stateful LSTM layer of ``model``."""
    for layer in lstm_layers(model):
        if layer.stateful:
            layer.reset_state()


def copy_weights(source: keras.Model, target: keras.Model) -> keras.Model:
    """Copy into each layer of ``target`` the weights of the same-named layer of ``source``; returns it."""
    for layer in target.layers:
        if layer.weights:
            layer.set_weights(source.get_layer(layer.name).get_weights())
    return target


def lstm_flops_per_char(model: keras.Model) -> float:
    """Forward FLOPs per character of the LSTM matrix products ``x_t K`` and ``h_(t-1) R`` (2 per weight)."""
    return float(sum(2 * (math.prod(layer.cell.kernel.shape) + math.prod(layer.cell.recurrent_kernel.shape))
                     for layer in lstm_layers(model)))
