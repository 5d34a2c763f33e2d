"""Plotting helpers: each draws on ``ax`` (default: the current Axes), titled ``title`` or a default,
and returns ``ax``."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .vocab import DISPLAY, DISPLAY_NOTE


def _axes(ax):
    return ax if ax is not None else plt.gca()


def _label(ax, xlabel: str, ylabel: str, title: str, legend: bool = True, grid_axis: str = "both"):
    """Axis labels, title, a light grid and (optionally) a small legend; returns ``ax``."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(axis=grid_axis, alpha=0.3)
    if legend:
        ax.legend(fontsize=8)
    return ax


def plot_char_frequencies(counts: pd.Series, ax=None, top: int | None = None, title: str | None = None):
    """Bar chart, log scale, of the shares in percent of the first ``top`` (default: all) characters of
    ``counts`` (label -> count, :func:`utils.splits.character_counts`)."""
    ax = _axes(ax)
    share = 100 * counts / counts.sum()
    if top is not None:
        share = share.iloc[:top]
    positions = np.arange(len(share))
    ax.bar(positions, share.to_numpy(), color="tab:blue")
    ax.set_xticks(positions, share.index, fontsize=7)
    for tick in ax.get_xticklabels():
        if len(tick.get_text()) > 1:            # e.g. "[UNK]": vertical, so it fits the width of one bar
            tick.set_rotation(90)
    ax.set_xlim(-0.7, len(share) - 0.3)
    ax.set_yscale("log")
    ax.set_xlabel(f"character ({DISPLAY_NOTE})")
    ax.set_ylabel("share of training characters (%, log scale)")
    ax.set_title(title or "Character frequencies")
    ax.grid(axis="y", alpha=0.3)
    return ax


def plot_history(history: pd.DataFrame, metric: str, ax=None, ylabel: str | None = None,
                 title: str | None = None):
    """Columns ``metric`` (e.g. ``"bpc"``) and ``"val_" + metric`` of ``history`` against the epoch."""
    ax = _axes(ax)
    ax.plot(history.index, history[metric], "o-", label="training (running mean over the epoch)")
    ax.plot(history.index, history["val_" + metric], "s-", label="validation (end of epoch)")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel or metric)
    ax.set_title(title or f"{ylabel or metric} per epoch")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax


def plot_bpc_vs_time(history: pd.DataFrame, ax=None, reference: dict[str, float] | None = None,
                     label: str = "validation", title: str | None = None):
    """``history["val_bpc"]`` against ``history["time_s"]``, with ``reference`` ``{label: bpc}`` as
    horizontal lines."""
    ax = _axes(ax)
    ax.plot(history["time_s"], history["val_bpc"], "s-", label=label)
    for i, (name, value) in enumerate((reference or {}).items()):
        ax.axhline(value, ls="--", color=f"C{i + 2}", label=f"{name} ({value:.2f})")
    return _label(ax, "training time (s, wall clock)",
                  "validation cross-entropy (bits/char)",
                  title or "Held-out bits per character vs training time")


def plot_temperature(probs: np.ndarray, labels: list[str], temperatures=(0.5, 1.0, 1.5), top: int = 12,
                     ax=None, title: str | None = None):
    """Bars of the ``top`` likeliest characters of ``probs`` ``(V,)`` (``labels``: ``V`` strings) at each
    temperature T: ``p_T(i) ∝ probs[i] ** (1 / T)``."""
    ax = _axes(ax)
    order = np.argsort(-probs)[:top]
    width = 0.8 / len(temperatures)
    logp = np.log(np.clip(probs, 1e-30, None))
    for j, t in enumerate(temperatures):
        p_t = np.exp((logp - logp.max()) / t)
        p_t /= p_t.sum()
        offset = (j - (len(temperatures) - 1) / 2) * width
        ax.bar(np.arange(top) + offset, p_t[order], width, label=f"T = {t:g}")
    ax.set_xticks(np.arange(top), [labels[i] for i in order])
    return _label(ax, f"next character ({DISPLAY_NOTE})", "probability",
                  title or "Temperature reshapes the next-character distribution", grid_axis="y")


def plot_memory_accuracy(table: pd.DataFrame, chance: float, ax=None, title: str | None = None):
    """Held-out accuracy against the length T, a line per kind, of a
    :func:`utils.memory_task.run_memory_experiment` ``table``, and the ``chance`` accuracy."""
    ax = _axes(ax)
    names = {"rnn": "SimpleRNN", "lstm": "LSTM", "gru": "GRU"}
    for kind, rows in table.groupby("kind", sort=False):
        ax.plot(rows["length"], rows["accuracy"], "o-", label=names.get(kind, kind))
    ax.axhline(chance, ls="--", color="gray", label=f"chance ({chance:.2f})")
    ax.set_xscale("log")
    ax.set_xticks(sorted(table["length"].unique()), [str(t) for t in sorted(table["length"].unique())])
    ax.set_ylim(0, 1.05)
    return _label(ax, "distance T to the symbol to remember (time steps, log scale)",
                  "held-out accuracy (fraction correct)",
                  title or "Remembering a symbol across T steps")


