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


def unrolled_model(model: keras.Model, seq_len: int) -> keras.Model:
    """``model`` with every LSTM loop unrolled over a fixed ``seq_len`` (same weights, copied).

    A speed experiment for the CPU (``benchmarks/benchmark.py --unroll``): the time loop becomes
    ``seq_len`` explicit steps that the graph optimiser (or XLA) can see whole. It takes inputs of
    exactly ``(B, seq_len)`` and is not cuDNN-compatible, so the notebook keeps the plain model.
    """
    _check_model(model)
    seq_len = check_int(seq_len, "seq_len")
    ids = keras.Input(shape=(seq_len,), dtype="int32", name="ids")
    view = keras.models.clone_model(model, input_tensors=ids,
                                    clone_function=lambda layer: _clone_layer(layer, unroll=True))
    return copy_weights(model, view)


class HoistedLSTM(layers.Layer):
    """A ``keras.layers.LSTM``'s forward pass with the input projection hoisted out of the time loop.

    Keras' LSTM multiplies ``x_t K`` inside its loop, one time step at a time; here
    ``x K + b`` is one large product over all time steps ``(B*T, D) x (D, 4H)``, and only
    ``h_{t-1} R`` stays in the loop (a ``tf.while_loop``). Same gates (i, f, c, o; sigmoid and
    tanh), zero initial state, whole sequence out, and the *source layer's own variables*, so
    outputs and gradients equal the source layer's (tested to 1e-5). A CPU speed experiment
    (``benchmarks/benchmark.py --hoist``); only the default LSTM settings are supported.

    Args:
        source: a built ``keras.layers.LSTM`` with Keras' default activations, a bias,
            ``return_sequences=True`` and no dropout, masking, reversal or statefulness.
    """

    def __init__(self, source, **kwargs):
        cell = source.cell
        unsupported = {"activation": cell.activation is not keras.activations.tanh,
                       "recurrent_activation": cell.recurrent_activation is not keras.activations.sigmoid,
                       "use_bias": not cell.use_bias, "dropout": bool(cell.dropout or cell.recurrent_dropout),
                       "return_sequences": not source.return_sequences, "return_state": source.return_state,
                       "go_backwards": source.go_backwards, "stateful": source.stateful}
        if any(unsupported.values()):
            raise ValueError(f"HoistedLSTM supports the default LSTM settings only; {source.name!r} differs in "
                             f"{[name for name, bad in unsupported.items() if bad]}")
        super().__init__(name=source.name + "_hoisted", **kwargs)
        self.source = source

    def call(self, x):
        import tensorflow as tf

        cell = self.source.cell
        z_in = tf.transpose(tf.einsum("btd,dg->btg", x, cell.kernel) + cell.bias, [1, 0, 2])  # (T, B, 4H)
        steps, zero = tf.shape(z_in)[0], tf.zeros((tf.shape(x)[0], cell.units), x.dtype)
        z_steps = tf.TensorArray(x.dtype, size=steps).unstack(z_in)

        def step(t, h, c, hs):
            i, f, g, o = tf.split(z_steps.read(t) + tf.matmul(h, cell.recurrent_kernel), 4, axis=-1)
            c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
            h = tf.sigmoid(o) * tf.tanh(c)
            return t + 1, h, c, hs.write(t, h)

        *_, hs = tf.while_loop(lambda t, *_: t < steps, step, (0, zero, zero, tf.TensorArray(x.dtype, size=steps)))
        return tf.transpose(hs.stack(), [1, 0, 2])  # (B, T, H)


def hoisted_model(model: keras.Model) -> keras.Model:
    """``model`` with every LSTM layer computed by :class:`HoistedLSTM` (same layers, same weights).

    A speed experiment for the CPU (``benchmarks/benchmark.py --hoist``): the view *shares* every
    layer, and so every weight, with ``model``; training it trains ``model``.
    """
    _check_model(model)

    def call(layer, *args, **kwargs):
        if not isinstance(layer, layers.LSTM):
            return layer(*args, **kwargs)
        if kwargs.get("mask") is not None or kwargs.get("initial_state") is not None:
            raise ValueError(f"HoistedLSTM supports neither masks nor initial states ({layer.name!r} gets one)")
        return HoistedLSTM(layer)(*args)

    ids = keras.Input(shape=(None,), dtype="int32", name="ids")
    logits = model._run_through_graph(ids, operation_fn=lambda layer: layer, call_fn=call)
    return keras.Model(ids, logits, name=model.name + "_hoisted")


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

    Two FLOPs per multiply-add, read from the kernels' shapes; works for the plain model and its
    views (:class:`HoistedLSTM` counts as its source layer).
    """
    forward = 0.0
    for layer in model.layers:
        layer = layer.source if isinstance(layer, HoistedLSTM) else layer
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
