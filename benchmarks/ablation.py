"""Depth x dropout ablation of the character LSTM at equal wall-clock training time.

Run from the repository root (about 80 minutes on 2 CPU cores with the defaults):

    .venv/bin/python benchmarks/ablation.py                      # writes benchmarks/results/ablation.csv
    .venv/bin/python benchmarks/ablation.py --budget-steps 200 --only default --out /tmp/quick.csv
    .venv/bin/python benchmarks/ablation.py --only "1 layer, no dropout" --multipliers 3   # one row

Model, compile step and defaults are the notebook's own (its ``shared-code`` cells and its
parameters cell, through :mod:`utils.notebook_code`).

Every configuration trains for the same *wall-clock* budget. The budget is the time the
notebook's default model needs for its own ``EPOCHS * STEPS_PER_EPOCH`` steps (``--budget-steps``),
so the base budget is exactly the notebook's on any machine. First the seconds per training
step of every configuration are measured together (the real model on real batches, many short
interleaved rounds, median), so all are measured under the same machine conditions; a
configuration gets ``budget_steps * default_step_s / its_step_s`` steps. Then each model is trained for exactly that
many steps, with the notebook's cosine learning-rate schedule stretched over them. So a
slower (deeper) model gets fewer updates, as it would in a fixed amount of time, and the
results do not depend on how busy the machine is *while* training (only the measured
training time does). The
trained model is scored on the held-out plays with the project's stream evaluator (every
character, state carried: :func:`utils.evaluation.stream_log_probs`), validation and test.

The CSV has one row per run: the configuration, the steps and measured training time,
training throughput, held-out bits per character, and - so that runs from different machines
and days are not mixed up - the date, the CPU, the core count and the float32 ``tf.matmul``
GEMM rate measured in the same run. Because the budget is set by the default's step count and
the step-time *ratios* of one run, the step counts hardly depend on how fast the machine is that
day (the seconds do); still, compare rows of one file.
"""
from __future__ import annotations

import argparse
import csv
import datetime
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import utils.environment as environment  # noqa: E402  (before TensorFlow)

from utils.notebook_code import notebook_parameters, shared_code  # noqa: E402

_NB = notebook_parameters()
#: The notebook's defaults (its parameters cell); every configuration below changes some of them.
DEFAULT = {"layers": _NB["NUM_LAYERS"], "units": _NB["UNITS"], "dropout": _NB["DROPOUT"],
           "skip": _NB["SKIP_CONNECTIONS"], "embedding_dim": _NB["EMBEDDING_DIM"], "batch": _NB["BATCH_SIZE"],
           "seq_len": _NB["SEQ_LEN"], "learning_rate": _NB["LEARNING_RATE"]}
CLIPNORM = _NB["CLIPNORM"]
FIELDS = ["date", "cpu", "cores", "gemm_gflops", "config", "budget_multiplier", "budget_steps", "budget_s", *DEFAULT, "parameters",
          "probe_step_s", "steps", "train_time_s", "chars_per_s", "valid_bpc", "test_bpc"]

#: ``(name, budget multiplier, overrides of DEFAULT)``, run in this order.
CONFIGS = [
    ("default", 1, {}),
    ("1 layer, no dropout", 1, {"layers": 1, "dropout": 0.0}),
    ("default, no dropout", 1, {"dropout": 0.0}),
    ("1 layer", 1, {"layers": 1}),
    ("default", 3, {}),
    ("1 layer, no dropout", 3, {"layers": 1, "dropout": 0.0}),
    ("default, dropout 0.2", 1, {"dropout": 0.2}),
    ("3 layers", 1, {"layers": 3}),
]


def parse_overrides(text: str) -> dict:
    """``"layers=2,dropout=0.1"`` -> ``{"layers": 2, "dropout": 0.1}`` (types from :data:`DEFAULT`)."""
    out = {}
    for item in filter(None, text.split(",")):
        key, _, value = item.partition("=")
        if key not in DEFAULT:
            raise SystemExit(f"unknown setting {key!r}; known: {', '.join(DEFAULT)}")
        kind = type(DEFAULT[key])
        out[key] = (value.lower() in ("1", "true", "yes")) if kind is bool else kind(value)
    return out


def bits_per_char(log_p) -> float:
    """Mean of ``-log2 p`` over characters, from natural-log probabilities ``log_p``."""
    import numpy as np

    return float(-np.mean(log_p) / np.log(2.0))


