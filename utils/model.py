"""The character model: Embedding -> stacked LSTM layers -> Dense logits (Keras functional API).

Two views of the same weights, built by one function so their wiring cannot drift apart:

* the **training model** ``ids (B, T) -> logits (B, T, V)``, each sequence starting
  from a zero state;
* the **stateful-I/O model** (``state_io=True``) that also takes every layer's
  ``(h, c)`` as inputs and returns the new ones, so a caller can carry state from
  one call to the next: for generation one character at a time
  (:mod:`utils.generation`) and for scoring long held-out text in chunks
  (:mod:`utils.evaluation`). Layers have the same names in both, so weights are
  copied by name with :func:`copy_weights`.

Graves skip connections (Graves 2013, section 2, Fig. 1): with ``skip_connections``
the embedded input reaches *every* LSTM layer (concatenated with the layer below's
output) and *every* layer's output reaches the output layer. Deep stacks then train
like shallow ones, since every layer has a short path to the input and to the loss.

The LSTM layers keep Keras' defaults (tanh, sigmoid, no recurrent dropout, no
unroll, bias on), which is also what the fused cuDNN kernel needs on a GPU.
Dropout is applied *between* layers (on the outputs that feed the next layer and
the output layer), not on the recurrent connections.
"""
from __future__ import annotations

import keras
from keras import layers


def build_char_model(vocab_size: int, *, embedding_dim: int = 64, units: int = 256, num_layers: int = 2,
                     dropout: float = 0.0, skip_connections: bool = False, state_io: bool = False,
                     stateful: bool = False, batch_size: int | None = None,
                     name: str = "char_lstm") -> keras.Model:
    """Build the character-level LSTM language model.

    Args:
        vocab_size: number of ids ``V`` (``[UNK]`` included).
        embedding_dim: width of the learned character embedding.
        units: LSTM cells per layer ``H``.
        num_layers: number of stacked LSTM layers ``L`` (>= 1).
        dropout: dropout rate between layers, in ``[0, 1)``.
        skip_connections: Graves' skip connections (see the module docstring).
        state_io: build the stateful-I/O view (inputs and outputs carry ``(h, c)``).
        stateful: Keras-stateful LSTM layers: each layer keeps its final ``(h, c)`` of one batch
            as the initial state of the next (truncated BPTT with carried state; Graves 2013
            section 3.2). Needs a fixed ``batch_size``; reset with :func:`reset_lstm_states`.
        batch_size: fixed batch size of the inputs (``None`` = any).
        name: model name.

    Returns:
        Training view: ``keras.Model`` mapping int32 ids ``(B, T)`` to float32 logits
        ``(B, T, V)``. Stateful-I/O view: inputs ``[ids, h_1, c_1, ..., h_L, c_L]`` with
        each state ``(B, H)``, outputs ``[logits, h_1, c_1, ..., h_L, c_L]``.
    """
    for arg, value, low in (("vocab_size", vocab_size, 2), ("embedding_dim", embedding_dim, 1),
                            ("units", units, 1), ("num_layers", num_layers, 1)):
        if not isinstance(value, int) or value < low:
            raise ValueError(f"{arg} must be an int >= {low}, got {value!r}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    if stateful and (state_io or not batch_size):
        raise ValueError("stateful=True needs a fixed batch_size and excludes state_io")

    ids = keras.Input(shape=(None,), batch_size=batch_size, dtype="int32", name="ids")
    inputs, outputs_states = [ids], []
    embedded = layers.Embedding(vocab_size, embedding_dim, name="embedding")(ids)
    x, layer_outputs = embedded, []
    for i in range(1, num_layers + 1):
        lstm = layers.LSTM(units, return_sequences=True, return_state=state_io, stateful=stateful,
                           name=f"lstm_{i}")
        if i > 1 and skip_connections:
            x = layers.Concatenate(name=f"skip_in_{i}")([embedded, x])
        if state_io:
            h0 = keras.Input(shape=(units,), batch_size=batch_size, name=f"h_{i}")
            c0 = keras.Input(shape=(units,), batch_size=batch_size, name=f"c_{i}")
            inputs += [h0, c0]
            x, h, c = lstm(x, initial_state=[h0, c0])
            outputs_states += [h, c]
        else:
            x = lstm(x)
        if dropout > 0:
            x = layers.Dropout(dropout, name=f"dropout_{i}")(x)
        layer_outputs.append(x)
    if skip_connections and num_layers > 1:
        x = layers.Concatenate(name="skip_out")(layer_outputs)
    logits = layers.Dense(vocab_size, name="logits")(x)
    if state_io:
        return keras.Model(inputs, [logits, *outputs_states], name=name)
    return keras.Model(ids, logits, name=name)


def model_config(model: keras.Model) -> dict:
    """The :func:`build_char_model` arguments that rebuild ``model`` (read from its layers)."""
    lstm_layers = [layer for layer in model.layers if isinstance(layer, layers.LSTM)]
    embedding = model.get_layer("embedding")
    dropouts = [layer.rate for layer in model.layers if isinstance(layer, layers.Dropout)]
    return {
        "vocab_size": embedding.input_dim,
        "embedding_dim": embedding.output_dim,
        "units": lstm_layers[0].units,
        "num_layers": len(lstm_layers),
        "dropout": dropouts[0] if dropouts else 0.0,
        "skip_connections": any(layer.name == "skip_out" or layer.name.startswith("skip_in")
                                for layer in model.layers),
    }


def zero_states(step_model: keras.Model, batch_size: int) -> list:
    """Zero ``[h_1, c_1, ..., h_L, c_L]`` (each ``(batch_size, H)``) for a stateful-I/O model."""
    import tensorflow as tf

    return [tf.zeros((batch_size, int(t.shape[-1]))) for t in step_model.inputs[1:]]


def reset_lstm_states(model: keras.Model) -> None:
    """Zero the carried ``(h, c)`` of every stateful LSTM layer of ``model``."""
    for layer in model.layers:
        if isinstance(layer, layers.LSTM) and layer.stateful:
            layer.reset_state()


def copy_weights(source: keras.Model, target: keras.Model) -> keras.Model:
    """Copy the weights of every layer of ``target`` from the same-named layer of ``source``."""
    for layer in target.layers:
        if layer.weights:
            layer.set_weights(source.get_layer(layer.name).get_weights())
    return target


def state_io_model(model: keras.Model, batch_size: int | None = None) -> keras.Model:
    """The stateful-I/O view of a trained training-view ``model``, with its weights."""
    return copy_weights(model, build_char_model(**model_config(model), state_io=True,
                                                batch_size=batch_size, name=model.name + "_state_io"))


def lstm_flops_per_char(vocab_size: int, embedding_dim: int, units: int, num_layers: int,
                        skip_connections: bool = False) -> float:
    """Floating-point operations to *train* on one character (forward + backward ~ 3x forward).

    Counts the multiply-adds (2 FLOPs each) of the LSTM matrix products and the output
    layer; element-wise gate arithmetic and the embedding lookup are ignored.
    """
    forward = 0.0
    for i in range(1, num_layers + 1):
        d_in = embedding_dim if i == 1 else units + (embedding_dim if skip_connections else 0)
        forward += 2 * (d_in + units) * 4 * units
    d_out = units * (num_layers if skip_connections else 1)
    forward += 2 * d_out * vocab_size
    return 3 * forward
