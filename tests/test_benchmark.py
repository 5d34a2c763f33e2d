"""The benchmark helpers return complete, consistent reports (no timing is asserted)."""
from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from utils.benchmark import gemm_gflops, training_report
from utils.model import training_flops_per_char
from utils.pipelines import window_dataset
from utils.vocab import Vocabulary

VOCAB = Vocabulary.from_text("abcdefgh ij\n:ABC")
REPO = Path(__file__).resolve().parents[1]


def test_reports_are_complete_and_consistent(char_model, compiled):
    keras.utils.set_random_seed(0)
    model = compiled(char_model(VOCAB.size, embedding_dim=4, units=8, num_layers=2))
    data = window_dataset(VOCAB.encode("abc de\nAB:ij " * 50), 10, 4, seed=0, repeat=True)
    train = training_report(model, data, steps=2, repeats=1)
    assert train["flops_per_char"] == training_flops_per_char(model)
    assert train["train_gflops"] == pytest.approx(train["chars_per_s"] * train["flops_per_char"] / 1e9)
    assert train["ratio_to_gemm"] == pytest.approx(train["train_gflops"] / train["gemm_gflops"])
    assert np.isfinite(list(train.values())).all() and gemm_gflops(n=64, repeats=1) > 0


def test_ablation_selects_configs_by_exact_name_and_budget():
    """Names with commas can be selected (``--only`` is repeatable, not comma-split); unknown names are refused."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("ablation", REPO / "benchmarks" / "ablation.py")
    ablation = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ablation)
    configs = [("default", 1, {}), ("1 layer, no dropout", 1, {"layers": 1}), ("default", 3, {}),
               ("1 layer, no dropout", 3, {"layers": 1})]
    picked = ablation.select_configs(configs, only=["1 layer, no dropout"], multipliers=[3])
    assert picked == [("1 layer, no dropout", 3, {"layers": 1})]
    assert ablation.select_configs(configs, max_multiplier=1) == configs[:2]
    assert ablation.select_configs(configs) == configs
    with pytest.raises(ValueError, match=r"unknown config name\(s\) \['1 layer'\]"):
        ablation.select_configs(configs, only=["1 layer"])


def test_committed_ablation_is_at_the_notebooks_budget():
    """The equal-time ablation the notebook shows must use the notebook's own default budget, and hold the rows
    the notebook reads (depth 1, 2 and 3, dropout 0, 0.05 and 0.2 at 1x; the default and its 1-layer, no-dropout twin at 3x)."""
    import pandas as pd

    from utils.notebook_code import notebook_parameters

    nb = notebook_parameters()
    ablation = pd.read_csv(REPO / "benchmarks" / "results" / "ablation.csv")
    base = nb["EPOCHS"] * nb["STEPS_PER_EPOCH"]
    assert (ablation["budget_steps"] == base * ablation["budget_multiplier"]).all()
    rows = set(zip(ablation["budget_multiplier"], ablation["config"]))
    assert {(1, "default"), (1, "default, no dropout"), (1, "1 layer"), (1, "1 layer, no dropout"),
            (1, "default, dropout 0.2"), (1, "3 layers"), (3, "default"), (3, "1 layer, no dropout")} <= rows
    assert len(rows) == len(ablation), "one row per (budget, config): the notebook indexes by them"
    default = ablation[(ablation["config"] == "default") & (ablation["budget_multiplier"] == 1)].iloc[0]
    assert (default["layers"], default["dropout"], default["units"]) == (nb["NUM_LAYERS"], nb["DROPOUT"], nb["UNITS"])


def test_op_time_table_splits_loop_and_backward_time_per_step():
    from utils.benchmark import op_time_table

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
    """Keras calls back once per execution, with the index of its last step: the clock counts steps, not calls."""
    from utils.benchmark import BatchClock, training_chars_per_second

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
    every lever of the sweep (and the levers since removed from it, whose rows the file keeps)."""
    import importlib.util

    import pandas as pd

    from utils.notebook_code import notebook_parameters

    nb = notebook_parameters()
    spec = importlib.util.spec_from_file_location("benchmark_script", REPO / "benchmarks" / "benchmark.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    speed = pd.read_csv(REPO / "benchmarks" / "results" / "speed.csv")
    removed = {"unrolled LSTM loop (static SEQ_LEN)", "unrolled LSTM loop + XLA",
               "input projection hoisted out of the loop"}
    assert set(speed["lever"]) == {lever for lever, _, _ in script.SWEEP} | removed
    assert (speed[["units", "layers", "seq_len"]] == [nb["UNITS"], nb["NUM_LAYERS"], nb["SEQ_LEN"]]).all().all()
    assert (speed.loc[speed["lever"] == "notebook defaults", "batch"] == nb["BATCH_SIZE"]).all()
    np.testing.assert_allclose(speed["ratio_to_gemm"], speed["train_gflops"] / speed["gemm_gflops"], atol=1e-3)
    flops = speed["train_gflops"] * 1e9 / speed["chars_per_s"]  # the same model everywhere: one FLOP count
    np.testing.assert_allclose(flops, flops.iloc[0], rtol=1e-3)
    profile = pd.read_csv(REPO / "benchmarks" / "results" / "profile.csv")
    assert (profile[["batch", "seq_len"]] == [nb["BATCH_SIZE"], nb["SEQ_LEN"]]).all().all()
    assert profile["share"].sum() == pytest.approx(1.0, abs=0.01)
    assert {"LSTM loop, forward", "LSTM loop, backward"} <= set(profile["part"])
