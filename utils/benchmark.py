"""Training throughput of a compiled model, next to the GEMM rate of the same machine."""
from __future__ import annotations

import math
import os
import statistics
import subprocess
import sys
import time

import keras
import numpy as np

from .model import lstm_flops_per_char

_GEMM_SCRIPT = """
import statistics, sys, time
import tensorflow as tf
n, repeats = int(sys.argv[1]), int(sys.argv[2])
a = tf.random.stateless_normal((n, n), seed=(1, 2))
b = tf.random.stateless_normal((n, n), seed=(3, 4))
matmul = tf.function(lambda: tf.reduce_sum(tf.matmul(a, b)))
matmul()
times = []
for _ in range(repeats):
    t0 = time.perf_counter()
    matmul().numpy()
    times.append(time.perf_counter() - t0)
print(2 * n**3 / statistics.median(times) / 1e9)
"""


def gemm_gflops(n: int = 2048, repeats: int = 5) -> float:
    """float32 ``tf.matmul`` rate of all cores in GFLOP/s, ``n x n`` matrices, median of ``repeats``.

    Runs in a subprocess with TensorFlow's default threading (one product split across all cores),
    whatever this process uses.
    """
    env = {**os.environ, "TF_NUM_INTRAOP_THREADS": "0"}  # 0: TensorFlow chooses (all cores)
    result = subprocess.run([sys.executable, "-c", _GEMM_SCRIPT, str(n), str(repeats)], env=env,
                            capture_output=True, text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])


def training_flops_per_char(model: keras.Model) -> float:
    """FLOPs to train on one character: 3 x the forward multiply-adds (2 FLOPs each) of the LSTM and
    Dense kernels; element-wise gate arithmetic and the embedding lookup are not counted."""
    dense = sum(2 * math.prod(layer.kernel.shape) for layer in model.layers
                if isinstance(layer, keras.layers.Dense))
    return 3 * (lstm_flops_per_char(model) + dense)


class BatchClock(keras.callbacks.Callback):
    """Records the step index and ``time.perf_counter()`` at every training batch callback.

    With ``steps_per_execution = k`` Keras calls back once per ``k`` steps, with the last step's index.
    """

    def on_train_begin(self, logs=None):
        self.batches, self.ends = [], []

    def on_train_batch_end(self, batch, logs=None):
        self.batches.append(batch)
        self.ends.append(time.perf_counter())

    def steady_rate(self) -> float:
        """Steps per second from the first callback to the last.

        Raises:
            ValueError: fewer than two callbacks.
        """
        if len(self.ends) < 2:
            raise ValueError("need at least two batch callbacks (fit more steps than steps_per_execution)")
        return (self.batches[-1] - self.batches[0]) / (self.ends[-1] - self.ends[0])


def training_chars_per_second(model, dataset, steps: int = 20, repeats: int = 3) -> float:
    """Characters per second of ``model.fit`` (which trains ``model``): the median of ``repeats`` fits,
    each timed over at least ``steps`` steps after its first execution (iterator start-up)."""
    x, _ = next(iter(dataset))
    chars_per_step = int(np.prod(x.shape))
    per_execution = int(getattr(model, "steps_per_execution", 1) or 1)
    fit_steps = per_execution * (1 + -(-steps // per_execution))  # one untimed execution, then >= steps
    model.fit(dataset, epochs=1, steps_per_epoch=2 * per_execution, shuffle=False, verbose=0)
    rates = []
    for _ in range(repeats):
        clock = BatchClock()
        model.fit(dataset, epochs=1, steps_per_epoch=fit_steps, shuffle=False, verbose=0, callbacks=[clock])
        rates.append(clock.steady_rate() * chars_per_step)
    return statistics.median(rates)


def training_report(model, dataset, steps: int = 20, repeats: int = 3) -> dict[str, float]:
    """``chars_per_s`` (:func:`training_chars_per_second`), ``flops_per_char``, ``train_gflops``,
    ``gemm_gflops`` (median of measurements before and after) and ``ratio_to_gemm``."""
    flops = training_flops_per_char(model)
    gemm_before = gemm_gflops()
    chars_s = training_chars_per_second(model, dataset, steps, repeats)
    gemm = statistics.median([gemm_before, gemm_gflops()])
    return {"chars_per_s": chars_s, "train_gflops": chars_s * flops / 1e9, "gemm_gflops": gemm,
            "ratio_to_gemm": chars_s * flops / 1e9 / gemm, "flops_per_char": flops}
