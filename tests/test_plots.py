"""Smoke tests for the pen-stroke plotting helpers: they draw what they are given and return the Axes."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from utils.plots import plot_density_map, plot_pen_strokes  # noqa: E402


def test_plot_pen_strokes_breaks_the_line_at_pen_lifts():
    points = np.cumsum(np.ones((9, 2)), axis=0)
    pen_up = np.zeros(9)
    pen_up[[2, 5, 8]] = 1                                   # three strokes of three points
    fig, ax = plt.subplots()
    assert plot_pen_strokes(points, pen_up, ax=ax, label="real", title="t") is ax
    solid = [line for line in ax.get_lines() if line.get_linestyle() == "-"]
    dotted = [line for line in ax.get_lines() if line.get_linestyle() == ":"]
    assert [len(line.get_xdata()) for line in solid] == [3, 3, 3]
    assert len(dotted) == 2                                  # the two pen-up moves
    assert ax.get_title() == "t" and ax.get_legend() is not None
    plt.close(fig)


def test_plot_density_map_draws_the_grid_and_the_path():
    xs, ys = np.linspace(0, 1, 5), np.linspace(0, 2, 4)
    density = np.outer(np.arange(1, 5), np.arange(1, 6)).astype(float)
    fig, ax = plt.subplots()
    assert plot_density_map(density, xs, ys, points=np.zeros((3, 2)), ax=ax) is ax
    image = ax.get_images()[0]
    assert image.get_array().shape == (4, 5)
    assert len(ax.get_lines()) == 1 and "density" in ax.get_title()
    plt.close(fig)


# --- figure defects: overlapping tick labels, legend entries off the plot,
# --- compared density panels with their own colour scales, pen panels on different ranges;
# --- every helper labels its axes, returns its Axes and prints nothing

import itertools  # noqa: E402

import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from utils.plots import (  # noqa: E402
    plot_bpc_vs_time,
    plot_cell_heatmap,
    plot_char_frequencies,
    plot_gradient_norms,
    plot_history,
    plot_memory_accuracy,
    plot_temperature,
    shared_log_norm,
)

# the 77 labels of the notebook's vocabulary (character_counts shows newline as ⏎ and space as ␣)
VOCAB_LABELS = ["[UNK]", "⏎", "␣",
                *"!\"$&',-.0123456789:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz—"]


def _overlapping_tick_labels(ax):
    ax.figure.canvas.draw()
    boxes = [(t.get_text(), t.get_window_extent())
             for t in ax.get_xticklabels() if t.get_visible() and t.get_text()]
    return [(a, b) for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2) if box_a.overlaps(box_b)]


def _legend_lines_off_the_plot(ax):
    """Labels of legend entries whose line has no point inside the Axes' y-limits."""
    low, high = sorted(ax.get_ylim())
    legend = ax.get_legend()
    named = {text.get_text() for text in legend.get_texts()} if legend is not None else set()
    off = []
    for line in ax.get_lines():
        if line.get_label() in named:
            y = np.asarray(line.get_ydata(), dtype=float)
            if not np.any((y >= low) & (y <= high)):
                off.append(line.get_label())
    return off


@pytest.mark.parametrize("width_in", [11, 12])   # cell 21 draws it 11 inches wide
def test_char_frequency_tick_labels_do_not_overlap(width_in):
    counts = pd.Series(np.r_[0, np.geomspace(1e6, 1, len(VOCAB_LABELS) - 1)].round(), index=VOCAB_LABELS)
    counts = counts.sort_values(ascending=False, kind="stable")   # as character_counts: [UNK] (count 0) last
    fig, ax = plt.subplots(figsize=(width_in, 3.5), dpi=100)
    assert plot_char_frequencies(counts, ax=ax, title="t") is ax
    assert len(ax.get_xticklabels()) == len(VOCAB_LABELS)
    assert _overlapping_tick_labels(ax) == []
    plt.close(fig)


def test_bpc_vs_time_reference_lines_are_inside_the_plot():
    history = pd.DataFrame({"time_s": [10.0, 20.0, 30.0], "val_bpc": [2.4, 2.3, 2.2]})
    fig, ax = plt.subplots()
    plot_bpc_vs_time(history, ax=ax, reference={"unigram entropy": 4.76, "below": 1.0})
    assert _legend_lines_off_the_plot(ax) == []
    assert len(ax.get_legend().get_texts()) == 3
    plt.close(fig)


