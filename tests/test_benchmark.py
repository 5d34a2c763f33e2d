"""The benchmark helpers return complete, consistent reports (no timing is asserted)."""
from __future__ import annotations

import keras
import numpy as np
import pytest

from utils.benchmark import gemm_gflops, generation_report, training_report
from utils.model import build_char_model, lstm_flops_per_char
from utils.pipelines import window_dataset
from utils.training import compile_char_model
from utils.vocab import Vocabulary

VOCAB = Vocabulary.from_text("abcdefgh ij\n:ABC")


def test_reports_are_complete_and_consistent():
    keras.utils.set_random_seed(0)
    model = compile_char_model(build_char_model(VOCAB.size, embedding_dim=4, units=8, num_layers=2))
    data = window_dataset(VOCAB.encode("abc de\nAB:ij " * 50), 10, 4, seed=0, repeat=True)
    train = training_report(model, data, steps=2, repeats=1)
    assert train["flops_per_char"] == lstm_flops_per_char(VOCAB.size, 4, 8, 2)
    assert train["train_gflops"] == pytest.approx(train["chars_per_s"] * train["flops_per_char"] / 1e9)
    assert train["ratio_to_gemm"] == pytest.approx(train["train_gflops"] / train["gemm_gflops"])
    gen = generation_report(model, VOCAB, prime="abc de\nAB:ij " * 3, length=20, window=30, refeed_chars=5)
    assert gen["speedup"] == pytest.approx(gen["one_step_chars_per_s"] / gen["refeed_chars_per_s"])
    assert np.isfinite(list(gen.values())).all() and gemm_gflops(n=64, repeats=1) > 0


def test_generation_report_needs_a_long_enough_prime():
    model = build_char_model(VOCAB.size, embedding_dim=4, units=8, num_layers=1)
    with pytest.raises(ValueError, match="at least window=100"):
        generation_report(model, VOCAB, prime="abc", length=5)
