"""Learning-curve plots (matplotlib, headless): mean ± 95 % CI over seeds."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from plastix.analysis import mean_ci95, moving_average


def metric_range(metric: str) -> tuple[float, float] | None:
    """The values a metric can take, where bounded: accuracies and success rates [0, 1], cosines [−1, 1]."""
    if metric.startswith("align_"):
        return (-1.0, 1.0)
    if any(w in metric for w in ("accuracy", "success", "exact_match")):
        return (0.0, 1.0)
    return None


def plot_curves(
    curves: dict[str, tuple[np.ndarray, np.ndarray]],
    path: str | Path,
    *,
    xlabel: str = "samples",
    ylabel: str = "accuracy",
    title: str = "",
    smooth: int = 1,
    ylim: tuple[float, float] | None = None,
    bounds: tuple[float, float] | None = None,
    chance: float | None = None,
) -> Path:
    """One line per label: ``curves[label] = (x (n,), y (seeds, n))``; band = 95 % CI over seeds.

    ``bounds``: the metric's range (an accuracy's [0, 1]); the bands are clipped to it. ``chance``: a
    dashed line at a random policy's level. An x axis of samples is labelled in thousands."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    for label, (x, y) in curves.items():
        y = moving_average(np.atleast_2d(y), smooth)
        mean, half = mean_ci95(y)
        n = np.atleast_2d(y).shape[0]
        (line,) = ax.plot(x, mean, label=f"{label} (n={n})", lw=1.5)
        lo, hi = mean - half, mean + half
        if bounds is not None:
            lo, hi = np.clip(lo, *bounds), np.clip(hi, *bounds)
        ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.25, lw=0)
    if chance is not None:
        ax.axhline(chance, color="0.4", ls="--", lw=1, label="chance")
    if xlabel == "samples":
        from matplotlib.ticker import FuncFormatter

        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v / 1000:g}"))
        xlabel = "samples (thousands)"
    ax.set_xlabel(xlabel)
    ax.text(0.99, 0.01, "bands: 95 % CI over seeds", transform=ax.transAxes, ha="right", va="bottom",
            fontsize=7, color="0.4")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=9)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path
