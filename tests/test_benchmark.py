"""The speed helpers and the committed benchmark results (no timing is asserted)."""
from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from benchmarks.benchmark import op_time_table
from utils import benchmark
from utils.pipelines import window_dataset
from utils.vocab import Vocabulary

VOCAB = Vocabulary.from_text("abcdefgh ij\n:ABC")
REPO = Path(__file__).resolve().parents[1]


def test_training_report_combines_rate_flops_and_gemm(char_model, compiled, monkeypatch):
    """With the measurements replaced by known numbers, every field is what the arithmetic gives by hand."""
    model = compiled(char_model(VOCAB.size, embedding_dim=4, units=8, num_layers=1))
    gemm = iter([90.0, 110.0, 500.0])  # before and after: median 100
    monkeypatch.setattr(benchmark, "gemm_gflops", lambda: next(gemm))
    monkeypatch.setattr(benchmark, "training_chars_per_second", lambda *args: 2e6)
    report = benchmark.training_report(model, None)
    flops = 3 * (2 * 4 * 8 * (4 + 8) + 2 * 8 * VOCAB.size)  # LSTM kernels, logits kernel; 3x forward
    assert report == pytest.approx({"chars_per_s": 2e6, "flops_per_char": flops, "gemm_gflops": 100.0,
                                    "train_gflops": 2e6 * flops / 1e9, "ratio_to_gemm": 2e6 * flops / 1e11})


def test_gemm_rate_is_measured_in_a_subprocess():
    assert benchmark.gemm_gflops(n=64, repeats=1) > 0


