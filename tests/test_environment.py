"""The TensorFlow environment: set by ``utils`` before TensorFlow whatever module comes first; one thread
per op makes training independent of the number of cores."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

TRAIN = """
import hashlib, sys
sys.path.insert(0, {repo!r})
import utils.environment as environment
environment.configure(seed=0)
import keras, numpy as np
from utils.notebook_code import shared_code
from utils.pipelines import window_dataset
notebook = shared_code()
ids = np.random.default_rng(0).integers(0, 60, 200_000).astype(np.int32)
model = notebook.build_model(60, embedding_dim=64, units=128, num_layers=2, dropout=0.05,
                             skip_connections=True)
notebook.compile_model(model, 1e-2, 20, 1.0)
model.fit(window_dataset(ids, 25, 128, seed=0, repeat=True), epochs=1, steps_per_epoch=20, verbose=0)
print(hashlib.sha256(np.concatenate([w.ravel() for w in model.get_weights()]).tobytes()).hexdigest())
"""


def _train_on(cores: set[int], env: dict) -> str:
    result = subprocess.run([sys.executable, "-c", TRAIN.format(repo=str(REPO))], capture_output=True,
                            text=True, env=env, preexec_fn=lambda: os.sched_setaffinity(0, cores), check=True)
    return result.stdout.strip().splitlines()[-1]


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs Linux and at least 2 cores")
def test_training_gives_the_same_weights_on_one_core_and_on_all():
    """With TF_NUM_INTRAOP_THREADS=1 (utils' default) no op's sums depend on the core count, so 20 training
    steps of the default model give bit-identical weights on 1 core and on all of them."""
    env = {k: v for k, v in os.environ.items() if k != "TF_NUM_INTRAOP_THREADS"}
    all_cores = os.sched_getaffinity(0)
    assert _train_on({min(all_cores)}, env) == _train_on(all_cores, env)


VARIABLES = {"TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0", "TF_NUM_INTRAOP_THREADS": "1",
             "KERAS_BACKEND": "tensorflow"}
PROBE = """
import json, os, sys
sys.path.insert(0, {repo!r})
if {utils_first}:
    import utils.evaluation  # imports TensorFlow itself
import tensorflow as tf
(tf.random.normal((64, 64)) @ tf.random.normal((64, 64))).numpy()  # starts the intra-op thread pool
threads = [open(f"/proc/self/task/{{t}}/comm").read().strip() for t in os.listdir("/proc/self/task")]
print(json.dumps({{"env": {{k: os.environ.get(k) for k in {names!r}}}, "threads": len(threads),
                  "api": tf.config.threading.get_intra_op_parallelism_threads()}}))
"""


def _probe(utils_first: bool, **env) -> dict:
    clean = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    code = PROBE.format(repo=str(REPO), utils_first=utils_first, names=sorted(VARIABLES))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env={**clean, **env})
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads in /proc")
def test_a_tensorflow_module_imported_first_still_gets_the_environment():
    """``import utils.evaluation`` first, in a fresh process with none of the variables: they are set
    before TensorFlow starts, and its runtime runs ops on one thread (as many threads as with
    TF_NUM_INTRAOP_THREADS=1 set by hand, fewer than with 3). ``get_intra_op_parallelism_threads()``
    reads 0 ("not set in Python") either way: TensorFlow's C++ runtime reads the variable itself."""
    first = _probe(utils_first=True)
    assert first["env"] == VARIABLES
    by_hand = _probe(utils_first=False, **{k: v for k, v in VARIABLES.items() if k != "KERAS_BACKEND"})
    three = _probe(utils_first=False, **{**VARIABLES, "TF_NUM_INTRAOP_THREADS": "3"})
    assert first["api"] in (0, 1) and three["threads"] > by_hand["threads"]
    assert first["threads"] == by_hand["threads"]
