"""Tests for utils.distribute: strategy choice, global batch size, and mirrored == one device.

The equivalence test needs two devices. This machine has one CPU and no GPU, so a
subprocess splits the CPU into two *logical* devices before TensorFlow initialises
(that is impossible in the pytest process, where TensorFlow is already running) and
trains the same model, from the same initial weights on the same batches, under
``MirroredStrategy`` and under the default strategy.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import tensorflow as tf

from utils.distribute import choose_strategy, global_batch_size

REPO = Path(__file__).resolve().parents[1]

# Measured on this machine (TF 2.21 CPU, Keras 3.15, seeds 0-3, 5 epochs x 6 steps): without
# clipping, per-epoch training losses agreed to a relative 1.1e-7 at most (the final ones often
# exactly) and the final weights to 3.6e-7 absolute: float32 rounding from summing the two
# half-batch gradients instead of one whole-batch gradient. Tolerances are ~10x those.
LOSS_RTOL = 1e-6
WEIGHT_ATOL = 5e-6
# With clipping active (clipnorm=0.05 < every gradient norm) the weights differed by 0.12-0.26:
# Keras clips each replica's share before the all-reduce. Anything above this counts as "differs".
CLIP_DIFFERS_ATOL = 1e-2

TWO_DEVICE_SCRIPT = r"""
import json, os, warnings
warnings.filterwarnings("ignore")
import numpy as np
import utils  # the TensorFlow environment, before TensorFlow
import tensorflow as tf

# Must precede anything that initialises TensorFlow's devices.
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras
from utils.distribute import choose_strategy, global_batch_size
from utils.notebook_code import shared_code
from utils.pipelines import window_dataset

notebook = shared_code()  # the notebook's own build_model and compile_model

keras.utils.set_random_seed(0)
tf.config.experimental.enable_op_determinism()
mirrored, description = choose_strategy(prefer="mirrored")
default = tf.distribute.get_strategy()
batch = global_batch_size(4, mirrored)                # 4 per replica x 2 replicas = 8 (global)
# A learnable, fixed sequence (period 24) so the loss really falls; no shuffling.
phrase = np.array([1, 2, 3, 4, 5, 1, 2, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 3, 5, 7])
ids = np.tile(phrase, 40)[: batch * 10 * 6 + 1]       # 6 batches of 8 windows of 10 characters
ds = window_dataset(ids, seq_len=10, batch_size=batch, shuffle=False)

def build():
    return notebook.build_model(20, embedding_dim=8, units=16, num_layers=1, dropout=0.0,
                                skip_connections=False)

initial = build().get_weights()

def train(strategy, clipnorm):
    with strategy.scope():
        model = notebook.compile_model(build(), 1e-2, 10**9, clipnorm)  # decay over 1e9 steps: constant
        model.set_weights(initial)
    losses = model.fit(ds, epochs=5, verbose=0).history["loss"]
    return model, losses

out = {"description": description, "replicas": mirrored.num_replicas_in_sync,
       "default_replicas": default.num_replicas_in_sync, "global_batch": batch}
for tag, clipnorm in (("noclip", None), ("clip", 0.05)):
    m0, l0 = train(default, clipnorm)
    m1, l1 = train(mirrored, clipnorm)
    out[tag] = {"default_losses": l0, "mirrored_losses": l1,
                "max_weight_diff": max(float(np.max(np.abs(a - b)))
                                       for a, b in zip(m0.get_weights(), m1.get_weights()))}
print("RESULT " + json.dumps(out))
"""


@pytest.fixture(scope="module")
def two_device_run() -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", TWO_DEVICE_SCRIPT], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT "):])


def test_default_strategy_on_this_cpu_machine():
    if tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("TPU"):
        pytest.skip("this test describes a CPU-only machine")
    strategy, description = choose_strategy()
    assert strategy is tf.distribute.get_strategy()
    assert strategy.num_replicas_in_sync == 1
    assert description == "default strategy (1 replica, CPU)"
    assert choose_strategy(prefer="default")[1] == description


def test_choose_strategy_rejects_unknown_preference():
    with pytest.raises(ValueError, match="prefer must be one of"):
        choose_strategy(prefer="gpu")


def test_prefer_tpu_without_tpu_raises():
    if tf.config.list_physical_devices("TPU"):
        pytest.skip("a TPU is attached")
    with pytest.raises(RuntimeError, match="no TPU"):
        choose_strategy(prefer="tpu")


def test_global_batch_size():
    strategy = tf.distribute.get_strategy()
    assert global_batch_size(64, strategy) == 64 * strategy.num_replicas_in_sync
    for bad in (0, -1, 2.0, True, "8"):
        with pytest.raises(ValueError, match="per_replica"):
            global_batch_size(bad, strategy)


def test_mirrored_over_two_logical_cpus_matches_one_device(two_device_run):
    run = two_device_run
    assert run["replicas"] == 2 and run["default_replicas"] == 1
    assert run["description"] == "MirroredStrategy over 2 logical CPUs"
    assert run["global_batch"] == 8
    noclip = run["noclip"]
    default, mirrored = noclip["default_losses"], noclip["mirrored_losses"]
    assert default[-1] < 0.9 * default[0]  # the model really learned something
    assert mirrored == pytest.approx(default, rel=LOSS_RTOL)
    assert noclip["max_weight_diff"] <= WEIGHT_ATOL


def test_active_clipping_differs_under_mirrored(two_device_run):
    # Pins the caveat in utils.distribute's docstring (Keras 3.15): if this fails, Keras now
    # clips after the all-reduce and the caveat can go.
    assert two_device_run["clip"]["max_weight_diff"] > CLIP_DIFFERS_ATOL


def test_a_tpu_that_fails_to_initialise_is_an_error_not_a_cpu_run(monkeypatch):
    from utils import distribute

    class FoundResolver:  # a TPU is configured (e.g. TPU_NAME is set) ...
        def __init__(self, tpu=None):
            self.tpu = tpu

    def broken(resolver):  # ... but its system cannot be initialised
        raise tf.errors.UnavailableError(None, None, "socket closed")

    monkeypatch.setattr(tf.distribute.cluster_resolver, "TPUClusterResolver", FoundResolver)
    monkeypatch.setattr(tf.config, "experimental_connect_to_cluster", lambda resolver: None)
    monkeypatch.setattr(tf.tpu.experimental, "initialize_tpu_system", broken)
    with pytest.raises(RuntimeError, match="A TPU was found .* could not be set up: UnavailableError"):
        distribute.choose_strategy()


def test_no_tpu_configured_means_no_tpu(monkeypatch):
    from utils import distribute

    def none_here(tpu=None):
        raise ValueError("Please provide a TPU Name to connect to.")

    monkeypatch.setattr(tf.distribute.cluster_resolver, "TPUClusterResolver", none_here)
    assert distribute._tpu_strategy() is None