def _ablation_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("ablation", REPO / "benchmarks" / "ablation.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ablation_refuses_bad_arguments_before_any_work(tmp_path, capsys):
    ablation = _ablation_module()
    assert ablation.seed_list("42, 43") == [42, 43]
    for bad in ("", "x", "-1", str(2**32)):
        with pytest.raises(Exception, match="integers"):
            ablation.seed_list(bad)
    with pytest.raises(Exception, match=">= 1"):
        ablation.positive_int("0")
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    for argv, message in ((["--out", str(other)], "other columns"), (["--only", "4 x 64"], "invalid choice"),
                          (["--jobs", "0"], ">= 1"), (["--seeds", "a"], "integers")):
        with pytest.raises(SystemExit):
            ablation.main(argv)
        assert message in capsys.readouterr().err
    assert other.read_text() == "a,b\n1,2\n", "a CSV with other columns is left alone"


def test_committed_ablation_supports_the_notebooks_default():
    """Three seeds per configuration, the script's columns, and the notebook's default among the
    configurations with (about) the steps it trains."""
    import pandas as pd

    from utils.notebook_code import notebook_parameters

    nb = notebook_parameters()
    ablation = pd.read_csv(REPO / "benchmarks" / "results" / "ablation.csv")
    assert list(ablation.columns) == _ablation_module().FIELDS
    assert (ablation.groupby("config")["seed"].nunique() >= 3).all()
    default = ablation[(ablation["layers"] == nb["NUM_LAYERS"]) & (ablation["units"] == nb["UNITS"])
                       & (ablation["dropout"] == nb["DROPOUT"])]
    assert len(default), "the notebook's default model is not in the ablation"
    steps = nb["EPOCHS"] * nb["STEPS_PER_EPOCH"]
    assert abs(default["steps"].iloc[0] - steps) <= 0.01 * steps
    means = ablation.groupby("config")["valid_bpc"].mean()
    assert means[default["config"].iloc[0]] == means.min(), "the default is the best configuration measured"


def test_op_time_table_splits_loop_and_backward_time_per_step():
    events = [("model/lstm_1/while/body/_1/lstm_1/MatMul:MatMul", 0.002),
              ("model/lstm_1/while/body/_1/lstm_1/MatMul_1:MatMul", 0.002),
              ("gradient_tape/model/lstm_1/while/grad/MatMul:MatMul", 0.004),
              ("model/logits/MatMul:MatMul", 0.001),
              ("gradient_tape/model/logits/MatMul:MatMul", 0.001),
              ("ExecutorState::Process", 1.0), ("EagerExecute", 1.0)]  # containers, not ops: ignored
    table = op_time_table(events, steps=2).set_index(["part", "op"])
    assert table.loc[("LSTM loop, forward", "MatMul"), "ms_per_step"] == pytest.approx(2.0)
    assert table.loc[("LSTM loop, forward", "MatMul"), "calls_per_step"] == 1.0
    assert table.loc[("LSTM loop, backward", "MatMul"), "us_per_call"] == pytest.approx(4000.0)
    assert table.loc[("outside the loops, backward", "MatMul"), "ms_per_step"] == pytest.approx(0.5)
    assert table["share"].sum() == pytest.approx(1.0) and len(table) == 4
    with pytest.raises(ValueError, match="steps"):
        op_time_table(events, steps=0)


@pytest.mark.parametrize("per_execution", [1, 3])
def test_batch_clock_counts_steps_with_any_steps_per_execution(char_model, compiled, per_execution):
    """Keras calls back once per execution, with the index of its last step: the clock counts steps."""
    from utils.benchmark import BatchClock, training_chars_per_second

    keras.utils.set_random_seed(0)
    model = compiled(char_model(VOCAB.size, embedding_dim=4, units=8, num_layers=1))
    model.steps_per_execution = per_execution
    data = window_dataset(VOCAB.encode("abc de\nAB:ij " * 50), 10, 4, seed=0, repeat=True)
    clock = BatchClock()
    model.fit(data, epochs=1, steps_per_epoch=3 * per_execution, shuffle=False, verbose=0, callbacks=[clock])
    assert clock.batches == [per_execution * k - 1 for k in (1, 2, 3)] and clock.ends == sorted(clock.ends)
    assert clock.steady_rate() == pytest.approx(2 * per_execution / (clock.ends[-1] - clock.ends[0]))
    assert training_chars_per_second(model, data, steps=2, repeats=1) > 0
    with pytest.raises(ValueError, match="two batch callbacks"):
        one = BatchClock()
        model.fit(data, epochs=1, steps_per_epoch=per_execution, shuffle=False, verbose=0, callbacks=[one])
        one.steady_rate()


def test_committed_speed_measurements_are_of_the_notebooks_model():
    """The sweep and the profile the notebook shows (section 12.1) measured the notebook's default model and
    every lever of the sweep."""
    import importlib.util

    import pandas as pd

    from utils.notebook_code import notebook_parameters

    nb = notebook_parameters()
    spec = importlib.util.spec_from_file_location("benchmark_script", REPO / "benchmarks" / "benchmark.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    speed = pd.read_csv(REPO / "benchmarks" / "results" / "speed.csv")
    assert set(speed["lever"]) == {lever for lever, _, _ in script.SWEEP}
    model = [nb["UNITS"], nb["NUM_LAYERS"], nb["SEQ_LEN"]]
    assert (speed[["units", "layers", "seq_len"]] == model).all().all()
    assert (speed.loc[speed["lever"] == "notebook defaults", "batch"] == nb["BATCH_SIZE"]).all()
    np.testing.assert_allclose(speed["ratio_to_gemm"], speed["train_gflops"] / speed["gemm_gflops"],
                               atol=1e-3)
    flops = speed["train_gflops"] * 1e9 / speed["chars_per_s"]  # the same model everywhere: one FLOP count
    np.testing.assert_allclose(flops, flops.iloc[0], rtol=1e-3)
    profile = pd.read_csv(REPO / "benchmarks" / "results" / "profile.csv")
    assert (profile[["batch", "seq_len"]] == [nb["BATCH_SIZE"], nb["SEQ_LEN"]]).all().all()
    assert profile["share"].sum() == pytest.approx(1.0, abs=0.01)
    assert {"LSTM loop, forward", "LSTM loop, backward"} <= set(profile["part"])
