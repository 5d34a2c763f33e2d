"""Speed benchmark of the default character model (run from the repository root):

    .venv/bin/python benchmarks/benchmark.py [--units 256] [--layers 1] [--batch 256] [--seq-len 100]

Prints, as one JSON line each, (1) training throughput in characters/s and GFLOP/s next to
a float32 tf.matmul GEMM rate measured in the same run, and (2) generation speed of the
one-step generator vs re-feeding a 100-character window for every character. The model is
freshly initialised (speed does not depend on the weights). This machine's speed drifts
by up to 2x between runs: compare the ratios, not the absolute numbers.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import utils.environment as environment  # noqa: E402  (before TensorFlow)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=256)
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--embedding-dim", type=int, default=64)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--seq-len", type=int, default=100)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args(argv)

    environment.configure(seed=0)
    from utils.benchmark import generation_report, training_report
    from utils.corpus import load_shakespeare
    from utils.model import build_char_model
    from utils.pipelines import window_dataset
    from utils.splits import split_by_documents
    from utils.training import compile_char_model
    from utils.vocab import Vocabulary

    splits = split_by_documents(load_shakespeare("data"))
    vocab = Vocabulary.from_text(splits["train"].text)
    model = build_char_model(vocab.size, embedding_dim=args.embedding_dim, units=args.units,
                             num_layers=args.layers)
    compile_char_model(model)
    data = window_dataset(vocab.encode(splits["train"].text), args.seq_len, args.batch, seed=0, repeat=True)
    config = {"units": args.units, "layers": args.layers, "batch": args.batch, "seq_len": args.seq_len}
    print(json.dumps({"benchmark": "training", **config,
                      **{k: round(v, 3) for k, v in training_report(model, data, steps=args.steps).items()}}))
    print(json.dumps({"benchmark": "generation", **config,
                      **{k: round(v, 1) for k, v in generation_report(model, vocab, prime=splits["valid"].text[:200]).items()}}))


if __name__ == "__main__":
    main()
