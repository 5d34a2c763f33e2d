"""Speed benchmark of the notebook's default character model (run from the repository root):

    .venv/bin/python benchmarks/benchmark.py                 # the notebook's defaults, one JSON line
    .venv/bin/python benchmarks/benchmark.py --batch 256     # any setting can be overridden
    .venv/bin/python benchmarks/benchmark.py --sweep         # every speed lever -> results/speed.csv
    .venv/bin/python benchmarks/benchmark.py --profile       # op-by-op time of a step -> results/profile.csv

Prints, as one JSON line, the training throughput of ``model.fit`` in characters/s and GFLOP/s
next to the float32 ``tf.matmul`` GEMM rate of all cores, measured just before and after
(:func:`utils.benchmark.gemm_gflops`), and their ratio. Training is timed in steady state: each
timed ``fit`` runs one extra first step, not timed, in which ``tf.data`` starts its iterator (it
fills a shuffle buffer of every window start; a long run pays this once). The model, its compile
step and every default come from the notebook itself (its ``shared-code`` cells and parameters
cell), so this measures what the notebook trains. The model is freshly initialised (speed
does not depend on the weights). The machine's speed drifts by up to 2x between runs:
compare ratios taken in one run, not absolute numbers.

``--sweep`` runs one subprocess per speed lever (so that settings read once at start-up,
such as oneDNN and thread pools, can differ) and writes one CSV row per lever with the
ratio to its own GEMM rate, measured just before and after it: XLA compilation,
``steps_per_execution``, batch size, oneDNN, thread-pool sizes (the notebook runs each op on one
thread; TensorFlow's default splits an op across all cores), TensorFlow's op determinism
(``--levers`` picks some).

``--profile`` traces ``--steps`` training steps with TensorFlow's profiler and writes where the
time goes, op type by op type, inside and outside the LSTM time loops, forward and backward
(:func:`op_time_table`), with the wall and CPU time per step.
"""
from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

#: ``(lever, extra command-line arguments, extra environment)`` measured by ``--sweep``.
SWEEP = [
    ("notebook defaults", [], {}),
    ("XLA (jit_compile=True)", ["--jit"], {}),
    ("steps_per_execution=16", ["--steps-per-execution", "16"], {}),
    ("batch 64 (not the default)", ["--batch", "64"], {}),
    ("batch 256 (not the default)", ["--batch", "256"], {}),
    ("oneDNN on", [], {"TF_ENABLE_ONEDNN_OPTS": "1"}),
    ("1 inter-op thread", ["--inter-op-threads", "1"], {}),
    ("all cores per op (TensorFlow's default)", [], {"TF_NUM_INTRAOP_THREADS": "0"}),
    ("op determinism off", ["--no-determinism"], {}),
]


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``), or what :func:`platform.processor` says."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def op_time_table(events, steps: int):
    """Where a training step's time goes, from profiler events of ``steps`` steps.

    Args:
        events: ``(name, duration_s)`` of the ops run on the CPU compute threads, named
            ``"<scope path>:<op type>"`` (the LSTM loops run in ``.../while/...``, the backward pass
            in ``gradient_tape/...``); events without an op type are ignored.
        steps: training steps the events cover (int >= 1).

    Returns:
        A DataFrame, one row per (``part``, ``op``), slowest first: ``part`` (LSTM loop or outside the
        loops, forward or backward), ``ms_per_step`` (summed over threads), ``calls_per_step``,
        ``us_per_call`` and ``share`` of all op time.

    Raises:
        ValueError: ``steps`` is not an int >= 1.
    """
    import pandas as pd

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
    table = frame.groupby(["part", "op"]).agg(ms_per_step=("seconds", "sum"),
                                              calls_per_step=("seconds", "size"))
    table["ms_per_step"] *= 1000 / steps
    table["calls_per_step"] /= steps
    table["us_per_call"] = 1000 * table["ms_per_step"] / table["calls_per_step"]
    table["share"] = table["ms_per_step"] / table["ms_per_step"].sum()
    return table.sort_values("ms_per_step", ascending=False).reset_index()


