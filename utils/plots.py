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


def plot_history(history: pd.DataFrame, metric: str, ax=None, ylabel: str | None = None,
                 title: str | None = None):
    """Training and validation ``metric`` per epoch (``history`` indexed by epoch, 1-based).

    Args:
        history: DataFrame with columns ``metric`` and ``"val_" + metric``.
        metric: e.g. ``"bpc"``, ``"loss"`` or ``"accuracy"``.
    """
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
    """Validation bits per character against cumulative training wall-clock time.

    Args:
        history: DataFrame with columns ``time_s`` and ``val_bpc``.
        reference: ``{label: bpc}`` horizontal lines to compare with.
    """
    ax = _axes(ax)
    ax.plot(history["time_s"], history["val_bpc"], "s-", label=label)
    for i, (name, value) in enumerate((reference or {}).items()):
        ax.axhline(value, ls="--", color=f"C{i + 2}", label=f"{name} ({value:.2f})")
    ax.set_xlabel("training time (s, wall clock)")
    ax.set_ylabel("validation cross-entropy (bits/char)")
    ax.set_title(title or "Held-out bits per character vs training time")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax


def plot_temperature(probs: np.ndarray, labels: list[str], temperatures=(0.5, 1.0, 1.5), top: int = 12,
                     ax=None, title: str | None = None):
    """Bar chart of a next-character distribution re-scaled by several temperatures.

    ``p_T(i) ∝ p(i) ** (1 / T)`` — the same as dividing the logits by ``T``.

    Args:
        probs: float ``(V,)`` probabilities at ``T = 1``.
        labels: the ``V`` character labels.
        top: show the ``top`` likeliest characters (at ``T = 1``).
    """
    ax = _axes(ax)
    order = np.argsort(-probs)[:top]
    width = 0.8 / len(temperatures)
    logp = np.log(np.clip(probs, 1e-30, None))
    for j, t in enumerate(temperatures):
        p_t = np.exp((logp - logp.max()) / t)
        p_t /= p_t.sum()
        ax.bar(np.arange(top) + (j - (len(temperatures) - 1) / 2) * width, p_t[order], width, label=f"T = {t:g}")
    ax.set_xticks(np.arange(top), [labels[i] for i in order])
    ax.set_xlabel("next character (⏎ = newline, ␣ = space)")
    ax.set_ylabel("probability")
    ax.set_title(title or "Temperature reshapes the next-character distribution")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    return ax
