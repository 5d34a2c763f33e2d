"""Plotting helpers: each takes a matplotlib ``Axes``, draws on it and returns it."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd


def _axes(ax):
    return ax if ax is not None else plt.gca()


def plot_char_frequencies(counts: pd.Series, ax=None, top: int | None = None, title: str | None = None):
    """Bar chart of character frequencies in percent, most frequent first.

    Args:
        counts: character -> count (see :func:`utils.splits.character_counts`).
        ax: the Axes to draw on (default: the current one).
        top: show only the ``top`` most frequent characters.
        title: plot title.
    """
    ax = _axes(ax)
    share = 100 * counts / counts.sum()
    if top is not None:
        share = share.iloc[:top]
    positions = np.arange(len(share))
    ax.bar(positions, share.to_numpy(), color="tab:blue")
    ax.set_xticks(positions, share.index, fontsize=7)
    ax.set_xlim(-0.7, len(share) - 0.3)
    ax.set_yscale("log")
    ax.set_xlabel("character (⏎ = newline, ␣ = space)")
    ax.set_ylabel("share of training characters (%, log scale)")
    ax.set_title(title or "Character frequencies")
    ax.grid(axis="y", alpha=0.3)
    return ax
