"""Throughput measurements, reported as ratios taken in the same run.

This machine's speed drifts (shared VMs: up to 2x between identical runs minutes
apart), so every speed here is reported next to a reference measured moments
before and after: the training rate in GFLOP/s against a large float32 ``tf.matmul``
on all cores (the best case for the same hardware). Medians over repeats damp
the noise. Nothing here is used by tests: timings are never asserted.
"""
from __future__ import annotations

import os
import statistics
import time

import keras
import numpy as np
import pandas as pd

from .model import training_flops_per_char


_GEMM_SCRIPT = """
import os, statistics, sys, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
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
    """float32 ``tf.matmul`` rate of the whole CPU in GFLOP/s, on ``n x n`` matrices (median of ``repeats``).

    Measured in a short subprocess (about 5 s, most of it importing TensorFlow) with TensorFlow's
    default threading (one product split across all cores), because this process may run each op
    on one thread (``TF_NUM_INTRAOP_THREADS=1``, as :mod:`utils.environment` sets it): the reference
    is the machine's best, whatever the setting being measured. Callers measure it just before and
    just after what they compare with it.
    """
    import subprocess
    import sys

    env = {**os.environ, "TF_NUM_INTRAOP_THREADS": "0"}  # 0: TensorFlow chooses (all cores)
    result = subprocess.run([sys.executable, "-c", _GEMM_SCRIPT, str(n), str(repeats)], env=env,
                            capture_output=True, text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])


class BatchClock(keras.callbacks.Callback):
    """Records, at the end of every training batch callback, the step index and ``time.perf_counter()``.

    With ``steps_per_execution = k`` Keras calls back once per ``k`` steps, with the index of the last
    step; steps between two records are ``batches[j] - batches[i]``.
    """

    def on_train_begin(self, logs=None):
        self.batches, self.ends = [], []

    def on_train_batch_end(self, batch, logs=None):
        self.batches.append(batch)
        self.ends.append(time.perf_counter())

    def steady_rate(self) -> float:
        """Steps per second from the end of the first callback to the end of the last."""
        if len(self.ends) < 2:
            raise ValueError("need at least two batch callbacks (fit more steps than steps_per_execution)")
        return (self.batches[-1] - self.batches[0]) / (self.ends[-1] - self.ends[0])


def training_chars_per_second(model, dataset, steps: int = 20, repeats: int = 3) -> float:
    """Characters per second of ``model.fit`` in steady state, over ``steps`` steps.

    The model must be compiled; it *is* trained by this (use a copy if that matters). One
    untimed ``fit`` first builds and traces the train step. Each timed repeat is one ``fit``
    of one execution (``model.steps_per_execution`` steps, 1 by default) plus at least ``steps``
    steps, timed from the end of that first execution to the end of the last (:class:`BatchClock`):
    the first step of every ``fit`` also waits for ``tf.data`` to start a new iterator (filling a
    shuffle buffer of every window start takes 0.1-0.5 s here), a one-off cost of each ``fit``
    call that a long training run pays once. Returns the median of ``repeats``.
    """
    x, _ = next(iter(dataset))
    chars_per_step = int(np.prod(x.shape))
    per_execution = int(getattr(model, "steps_per_execution", 1) or 1)
    fit_steps = per_execution * (1 + -(-steps // per_execution))  # whole executions: one untimed, then >= steps
    model.fit(dataset, epochs=1, steps_per_epoch=2 * per_execution, shuffle=False, verbose=0)
    rates = []
    for _ in range(repeats):
        clock = BatchClock()
        model.fit(dataset, epochs=1, steps_per_epoch=fit_steps, shuffle=False, verbose=0, callbacks=[clock])
        rates.append(clock.steady_rate() * chars_per_step)
    return statistics.median(rates)


def training_report(model, dataset, steps: int = 20, repeats: int = 3) -> dict[str, float]:
    """Training throughput (chars/s, GFLOP/s) and its ratio to the GEMM rate, same run."""
    flops = training_flops_per_char(model)
    gemm_before = gemm_gflops()
    chars_s = training_chars_per_second(model, dataset, steps, repeats)
    gemm = statistics.median([gemm_before, gemm_gflops()])
    return {"chars_per_s": chars_s, "train_gflops": chars_s * flops / 1e9, "gemm_gflops": gemm,
            "ratio_to_gemm": chars_s * flops / 1e9 / gemm, "flops_per_char": flops}


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``), or what :func:`platform.processor` says."""
    import platform
    from pathlib import Path

    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def op_time_table(events, steps: int) -> pd.DataFrame:
    """Where a training step's time goes, from profiler events of ``steps`` steps.

    Args:
        events: iterable of ``(name, duration_s)`` for the TensorFlow ops run on the CPU
            compute threads, as the profiler names them (``"<scope path>:<op type>"``;
            the LSTM time loops run inside ``.../while/...``, the backward pass inside
            ``gradient_tape/...``). Events without an op type are ignored.
        steps: number of training steps the events cover (>= 1).

    Returns:
        One row per (``part``, ``op``), sorted by time: ``part`` is one of
        ``"LSTM loop, forward"``, ``"LSTM loop, backward"``, ``"outside the loops, forward"``,
        ``"outside the loops, backward"``; ``ms_per_step`` (summed over threads, so the total can
        exceed the wall time on several cores), ``calls_per_step``, ``us_per_call`` and
        ``share`` (of all op time).
    """
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an int >= 1, got {steps!r}")
    rows = []
    for name, seconds in events:
        if ":" not in name or "::" in name:  # not an op (e.g. "ExecutorState::Process", which contains ops)
            continue
        scope, op = name.rsplit(":", 1)
        loop = "LSTM loop" if "/while/" in scope else "outside the loops"
        rows.append((f"{loop}, {'backward' if 'gradient_tape' in scope else 'forward'}", op, seconds))
    frame = pd.DataFrame(rows, columns=["part", "op", "seconds"])
    table = frame.groupby(["part", "op"]).agg(ms_per_step=("seconds", "sum"), calls_per_step=("seconds", "size"))
    table["ms_per_step"] *= 1000 / steps
    table["calls_per_step"] /= steps
    table["us_per_call"] = 1000 * table["ms_per_step"] / table["calls_per_step"]
    table["share"] = table["ms_per_step"] / table["ms_per_step"].sum()
    return table.sort_values("ms_per_step", ascending=False).reset_index()