def select_configs(configs, only=(), max_multiplier: int = 3, multipliers=()) -> list:
    """The ``(name, multiplier, settings)`` entries of ``configs`` to run, in their order.

    Args:
        only: exact config names to keep (empty: all); an unknown name is a ValueError listing the known ones.
        max_multiplier: drop entries with a larger budget multiplier.
        multipliers: budget multipliers to keep (empty: all).
    """
    known = {name for name, _, _ in configs}
    unknown = sorted(set(only) - known)
    if unknown:
        raise ValueError(f"unknown config name(s) {unknown}; choose from {sorted(known)}")
    return [c for c in configs if (not only or c[0] in only) and c[1] <= max_multiplier
            and (not multipliers or c[1] in multipliers)]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget-steps", type=int, default=_NB["EPOCHS"] * _NB["STEPS_PER_EPOCH"],
                        help="base budget: the time the default model takes for this many steps "
                             "(default: the notebook's EPOCHS * STEPS_PER_EPOCH)")
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help="a config name to run, exactly as in CONFIGS (repeatable; default: all); names may "
                             "contain commas, e.g. --only '1 layer, no dropout'")
    parser.add_argument("--max-multiplier", type=int, default=3, help="skip configs with a larger budget")
    parser.add_argument("--multipliers", default="", help="comma-separated budget multipliers to run (default: all)")
    parser.add_argument("--extra", action="append", default=[],
                        help="an extra config 'name:multiplier:key=value,...' (repeatable)")
    parser.add_argument("--out", default="benchmarks/results/ablation.csv")
    parser.add_argument("--seed", type=int, default=_NB["SEED"])
    parser.add_argument("--probe-steps", type=int, default=4, help="steps per timing round")
    parser.add_argument("--probe-rounds", type=int, default=15,
                        help="interleaved timing rounds (median): many short rounds, so that a burst of other "
                             "work on the machine cannot skew one configuration's step time")
    args = parser.parse_args(argv)

    environment.configure(seed=args.seed)
    import keras

    from utils.benchmark import cpu_name, gemm_gflops
    from utils.corpus import load_shakespeare
    from utils.evaluation import stream_log_probs, summarize
    from utils.pipelines import window_dataset
    from utils.splits import split_by_documents
    from utils.vocab import Vocabulary

    notebook = shared_code()  # the notebook's own build_model and compile_model

    splits = split_by_documents(load_shakespeare("data"))
    vocab = Vocabulary.from_text(splits["train"].text)
    ids = {name: vocab.encode(split.text) for name, split in splits.items()}

    configs = [(name, mult, {**DEFAULT, **over}) for name, mult, over in CONFIGS]
    for spec in args.extra:
        name, mult, over = spec.split(":", 2)
        configs.append((name, int(mult), {**DEFAULT, **parse_overrides(over)}))
    try:
        configs = select_configs(configs, args.only, args.max_multiplier,
                                 [int(m) for m in filter(None, args.multipliers.split(","))])
    except ValueError as err:
        parser.error(str(err))

    def build(cfg):
        keras.utils.set_random_seed(args.seed)
        return notebook.build_model(vocab.size, embedding_dim=cfg["embedding_dim"], units=cfg["units"],
                                    num_layers=cfg["layers"], dropout=cfg["dropout"],
                                    skip_connections=cfg["skip"])

    def data(cfg):
        return window_dataset(ids["train"], cfg["seq_len"], cfg["batch"], seed=args.seed, repeat=True)

    # 1. Seconds per training step of every configuration, measured together (interleaved rounds,
    #    median), so that all budgets are converted to steps under the same machine conditions.
    probes = {}
    # the default is always probed: its step time sets the budget, even when --only leaves it out
    for name, _, cfg in [("default", 1, DEFAULT), *configs]:
        key = (name, tuple(sorted(cfg.items())))
        if key not in probes:
            model = notebook.compile_model(build(cfg), cfg["learning_rate"], 10**9, CLIPNORM)
            probes[key] = (model, list(data(cfg).take(args.probe_steps)), [])
            for x, y in probes[key][1][:3]:
                model.train_on_batch(x, y)  # build and trace outside the timing
    for _ in range(args.probe_rounds):
        for model, batches, times in probes.values():
            t0 = time.perf_counter()
            for x, y in batches:
                model.train_on_batch(x, y)
            times.append((time.perf_counter() - t0) / len(batches))
    step_s = {key: statistics.median(times) for key, (_, _, times) in probes.items()}
    del probes
    default_key = ("default", tuple(sorted(DEFAULT.items())))
    base_budget_s = args.budget_steps * step_s[default_key]

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    new_file = not out.exists()
    with out.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        if new_file:
            writer.writeheader()
        for name, mult, cfg in configs:
            # 2. train exactly the steps that fit in the budget, the notebook's schedule stretched over them
            budget = base_budget_s * mult
            probe_s = step_s[(name, tuple(sorted(cfg.items())))]
            steps = max(1, round(budget / probe_s))
            model = notebook.compile_model(build(cfg), cfg["learning_rate"], steps, CLIPNORM)
            gemm = gemm_gflops()
            t0 = time.perf_counter()
            model.fit(data(cfg), epochs=1, steps_per_epoch=steps, shuffle=False, verbose=0)
            train_s = time.perf_counter() - t0
            scores = {split: summarize(*stream_log_probs(model, ids[split], batch_size=16, chunk_len=256),
                                       bits_per_char=bits_per_char) for split in ("valid", "test")}
            row = {"date": datetime.date.today().isoformat(), "cpu": cpu_name(), "cores": os.cpu_count(),
                   "gemm_gflops": round(gemm, 1), "config": name, "budget_multiplier": mult,
                   "budget_steps": args.budget_steps * mult, "budget_s": round(budget, 1),
                   **{k: cfg[k] for k in DEFAULT}, "parameters": model.count_params(),
                   "probe_step_s": round(probe_s, 4), "steps": steps, "train_time_s": round(train_s, 1),
                   "chars_per_s": round(steps * cfg["batch"] * cfg["seq_len"] / train_s),
                   "valid_bpc": round(scores["valid"]["bpc"], 4), "test_bpc": round(scores["test"]["bpc"], 4)}
            writer.writerow(row)
            handle.flush()
            print(f"{name} x{mult}: {steps} steps in {train_s:.0f} s, valid {row['valid_bpc']:.4f} "
                  f"test {row['test_bpc']:.4f} bpc", flush=True)


if __name__ == "__main__":
    main()
