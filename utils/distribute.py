"""Pick a ``tf.distribute`` strategy for the hardware at hand: TPU, several GPUs, or neither.

How to use a strategy with Keras (the same code runs on a laptop, a GPU and a TPU)::

    strategy, description = choose_strategy()
    with strategy.scope():                       # variables are created here ...
        model = build_model(vocab.size, ...)     # the notebook's build_model and compile_model
        compile_model(model, ...)                # ... and so are the optimizer's slots and metrics
    train_ds = window_dataset(ids, SEQ_LEN, global_batch_size(per_replica, strategy), repeat=True)
    model.fit(train_ds, ...)                     # no scope needed: fit distributes by itself

* **Build and compile inside** ``strategy.scope()``. The scope decides where the
  variables live: mirrored on every replica (``MirroredStrategy``), on the TPU cores
  (``TPUStrategy``) or in the ordinary place (the default strategy). The model's
  weights, the optimizer's state and the metrics are all variables, so both the
  notebook's ``build_model`` and ``compile_model`` must run in the scope. ``fit``,
  ``evaluate`` and ``predict`` later enter the model's strategy themselves.
* **Keras distributes the** ``tf.data`` **dataset itself.** Batch the dataset with the
  *global* batch size; ``fit`` splits every global batch of ``B`` examples into
  ``num_replicas_in_sync`` per-replica batches of ``B / num_replicas_in_sync``, runs
  them in parallel and sums the gradients, each replica's loss having been divided by
  the number of replicas. The update is therefore the gradient of the *mean loss over
  the global batch*: the same update as one device computing on the whole batch (up
  to the order of floating-point additions, see ``tests/test_distribute.py``).
* **The learning rate is not changed.** Because the update is the same as on one
  device with the same global batch, the same learning rate is right for it.
  Scaling matters only when you *grow* the global batch to keep every replica as busy
  as before (per-replica batch fixed, more replicas): the gradient then averages over
  more examples and is less noisy, and a larger step is often affordable. Common
  heuristics are the linear rule (SGD; Goyal et al. 2017, with a warm-up) and a
  square-root rule for Adam; both are starting points to check on the validation
  loss, not guarantees, which is why nothing here scales the rate for you.
* **Gradient clipping is per replica.** In Keras 3.15's TensorFlow backend the
  optimizer clips (``global_clipnorm``) *before* it all-reduces the gradients, so with
  ``N`` replicas each replica's share is clipped to ``clipnorm`` and their sum can
  reach ``N * clipnorm``. While clipping is inactive this changes nothing; when it is
  active the distributed run differs from a one-device run (``tests/test_distribute.py``
  measures both cases). Dividing ``clipnorm`` by ``N`` gives a comparable, not an
  identical, bound.

None of the functions print; :func:`choose_strategy` returns a one-line description
for the caller to show.
"""
from __future__ import annotations

import tensorflow as tf

from .checks import check_int

#: Values accepted by ``choose_strategy(prefer=...)``.
PREFER_CHOICES = (None, "auto", "default", "mirrored", "tpu")


def _tpu_strategy() -> tuple[tf.distribute.Strategy, str] | None:
    """A ``TPUStrategy`` when a TPU is attached, ``None`` when there is none.

    First tries ``TPUClusterResolver()`` with no arguments, which resolves the TPU from
    the environment (``TPU_NAME`` etc., as set on Colab's TPU runtime and Cloud TPU
    nodes) and raises ``ValueError`` at once when there is none. Then, only if
    TensorFlow lists a physical TPU device, a directly attached TPU (``tpu="local"``,
    a TPU VM). A TPU that is found but cannot be connected or initialised is an error
    (``RuntimeError``), not a silent fall-back to the CPU. No real TPU was available for
    the tests; they exercise both paths with a stand-in resolver.
    """
    candidates: list[str | None] = [None]
    try:
        if tf.config.list_physical_devices("TPU"):
            candidates.append("local")
    except Exception:  # noqa: BLE001 - device listing must not break strategy choice
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
        except Exception as exc:  # noqa: BLE001 - a TPU is there but failed: say so, never fall back silently
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
    """Choose the distribution strategy for this machine.

    Automatic choice (``prefer`` is ``None`` or ``"auto"``), first match wins:

    1. a TPU is attached (Colab TPU runtime, Cloud TPU): ``TPUStrategy``, after
       connecting to it and initialising the TPU system;
    2. more than one GPU is visible: ``MirroredStrategy`` over all of them;
    3. otherwise the default strategy ``tf.distribute.get_strategy()`` (one replica on
       the single GPU or on the CPU; inside another strategy's scope, that strategy).

    Call it once, early: initialising a TPU, or creating a ``MirroredStrategy``,
    fixes TensorFlow's devices for the rest of the process.

    Args:
        prefer: force a choice instead: ``"default"`` (the default strategy),
            ``"mirrored"`` (``MirroredStrategy`` over the visible GPUs, or over the
            logical CPUs when there is no GPU; this is what the tests use after
            splitting the CPU into two logical devices) or ``"tpu"`` (``TPUStrategy``,
            an error if no TPU can be reached). ``None`` or ``"auto"``: automatic.

    Returns:
        ``(strategy, description)``: a ``tf.distribute.Strategy`` and a one-line
        description such as ``"default strategy (1 replica, CPU)"``,
        ``"MirroredStrategy over 2 GPUs"`` or ``"TPUStrategy over 8 TPU cores"``.

    Raises:
        ValueError: ``prefer`` is not one of ``None, "auto", "default", "mirrored", "tpu"``.
        RuntimeError: ``prefer="tpu"`` and no TPU could be reached.
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
    """The global batch size that gives every replica ``per_replica`` examples per step.

    Batch the ``tf.data`` dataset with this number: Keras ``fit`` splits each global
    batch evenly across the ``strategy.num_replicas_in_sync`` replicas.

    Args:
        per_replica: examples per replica per step (int >= 1).
        strategy: a ``tf.distribute.Strategy`` (e.g. from :func:`choose_strategy`).

    Returns:
        ``per_replica * strategy.num_replicas_in_sync`` (int >= 1).

    Raises:
        ValueError: ``per_replica`` is not an int >= 1, or the strategy reports no replica.
    """
    check_int(per_replica, "per_replica")
    replicas = int(strategy.num_replicas_in_sync)
    if replicas < 1:
        raise ValueError(f"strategy has {replicas} replicas in sync; expected >= 1")
    return per_replica * replicas
