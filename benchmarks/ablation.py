"""Depth, width and dropout of the character LSTM at equal training time, several seeds each.

Run from the repository root (about an hour on 2 CPU cores with the defaults):

    .venv/bin/python benchmarks/ablation.py                  # writes benchmarks/results/ablation.csv
    .venv/bin/python benchmarks/ablation.py --budget-steps 100 --seeds 42 --only "2 x 128" --out /tmp/a.csv

Every configuration gets the same training time: the time the first configuration needs for
``--budget-steps`` steps. Step times are measured first, in this process and with nothing else
running: each model trains through ``fit`` on the same cached batches, in short interleaved rounds
(median), the way the notebook trains. A configuration then trains for
``budget_steps * first_step_s / its_step_s`` steps, with the notebook's own ``build_model``,
``compile_model`` and cosine schedule stretched over those steps, and is scored on the held-out
plays with the state carried. Because the steps are fixed before training, a result does not
depend on how busy the machine is while it trains, so runs may train side by side (``--jobs``).
"""

from __future__ import annotations

import argparse
import csv
import datetime
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.benchmark import cpu_name  # noqa: E402
from utils import environment  # noqa: E402
from utils.notebook_code import notebook_parameters, shared_code  # noqa: E402
from utils.units import nats_to_bits  # noqa: E402