def plot_gradient_norms(norms: dict[str, np.ndarray], ax=None, title: str | None = None):
    """``||dLoss/d input_t||`` against the time step t, log scale, one line per model."""
    ax = _axes(ax)
    for name, values in norms.items():
        ax.semilogy(np.arange(len(values)), values, label=name)
    return _label(ax, "input time step t (the symbol to remember is at t = 0)",
                  "gradient norm ‖∂loss/∂x_t‖\n(nats per input unit, log scale)",
                  title or "How much gradient reaches each input step")


def plot_cell_heatmap(values: np.ndarray, text: str, cells, ax=None, width: int = 80,
                      title: str | None = None):
    """Heat map of the activations ``values`` ``(T, H)`` in [-1, 1] of ``cells`` (a row each) under the
    first ``width`` characters of the ``text`` that produced them (Karpathy et al. 2015)."""
    ax = _axes(ax)
    cells = list(cells)
    shown = text[:width]
    grid = np.asarray(values)[: len(shown), cells].T  # (len(cells), width)
    image = ax.imshow(grid, cmap="coolwarm", vmin=-1, vmax=1, aspect="auto", interpolation="nearest",
                      alpha=0.7)  # pale enough to read the text on it
    for row in range(len(cells)):
        for col, ch in enumerate(shown):
            ax.text(col, row, DISPLAY.get(ch, ch), ha="center", va="center", fontsize=10)
    ax.set_yticks(range(len(cells)), [f"cell {c}" for c in cells])
    ax.set_ylabel("memory cell (index)")
    ax.set_xticks([])
    ax.set_xlabel("characters of a held-out passage (colour: cell activation, blue -1 … red +1)")
    ax.set_title(title or "Memory cells reading held-out text")
    plt.colorbar(image, ax=ax, fraction=0.02, pad=0.01, label="tanh(c)")
    return ax


def plot_pen_strokes(points: np.ndarray, pen_up: np.ndarray, ax=None, title: str | None = None,
                     color=None, label: str | None = None, show_jumps: bool = True, linestyle: str = "-",
                     linewidth: float = 1.5):
    """Pen positions ``points`` ``(T, 2)`` as strokes, broken after each point t where ``pen_up[t]`` is 1.

    One ``color`` for all strokes (default: one per stroke), ``label`` on the first; with
    ``show_jumps`` the pen-up moves as dotted grey lines.
    """
    ax = _axes(ax)
    points = np.asarray(points)
    ends = np.flatnonzero(np.asarray(pen_up) > 0.5) + 1
    bounds = [0, *[int(e) for e in ends if e < len(points)], len(points)]
    for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
        ax.plot(points[a:b, 0], points[a:b, 1], ls=linestyle, lw=linewidth, color=color or f"C{i % 10}",
                label=label if i == 0 else None)
        ax.plot(points[a, 0], points[a, 1], "o", ms=3, color=color or f"C{i % 10}")
        if show_jumps and a > 0:
            ax.plot(points[a - 1:a + 1, 0], points[a - 1:a + 1, 1], ":", lw=0.8, color="gray")
    ax.set_aspect("equal", adjustable="box")
    return _label(ax, "x (dataset units)", "y (dataset units)", title or "Pen strokes",
                  legend=label is not None)


def shared_log_norm(densities, decades: float = 6.0):
    """One ``LogNorm`` for several non-negative density grids: from ``vmax * 10**-decades`` to their
    common maximum ``vmax``, so that panels compare by brightness."""
    from matplotlib.colors import LogNorm

    vmax = max(max(float(np.max(d)) for d in densities), 1e-12)
    return LogNorm(vmin=max(vmax * 10.0 ** -decades, 1e-12), vmax=vmax)


def plot_density_map(density: np.ndarray, xs: np.ndarray, ys: np.ndarray, points: np.ndarray | None = None,
                     ax=None, title: str | None = None, norm=None, colorbar: bool = True):
    """Heat map, log colour scale, of a ``(len(ys), len(xs))`` density grid
    (:func:`utils.mdn.next_position_density`), with an optional ``(T, 2)`` path ``points`` on top.

    Panels that are compared share one ``norm`` (:func:`shared_log_norm`; default: this grid's own).
    """
    ax = _axes(ax)
    norm = norm if norm is not None else shared_log_norm([density])
    image = ax.imshow(np.maximum(density, norm.vmin), origin="lower", cmap="magma", aspect="equal",
                      extent=(xs[0], xs[-1], ys[0], ys[-1]), norm=norm)
    if points is not None:
        ax.plot(np.asarray(points)[:, 0], np.asarray(points)[:, 1], "-", lw=1.2, alpha=0.9, color="cyan",
                label="actual pen path")
    if colorbar:
        plt.colorbar(image, ax=ax, fraction=0.025, pad=0.01, label="summed density (per unit², log scale)")
    return _label(ax, "x (dataset units)", "y (dataset units)",
                  title or "Predicted density of the next pen position",
                  legend=points is not None)
