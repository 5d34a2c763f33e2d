"""utils.environment: one thread per op makes training independent of the number of cores."""
from __future__ import annotations

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
model = notebook.build_model(60, embedding_dim=64, units=128, num_layers=2, dropout=0.05, skip_connections=True)
notebook.compile_model(model, 1e-2, 20, 1.0)
model.fit(window_dataset(ids, 25, 128, seed=0, repeat=True), epochs=1, steps_per_epoch=20, verbose=0)
print(hashlib.sha256(np.concatenate([w.ravel() for w in model.get_weights()]).tobytes()).hexdigest())
"""


def _train_on(cores: set[int], env: dict) -> str:
    result = subprocess.run([sys.executable, "-c", TRAIN.format(repo=str(REPO))], capture_output=True, text=True,
                            env=env, preexec_fn=lambda: os.sched_setaffinity(0, cores), check=True)
    return result.stdout.strip().splitlines()[-1]


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs Linux and at least 2 cores")
def test_training_gives_the_same_weights_on_one_core_and_on_all():
    """With TF_NUM_INTRAOP_THREADS=1 (utils.environment's default) no op's sums depend on the core count, so
    20 training steps of the default model give bit-identical weights on 1 core and on all of them. (With
    TensorFlow's default threading they differ: that is why trained numbers used to move between machines.)"""
    env = {k: v for k, v in os.environ.items() if k != "TF_NUM_INTRAOP_THREADS"}
    all_cores = os.sched_getaffinity(0)
    assert _train_on({min(all_cores)}, env) == _train_on(all_cores, env)