_NB = notebook_parameters()
BASE = {
    "layers": _NB["NUM_LAYERS"],
    "units": _NB["UNITS"],
    "dropout": _NB["DROPOUT"],
    "skip": _NB["SKIP_CONNECTIONS"],
    "embedding_dim": _NB["EMBEDDING_DIM"],
    "batch": _NB["BATCH_SIZE"],
    "seq_len": _NB["SEQ_LEN"],
    "learning_rate": _NB["LEARNING_RATE"],
    "clipnorm": _NB["CLIPNORM"],
}
#: ``name -> changes to BASE``; the first sets the time budget.
CONFIGS = {
    "2 x 128": {"layers": 2, "units": 128, "dropout": 0.05},
    "2 x 128, no dropout": {"layers": 2, "units": 128, "dropout": 0.0},
    "3 x 128": {"layers": 3, "units": 128, "dropout": 0.05},
    "2 x 192": {"layers": 2, "units": 192, "dropout": 0.05},
}
FIELDS = [
    "date",
    "cpu",
    "cores",
    "jobs",
    "config",
    "seed",
    *BASE,
    "parameters",
    "step_s",
    "budget_steps",
    "budget_s",
    "steps",
    "train_time_s",
    "valid_bpc",
    "test_bpc",
]
EVAL_LAYOUT = {"batch_size": 16, "chunk_len": 256}


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def seed_list(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not seeds or any(not 0 <= s < 2**32 for s in seeds):
        raise argparse.ArgumentTypeError(f"expected integers in [0, 2**32), got {text!r}")
    return seeds


_DATA: dict = {}


def _data():
    """``(vocab, {split: ids})`` of the notebook's corpus, loaded once per process."""
    if not _DATA:
        from utils.corpus import load_shakespeare
        from utils.splits import split_by_documents
        from utils.vocab import Vocabulary

        splits = split_by_documents(load_shakespeare(str(ROOT / "data")))
        vocab = Vocabulary.from_text(splits["train"].text)
        _DATA.update(vocab=vocab, ids={name: vocab.encode(s.text) for name, s in splits.items()})
    return _DATA["vocab"], _DATA["ids"]


def _model(cfg: dict, seed: int, steps: int):
    import keras

    notebook = shared_code()
    vocab, _ = _data()
    keras.utils.set_random_seed(seed)
    model = notebook.build_model(
        vocab.size,
        embedding_dim=cfg["embedding_dim"],
        units=cfg["units"],
        num_layers=cfg["layers"],
        dropout=cfg["dropout"],
        skip_connections=cfg["skip"],
    )
    return notebook.compile_model(model, cfg["learning_rate"], steps, cfg["clipnorm"])


def step_times(configs: dict, steps: int, rounds: int, seed: int) -> dict[str, float]:
    """Median seconds per ``fit`` step of each configuration, measured in interleaved rounds."""
    import keras
    import tensorflow as tf

    from utils.pipelines import window_dataset

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds = time.perf_counter() - self.start

    _, ids = _data()
    probes = {}
    for name, cfg in configs.items():
        batches = list(
            window_dataset(ids["train"], cfg["seq_len"], cfg["batch"], seed=seed, repeat=True).take(steps)
        )
        data = tf.data.Dataset.from_tensor_slices(tuple(tf.stack(t) for t in zip(*batches)))
        model = _model(cfg, seed, 10**9)
        model.fit(data, epochs=1, verbose=0)  # build and trace outside the timing
        probes[name] = (model, data, [])
    timer = EpochTimer()
    for _ in range(rounds):
        for model, data, seconds in probes.values():
            model.fit(data, epochs=1, verbose=0, callbacks=[timer])
            seconds.append(timer.seconds / steps)
    return {name: statistics.median(seconds) for name, (_, _, seconds) in probes.items()}


def train_and_score(name: str, cfg: dict, seed: int, steps: int) -> dict:
    """Train one configuration for ``steps`` steps from ``seed``; its row of the CSV (without timing)."""
    environment.configure(seed=seed)
    from utils.evaluation import stream_log_probs
    from utils.pipelines import window_dataset

    _, ids = _data()
    model = _model(cfg, seed, steps)
    start = time.perf_counter()
    model.fit(
        window_dataset(ids["train"], cfg["seq_len"], cfg["batch"], seed=seed, repeat=True),
        epochs=1,
        steps_per_epoch=steps,
        verbose=0,
    )
    train_s = time.perf_counter() - start
    bpc = {}
    for split in ("valid", "test"):
        log_p, _ = stream_log_probs(model, ids[split], **EVAL_LAYOUT)
        bpc[split] = float(nats_to_bits(-log_p.mean()))
    return {
        "config": name,
        "seed": seed,
        **cfg,
        "parameters": model.count_params(),
        "steps": steps,
        "train_time_s": round(train_s, 1),
        "valid_bpc": round(bpc["valid"], 4),
        "test_bpc": round(bpc["test"], 4),
    }


def _worker_init(threads: int) -> None:
    os.environ["TF_NUM_INTEROP_THREADS"] = str(threads)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--budget-steps",
        type=positive_int,
        default=_NB["EPOCHS"] * _NB["STEPS_PER_EPOCH"],
        help="steps of the first configuration that set the time budget "
        "(default: the notebook's EPOCHS * STEPS_PER_EPOCH)",
    )
    parser.add_argument("--seeds", type=seed_list, default=[42, 43, 44], help="comma-separated seeds")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        choices=list(CONFIGS),
        help="a configuration to run (repeatable; default: all)",
    )
    parser.add_argument(
        "--jobs",
        type=positive_int,
        default=2,
        help="runs trained side by side after the timing, one core each",
    )
    parser.add_argument("--probe-steps", type=positive_int, default=8, help="steps per timing round")
    parser.add_argument("--probe-rounds", type=positive_int, default=9, help="interleaved timing rounds")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/ablation.csv")
    args = parser.parse_args(argv)
    out = args.out.expanduser()
    if out.exists():
        with out.open() as handle:
            header = next(csv.reader(handle), [])
        if header != FIELDS:
            parser.error(f"{out} has other columns than this script writes; choose another --out")

    first = next(iter(CONFIGS))
    names = [first] + [n for n in CONFIGS if n in args.only and n != first] if args.only else list(CONFIGS)
    configs = {name: {**BASE, **CONFIGS[name]} for name in names}
    environment.configure(seed=args.seeds[0])
    step_s = step_times(configs, args.probe_steps, args.probe_rounds, args.seeds[0])
    budget_s = args.budget_steps * step_s[first]
    runs = [(name, seed) for seed in args.seeds for name in names if not args.only or name in args.only]
    print(
        f"budget {budget_s:.0f} s; seconds per step: "
        + ", ".join(f"{name} {s:.4f}" for name, s in step_s.items()),
        flush=True,
    )

    common = {
        "date": datetime.date.today().isoformat(),
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "jobs": args.jobs,
        "budget_steps": args.budget_steps,
        "budget_s": round(budget_s, 1),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    new_file = not out.exists()
    with (
        out.open("a", newline="") as handle,
        ProcessPoolExecutor(
            args.jobs,
            mp_context=get_context("spawn"),
            initializer=_worker_init,
            initargs=(1 if args.jobs > 1 else 0,),
        ) as pool,
    ):
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        if new_file:
            writer.writeheader()
        futures = [
            pool.submit(train_and_score, name, configs[name], seed, max(1, round(budget_s / step_s[name])))
            for name, seed in runs
        ]
        for future in as_completed(futures):
            row = {**common, **future.result()}
            row["step_s"] = round(step_s[row["config"]], 4)
            writer.writerow(row)
            handle.flush()
            print(
                f"{row['config']} seed {row['seed']}: {row['steps']} steps in {row['train_time_s']:.0f} s, "
                f"valid {row['valid_bpc']:.4f}, test {row['test_bpc']:.4f} bpc",
                flush=True,
            )


if __name__ == "__main__":
    main()
