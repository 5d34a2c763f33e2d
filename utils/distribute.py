"""Choose a ``tf.distribute`` strategy for the hardware at hand: a TPU, several GPUs, or neither.

Build and compile the model inside ``strategy.scope()`` (weights, optimizer state and metrics are
variables) and batch the dataset with :func:`global_batch_size`; ``fit`` splits each global batch
across the replicas and sums their gradients, so one step equals a one-device step on the whole
batch and the learning rate stays as it is. Caveat (Keras 3.15): the optimizer clips each replica's
gradient before the all-reduce, so with N replicas an active ``global_clipnorm`` bounds the summed
gradient only by ``N * clipnorm``.
"""
from __future__ import annotations

import tensorflow as tf

from .checks import check_int

#: Values accepted by ``choose_strategy(prefer=...)``.
PREFER_CHOICES = (None, "auto", "default", "mirrored", "tpu")


def _tpu_strategy() -> tuple[tf.distribute.Strategy, str] | None:
    """``(TPUStrategy, description)`` for the TPU the environment names, or a local one, else None.

    Raises:
        RuntimeError: a TPU was found but could not be set up.
    """
    candidates: list[str | None] = [None]
    try:
        if tf.config.list_physical_devices("TPU"):
            candidates.append("local")
    except Exception:  # device listing must not break the choice
        pass
    for tpu in candidates:
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
        except ValueError:  # no TPU configured here: the resolver finds none at once
            continue
        try:
            if tpu != "local":  # a directly attached TPU needs no remote connection
                tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
            strategy = tf.distribute.TPUStrategy(resolver)
        except Exception as exc:  # a TPU is there but failed: say so, never fall back to the CPU
            raise RuntimeError(
                f"A TPU was found ({tpu or 'from the environment'}) but could not be set up: "
                f"{type(exc).__name__}: {exc}. Restart the runtime and run again, or choose a runtime "
                f"without a TPU to train on the CPU or GPU.") from exc
        n = strategy.num_replicas_in_sync
        return strategy, f"TPUStrategy over {n} TPU core{'s' if n != 1 else ''}"
    return None


def _mirrored_strategy() -> tuple[tf.distribute.Strategy, str]:
    """``MirroredStrategy`` over all visible GPUs, or over all logical CPUs if there is no GPU."""
    gpus = tf.config.list_logical_devices("GPU")
    if gpus:
        devices, kind = [d.name for d in gpus], "GPU"
    else:
        devices, kind = [d.name for d in tf.config.list_logical_devices("CPU")], "logical CPU"
    strategy = tf.distribute.MirroredStrategy(devices)
    n = strategy.num_replicas_in_sync
    return strategy, f"MirroredStrategy over {n} {kind}{'s' if n != 1 else ''}"


def choose_strategy(prefer: str | None = None) -> tuple[tf.distribute.Strategy, str]:
    """The distribution strategy for this machine; call it once, early.

    Automatically (``prefer`` None or ``"auto"``): ``TPUStrategy`` if a TPU is attached, else
    ``MirroredStrategy`` if more than one GPU is visible, else the default strategy.

    ``prefer`` forces ``"default"``, ``"mirrored"`` (over the GPUs, or the logical CPUs) or ``"tpu"``.

    Returns:
        ``(strategy, description)``, e.g. ``"default strategy (1 replica, CPU)"``.

    Raises:
        ValueError: an unknown ``prefer``.
        RuntimeError: ``prefer="tpu"`` and no TPU could be reached, or a TPU failed to set up.
    """
    if prefer not in PREFER_CHOICES:
        raise ValueError(f"prefer must be one of {PREFER_CHOICES}, got {prefer!r}")
    if prefer == "tpu":
        found = _tpu_strategy()
        if found is None:
            raise RuntimeError("prefer='tpu' but no TPU could be reached (TPUClusterResolver failed); "
                               "on Colab choose Runtime > Change runtime type > TPU")
        return found
    if prefer == "mirrored":
        return _mirrored_strategy()
    if prefer in (None, "auto"):
        found = _tpu_strategy()
        if found is not None:
            return found
        if len(tf.config.list_logical_devices("GPU")) > 1:
            return _mirrored_strategy()
    strategy = tf.distribute.get_strategy()
    n = strategy.num_replicas_in_sync
    if n == 1:
        device = "GPU" if tf.config.list_logical_devices("GPU") else "CPU"
        return strategy, f"default strategy (1 replica, {device})"
    return strategy, f"{type(strategy).__name__} (the enclosing scope's strategy, {n} replicas)"


def global_batch_size(per_replica: int, strategy: tf.distribute.Strategy) -> int:
    """``per_replica * strategy.num_replicas_in_sync``: the batch size that gives every replica
    ``per_replica`` examples per step.

    Raises:
        ValueError: ``per_replica`` is not an int >= 1, or the strategy reports no replica.
    """
    check_int(per_replica, "per_replica")
    replicas = int(strategy.num_replicas_in_sync)
    if replicas < 1:
        raise ValueError(f"strategy has {replicas} replicas in sync; expected >= 1")
    return per_replica * replicas