def parse_args(argv):
    from utils.notebook_code import notebook_parameters

    nb = notebook_parameters()
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=nb["UNITS"])
    parser.add_argument("--layers", type=int, default=nb["NUM_LAYERS"])
    parser.add_argument("--dropout", type=float, default=nb["DROPOUT"])
    parser.add_argument("--skip", type=int, default=int(nb["SKIP_CONNECTIONS"]))
    parser.add_argument("--embedding-dim", type=int, default=nb["EMBEDDING_DIM"])
    parser.add_argument("--batch", type=int, default=nb["BATCH_SIZE"])
    parser.add_argument("--seq-len", type=int, default=nb["SEQ_LEN"])
    parser.add_argument("--steps", type=int, default=32, help="training steps per timed repeat")
    parser.add_argument("--jit", action="store_true", help="compile the train step with XLA")
    parser.add_argument("--steps-per-execution", type=int, default=1)
    parser.add_argument("--inter-op-threads", type=int, default=0, help="0 = TensorFlow's default")
    parser.add_argument("--intra-op-threads", type=int, default=0,
                        help="0 = as TF_NUM_INTRAOP_THREADS says (utils sets 1 unless it is set)")
    parser.add_argument("--no-determinism", action="store_true",
                        help="leave TensorFlow's op determinism off (the notebook turns it on)")
    parser.add_argument("--sweep", action="store_true", help="measure every lever of SWEEP, write --out")
    parser.add_argument("--levers", nargs="+", metavar="NAME",
                        help="with --sweep: only these levers (exact names)")
    parser.add_argument("--profile", action="store_true",
                        help="profile --steps training steps op by op, write --profile-out (nothing else)")
    parser.add_argument("--profile-out", default=str(REPO / "benchmarks" / "results" / "profile.csv"))
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "speed.csv"))
    return parser.parse_args(argv), nb


def sweep(args) -> None:
    """Run one subprocess per lever of :data:`SWEEP`; append a CSV row for each."""
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fields = ["date", "cpu", "cores", "lever", "units", "layers", "batch", "seq_len", "chars_per_s",
              "train_gflops", "gemm_gflops", "ratio_to_gemm"]
    cpu = cpu_name()
    new_file = not out.exists()
    with out.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        if new_file:
            writer.writeheader()
        levers = SWEEP
        if args.levers:
            unknown = set(args.levers) - {lever for lever, _, _ in SWEEP}
            if unknown:
                known = [lever for lever, _, _ in SWEEP]
                raise SystemExit(f"unknown levers {sorted(unknown)}; known: {known}")
            levers = [entry for entry in SWEEP if entry[0] in args.levers]
        for lever, extra_args, extra_env in levers:
            proc = subprocess.run([sys.executable, __file__, "--steps", str(args.steps), *extra_args],
                                  env={**os.environ, **extra_env}, capture_output=True, text=True, cwd=REPO)
            if proc.returncode != 0:
                raise SystemExit(f"lever {lever!r} failed:\n{proc.stderr[-3000:]}")
            result = json.loads(next(line for line in proc.stdout.splitlines() if '"training"' in line))
            row = {"date": datetime.date.today().isoformat(), "cpu": cpu, "cores": os.cpu_count(),
                   "lever": lever, **{k: result[k] for k in fields[4:]}}
            writer.writerow(row)
            handle.flush()
            print(json.dumps(row), flush=True)