def test_legend_check_catches_a_line_pushed_off_by_set_ylim():
    fig, ax = plt.subplots()
    ax.plot([0, 1], [2.4, 2.2], label="validation")
    ax.axhline(4.76, label="unigram entropy")
    ax.set_ylim(2.0, 2.5)
    ax.legend()
    assert _legend_lines_off_the_plot(ax) == ["unigram entropy"]
    plt.close(fig)


def test_memory_accuracy_chance_line_inside_the_plot():
    table = pd.DataFrame({"kind": ["rnn", "rnn", "lstm", "lstm"], "length": [5, 100, 5, 100],
                          "accuracy": [1.0, 0.26, 1.0, 0.9]})
    fig, ax = plt.subplots()
    plot_memory_accuracy(table, chance=0.25, ax=ax)
    assert _legend_lines_off_the_plot(ax) == []
    plt.close(fig)


def test_density_panels_share_one_norm_and_one_colorbar():
    xs, ys = np.linspace(0, 4, 9), np.linspace(0, 2, 5)
    grid = np.exp(-((xs[None, :] - 2) ** 2 + (ys[:, None] - 1) ** 2))
    densities = [grid, 0.01 * grid, 1e-3 * grid, np.zeros_like(grid)]   # peaks 100x, 1000x lower; one empty
    norm = shared_log_norm(densities)
    assert norm.vmax == pytest.approx(grid.max()) and norm.vmin == pytest.approx(grid.max() * 1e-6)
    fig, axes = plt.subplots(2, 2)
    for ax, density in zip(axes.flat, densities):
        assert plot_density_map(density, xs, ys, ax=ax, norm=norm, colorbar=False, title="t") is ax
    images = [ax.get_images()[0] for ax in axes.flat]
    assert all(image.norm is norm for image in images)
    assert len(fig.axes) == 4                                      # no colour bar per panel
    # the same value gets the same colour in every panel; a 100x lower peak is darker
    assert len({image.to_rgba(0.01 * grid.max()) for image in images}) == 1
    peaks = [image.to_rgba(image.get_array().max()) for image in images]
    assert peaks[1] != peaks[0] and peaks[2] != peaks[1]
    fig.colorbar(images[0], ax=axes)
    plt.close(fig)


def test_density_map_alone_keeps_its_own_colorbar():
    xs, ys = np.linspace(0, 1, 5), np.linspace(0, 1, 5)
    fig, ax = plt.subplots()
    plot_density_map(np.ones((5, 5)), xs, ys, ax=ax)
    assert len(fig.axes) == 2
    plt.close(fig)


def _draw_each_helper(ax, name):
    rng = np.random.default_rng(0)
    history = pd.DataFrame({"bpc": [3.0, 2.5], "val_bpc": [2.8, 2.4], "time_s": [5.0, 9.0]}, index=[1, 2])
    table = pd.DataFrame({"kind": ["rnn", "lstm"], "length": [5, 5], "accuracy": [0.9, 1.0]})
    calls = {
        "char_frequencies": lambda: plot_char_frequencies(pd.Series([5, 3, 1], index=list("abc")), ax=ax),
        "history": lambda: plot_history(history, "bpc", ax=ax, ylabel="cross-entropy (bits/char)"),
        "bpc_vs_time": lambda: plot_bpc_vs_time(history, ax=ax, reference={"unigram": 4.7}),
        "temperature": lambda: plot_temperature(np.array([0.5, 0.3, 0.2]), list("abc"), top=3, ax=ax),
        "memory_accuracy": lambda: plot_memory_accuracy(table, chance=0.25, ax=ax),
        "gradient_norms": lambda: plot_gradient_norms({"LSTM": np.geomspace(1e-3, 1, 10)}, ax=ax),
        "cell_heatmap": lambda: plot_cell_heatmap(rng.uniform(-1, 1, (12, 4)), "ROMEO:\nO she", [0, 2],
                                                  ax=ax),
        "pen_strokes": lambda: plot_pen_strokes(np.cumsum(np.ones((6, 2)), axis=0), np.r_[0, 0, 1, 0, 0, 1],
                                                ax=ax),
        "density_map": lambda: plot_density_map(np.ones((4, 5)), np.arange(5.0), np.arange(4.0), ax=ax),
    }
    return calls[name]()


@pytest.mark.parametrize("name", ["char_frequencies", "history", "bpc_vs_time", "temperature",
                                  "memory_accuracy", "gradient_norms", "cell_heatmap", "pen_strokes",
                                  "density_map"])
def test_every_helper_labels_returns_its_axes_and_prints_nothing(name, capsys):
    fig, ax = plt.subplots()
    assert _draw_each_helper(ax, name) is ax
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    assert _legend_lines_off_the_plot(ax) == []
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    plt.close(fig)
