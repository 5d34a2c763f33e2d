"""Named sets of notebook parameters for a laptop, a Colab GPU and a Colab TPU.

A preset overrides some of the notebook's parameters (the names in its parameters
cell); everything it does not name keeps its value. :func:`apply_preset` refuses to
set a name the notebook does not have, so a typo in a preset fails loudly instead of
creating a variable nothing reads.

Usage (a ``PRESET`` parameter, e.g. set by papermill ``-p PRESET colab-gpu``)::

    params = {name: globals()[name] for name in ("EMBEDDING_DIM", "UNITS", ...)}
    globals().update(apply_preset(PRESET, params, defaults=notebook_parameters()))

``BATCH_SIZE`` is *per replica*, as everywhere in the notebook: under a distribution
strategy (:mod:`utils.distribute`) the ``tf.data`` pipeline puts
``BATCH_SIZE * num_replicas_in_sync`` windows in one step (the global batch), and each
replica computes on ``BATCH_SIZE`` of them. On one CPU or GPU the two are the same.

The GPU and TPU presets' ``"expected"`` texts are estimates from the model size and the
hardware, not measurements.
"""
from __future__ import annotations

import copy

_GPU_MODEL = {"EMBEDDING_DIM": 64, "UNITS": 512, "NUM_LAYERS": 2, "DROPOUT": 0.2, "SEQ_LEN": 200}

#: ``{name: {"description": str, "expected": str, "params": {PARAMETER: value}}}``.
PRESETS: dict[str, dict] = {
    "cpu-laptop": {
        "description": "The notebook's defaults (its parameters cell), sized for 2 CPU cores.",
        "expected": "Expected: the training time and quality of the committed notebook "
                    "(sections 5.3 and 6.3).",
        "params": {},
    },
    "colab-gpu": {
        "description": "Two 512-unit layers with dropout 0.2, 200-character windows, batch 256, "
                       "30 x 300 steps: for one Colab GPU (T4 or better).",
        "expected": "Expectation, not measured: roughly 1-2 minutes per epoch on a T4 (cuDNN LSTM), so "
                    "at most about an hour for 30 epochs (early stopping may end sooner); a clearly "
                    "lower validation bpc than cpu-laptop, which reads each character < 3 times.",
        "params": {**_GPU_MODEL, "BATCH_SIZE": 256, "LEARNING_RATE": 3e-3, "EPOCHS": 30,
                   "STEPS_PER_EPOCH": 300},
    },
    "colab-tpu": {
        "description": "The colab-gpu model with BATCH_SIZE 128 windows per replica (the notebook's "
                       "BATCH_SIZE is per replica): a global batch of 1024 on a TPU v2-8 (8 cores).",
        "expected": "Expectation, not measured (no TPU was available): each step reads 4x the "
                    "characters of colab-gpu, so 30 x 150 steps read about twice its data; time per "
                    "epoch depends on the TPU generation. Quality similar to or better than colab-gpu.",
        # BATCH_SIZE is per replica: the global batch is 1024 = 128 x 8 TPU cores (see utils.distribute). The
        # global batch is 4x colab-gpu's, so the gradient is less noisy and the learning rate is
        # raised by sqrt(4) = 2 (the square-root heuristic for Adam; a starting point, not tuned).
        # CLIPNORM is left alone; note that Keras clips each replica's gradient share, so the
        # effective bound is looser than on one device (see utils.distribute).
        "params": {**_GPU_MODEL, "BATCH_SIZE": 128, "LEARNING_RATE": 6e-3, "EPOCHS": 30,
                   "STEPS_PER_EPOCH": 150},
    },
    "grading": {
        "description": "A tiny budget for autograding and tests: the default model, 2 x 100 training steps, "
                       "every other section shrunk; the checks tuned to the default budget are skipped.",
        "expected": "Expected: the whole notebook in a few minutes on 2 CPU cores; a model that has only "
                    "begun to learn (validation about 3 bits/char).",
        "params": {"EPOCHS": 2, "STEPS_PER_EPOCH": 100, "TBPTT_EPOCHS": 1, "TBPTT_STEPS_PER_EPOCH": 10,
                   "NGRAM_ORDERS": (3, 5), "DYNAMIC_CHARS": 20_000, "MEMORY_LENGTHS": (100,),
                   "BENCHMARK": False, "MDN_EPOCHS": 3, "SYNTH_RENDERINGS": 300, "SYNTH_STEPS": 20},
    },
}


def explicit_overrides(name: str | None, params: dict, defaults: dict) -> dict:
    """The parameters the preset ``name`` would set but that were set explicitly (e.g. by papermill
    ``-p UNITS 256``): ``{NAME: explicit value}``. A value counts as explicit when it differs from
    the notebook's default (an explicit value *equal* to the default cannot be told apart)."""
    if name is None:
        return {}
    _check_name(name)
    return {k: params[k] for k in PRESETS[name]["params"] if k in params and k in defaults
            and params[k] != defaults[k]}


def _check_name(name) -> None:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; valid presets: {', '.join(sorted(PRESETS))} "
                         f"(or None for no preset)")


def apply_preset(name: str | None, params: dict, defaults: dict | None = None) -> dict:
    """The notebook parameters ``params`` with the preset ``name`` applied.

    Args:
        name: a key of :data:`PRESETS`, or ``None`` for no preset.
        params: ``{PARAMETER_NAME: value}``, the notebook's current parameters. Not modified.
        defaults: the notebook's default values (its parameters cell). When given, explicit
            parameters win: a parameter whose value differs from its default keeps it, and the
            preset sets only the others (see :func:`explicit_overrides`).

    Returns:
        A new dict: a (deep) copy of ``params`` with the preset's values set. With
        ``name=None`` an unchanged copy.

    Raises:
        ValueError: ``name`` is not a preset (the message lists the valid names), or
            the preset sets a parameter that ``params`` does not have (the message names it).
    """
    result = copy.deepcopy(dict(params))
    if name is None:
        return result
    _check_name(name)
    unknown = [key for key in PRESETS[name]["params"] if key not in result]
    if unknown:
        raise ValueError(f"preset {name!r} sets parameter(s) {unknown} that the notebook does not have; "
                         f"known parameters: {sorted(result)}")
    kept = explicit_overrides(name, params, defaults) if defaults is not None else {}
    result.update(copy.deepcopy({k: v for k, v in PRESETS[name]["params"].items() if k not in kept}))
    return result