def profile(model, data, args) -> None:
    """Trace ``args.steps`` training steps with TensorFlow's profiler; write the op-time table.

    The table (:func:`op_time_table`) goes to ``--profile-out`` with the date,
    CPU, cores, the all-core GEMM rate, the steady wall time per step without and with the
    profiler (tracing slows every step, so read the table's shares rather than its absolute
    times), the CPU time per traced step and how many cores were busy; one JSON line summarises it.
    """
    import tempfile
    import time

    import tensorflow as tf
    from tensorflow.tsl.profiler.protobuf import xplane_pb2  # the profiler's trace format

    from utils.benchmark import BatchClock, gemm_gflops, training_chars_per_second

    model.fit(data, epochs=1, steps_per_epoch=3, shuffle=False, verbose=0)  # build and trace first
    chars_per_s = training_chars_per_second(model, data, args.steps, repeats=1)
    unprofiled_ms = 1000 * args.batch * args.seq_len / chars_per_s
    with tempfile.TemporaryDirectory() as logdir:
        clock = BatchClock()
        tf.profiler.experimental.start(logdir)
        cpu0, wall0 = os.times(), time.perf_counter()
        model.fit(data, epochs=1, steps_per_epoch=args.steps + 1, shuffle=False, verbose=0, callbacks=[clock])
        cpu1, wall1 = os.times(), time.perf_counter()
        tf.profiler.experimental.stop()
        space = xplane_pb2.XSpace()
        space.ParseFromString(next(Path(logdir).rglob("*.xplane.pb")).read_bytes())
    host = next(plane for plane in space.planes if plane.name == "/host:CPU")
    names = {key: meta.name for key, meta in host.event_metadata.items()}
    events = [(names.get(event.metadata_id, ""), event.duration_ps * 1e-12)
              for line in host.lines if line.name.startswith("tf_Compute") for event in line.events]
    table = op_time_table(events, steps=args.steps + 1)  # every op of the traced fit, its first step included
    wall_ms = 1000 * (clock.ends[-1] - clock.ends[0]) / args.steps
    cpu_s = cpu1.user + cpu1.system - cpu0.user - cpu0.system  # all threads, the whole traced fit
    cpu_ms = 1000 * cpu_s / (args.steps + 1)
    meta = {"date": datetime.date.today().isoformat(), "cpu": cpu_name(), "cores": os.cpu_count(),
            "batch": args.batch, "seq_len": args.seq_len, "steps": args.steps,
            "gemm_gflops": round(gemm_gflops(), 1), "unprofiled_ms_per_step": round(unprofiled_ms, 1),
            "wall_ms_per_step": round(wall_ms, 1), "cpu_ms_per_step": round(cpu_ms, 1),
            "cores_busy": round(cpu_s / (wall1 - wall0), 2)}
    out = Path(args.profile_out)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.round({"ms_per_step": 3, "calls_per_step": 2, "us_per_call": 1, "share": 4}).assign(**meta).to_csv(
        out, index=False)
    matmul = table[table["op"].isin(["MatMul", "_FusedMatMul", "BatchMatMulV2"])]
    print(json.dumps({"benchmark": "profile", **meta, "op_ms_per_step": round(table["ms_per_step"].sum(), 1),
                      "matmul_share": round(matmul["share"].sum(), 3),
                      "loop_matmul_calls_per_step": round(matmul[matmul["part"].str.startswith("LSTM")]
                                                          ["calls_per_step"].sum(), 1), "out": str(out)}))


def main(argv=None) -> None:
    args, nb = parse_args(argv)
    if args.sweep:
        return sweep(args)
    import utils.environment as environment

    environment.configure(seed=0, deterministic=not args.no_determinism)
    import tensorflow as tf

    if args.inter_op_threads:
        tf.config.threading.set_inter_op_parallelism_threads(args.inter_op_threads)
    if args.intra_op_threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.intra_op_threads)
    from utils.benchmark import training_report
    from utils.corpus import load_shakespeare
    from utils.notebook_code import shared_code
    from utils.pipelines import window_dataset
    from utils.splits import split_by_documents
    from utils.vocab import Vocabulary

    notebook = shared_code()
    splits = split_by_documents(load_shakespeare(REPO / "data"))
    vocab = Vocabulary.from_text(splits["train"].text)
    model = notebook.build_model(vocab.size, embedding_dim=args.embedding_dim, units=args.units,
                                 num_layers=args.layers, dropout=args.dropout,
                                 skip_connections=bool(args.skip))
    notebook.compile_model(model, nb["LEARNING_RATE"], 10**6, nb["CLIPNORM"])
    model.jit_compile = args.jit  # the levers, set before the first fit traces the train step
    model.steps_per_execution = args.steps_per_execution
    data = window_dataset(vocab.encode(splits["train"].text), args.seq_len, args.batch, seed=0, repeat=True)
    config = {"units": args.units, "layers": args.layers, "dropout": args.dropout, "skip": bool(args.skip),
              "batch": args.batch, "seq_len": args.seq_len, "jit": args.jit,
              "steps_per_execution": args.steps_per_execution,
              "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "0"),
              "inter_op_threads": args.inter_op_threads,
              "intra_op_threads": args.intra_op_threads or int(os.environ["TF_NUM_INTRAOP_THREADS"]),
              "deterministic": not args.no_determinism}
    if args.profile:
        return profile(model, data, args)
    report = training_report(model, data, steps=args.steps)
    print(json.dumps({"benchmark": "training", **config, **{k: round(v, 3) for k, v in report.items()}}))


if __name__ == "__main__":
    main()
