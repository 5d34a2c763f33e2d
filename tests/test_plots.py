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
