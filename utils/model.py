"""Other views of the notebook's character model, derived from the model itself.

The notebook defines the model in plain Keras (``build_model`` in section 4, a
functional model ``ids (B, T) -> logits (B, T, V)`` whose ``keras.layers.LSTM``
layers start every sequence from a zero state). Generation and held-out scoring need
to *carry* the LSTM state from one call to the next, and truncated back-propagation
needs stateful layers. Rather than a second definition that could drift from the
notebook's, these views are derived from the model's own graph:

* :func:`state_io_model` - the same graph, same weights, with every LSTM layer's
  ``(h, c)`` as extra inputs and outputs: ``[ids, h_1, c_1, ..., h_L, c_L] ->
  [logits, h_1, c_1, ..., h_L, c_L]``, layers in graph order;
* :func:`stateful_model` - the same graph with Keras-stateful LSTM layers and a fixed
  batch size (fresh weights), for truncated BPTT with carried state (Graves 2013, 3.2).

Layers keep their names in every view, so weights are copied by name
(:func:`copy_weights`). Any layer that is not an LSTM is cloned as it is.
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
    """The stateful-I/O view of ``model``: same graph and weights, LSTM states in and out.

    Args:
        model: a functional model ``ids (B, T) -> logits (B, T, V)`` with LSTM layers
            (stateful or not; the view itself is not Keras-stateful).
        batch_size: fixed batch size of the view's inputs (``None`` = any).

    Returns:
        ``keras.Model`` with inputs ``[ids, h_1, c_1, ..., h_L, c_L]`` (each state
        float32 ``(B, H_l)``) and outputs ``[logits, h_1, c_1, ..., h_L, c_L]``.
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
    # `_run_through_graph` is what keras.models.clone_model runs; it is called directly here
    # because the clone gains inputs (the states) that clone_model's own Model() call rejects.
    logits = model._run_through_graph(
        ids, operation_fn=lambda layer: _clone_layer(layer, return_state=True, stateful=False), call_fn=call)
    view = keras.Model([ids, *state_in], [logits, *state_out], name=model.name + "_state_io")
    return copy_weights(model, view)


def stateful_model(model: keras.Model, batch_size: int) -> keras.Model:
    """A fresh copy of ``model``'s architecture with Keras-stateful LSTM layers (new weights).

    Each LSTM layer keeps the final ``(h, c)`` of one batch as the initial state of the
    next (truncated BPTT with carried state); reset with :func:`reset_lstm_states`.

    Args:
        model: the training-view model (its weights are not copied).
        batch_size: the fixed number of streams per batch (>= 1).
    """
    _check_model(model)
    batch_size = check_int(batch_size, "batch_size")
    ids = keras.Input(batch_shape=(batch_size, None), dtype="int32", name="ids")
    return keras.models.clone_model(model, input_tensors=ids,
                                    clone_function=lambda layer: _clone_layer(layer, stateful=True))


def zero_states(step_model: keras.Model, batch_size: int) -> list:
    """Zero ``[h_1, c_1, ..., h_L, c_L]`` (each ``(batch_size, H)``) for a stateful-I/O model."""
    import tensorflow as tf

    return [tf.zeros((batch_size, int(t.shape[-1]))) for t in step_model.inputs[1:]]


def reset_lstm_states(model: keras.Model) -> None:
    """Zero the carried ``(h, c)`` of every stateful LSTM layer of ``model``."""
    for layer in lstm_layers(model):
        if layer.stateful:
            layer.reset_state()


def copy_weights(source: keras.Model, target: keras.Model) -> keras.Model:
    """Copy the weights of every layer of ``target`` from the same-named layer of ``source``."""
    for layer in target.layers:
        if layer.weights:
            layer.set_weights(source.get_layer(layer.name).get_weights())
    return target


def lstm_flops_per_char(model: keras.Model) -> float:
    """Forward FLOPs per character of the LSTM layers' matrix products (``x_t K`` and ``h_{t-1} R``).

    Two FLOPs per multiply-add, read from the kernels' shapes; works for the plain model and its views.
    """
    forward = 0.0
    for layer in model.layers:
        if isinstance(layer, layers.LSTM):
            forward += 2 * (math.prod(layer.cell.kernel.shape) + math.prod(layer.cell.recurrent_kernel.shape))
    return forward


def training_flops_per_char(model: keras.Model) -> float:
    """Floating-point operations to *train* on one character (forward + backward ~ 3x forward).

    Counts the multiply-adds (2 FLOPs each) of every LSTM layer's input and recurrent
    matrix products and of every Dense layer, read from their kernels; element-wise
    gate arithmetic and the embedding lookup are ignored.
    """
    dense = sum(2 * math.prod(layer.kernel.shape) for layer in model.layers if isinstance(layer, layers.Dense))
    return 3 * (lstm_flops_per_char(model) + dense)
