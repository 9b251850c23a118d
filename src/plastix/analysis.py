"""Summaries of learning curves: final level, steps to a threshold, confidence bands."""

from __future__ import annotations

import math

import numpy as np


def moving_average(y: np.ndarray, window: int) -> np.ndarray:
    """Trailing moving average along the last axis (the first ``window − 1`` points are partial)."""
    window = max(1, int(window))
    c = np.cumsum(np.asarray(y, dtype=np.float64), axis=-1)
    out = c.copy()
    out[..., window:] = c[..., window:] - c[..., :-window]
    n = np.minimum(np.arange(1, y.shape[-1] + 1), window)
    return out / n


def final_value(y: np.ndarray, fraction: float = 0.05) -> np.ndarray:
    """Mean of the last ``fraction`` of the curve (at least one point), per row."""
    y = np.atleast_2d(y)
    k = max(1, int(math.ceil(y.shape[-1] * fraction)))
    return y[..., -k:].mean(-1)


def first_crossing(x: np.ndarray, y: np.ndarray, threshold: float, window: int) -> np.ndarray:
    """Per row, the first ``x`` where the moving average of ``y`` reaches ``threshold`` (NaN if never)."""
    ma = moving_average(np.atleast_2d(y), window)
    hit = ma >= threshold
    idx = np.argmax(hit, axis=-1)
    return np.where(hit.any(-1), np.asarray(x)[idx], np.nan)


def mean_ci95(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over rows and the half-width of a 95 % t-interval (0 for a single row)."""
    y = np.atleast_2d(y)
    n = y.shape[0]
    mean = y.mean(0)
    if n < 2:
        return mean, np.zeros_like(mean)
    return mean, _t975(n - 1) * y.std(0, ddof=1) / np.sqrt(n)


def _t975(df: int) -> float:
    # Student-t 97.5 % quantiles for small df; normal beyond (error < 0.5 % for df > 30).
    table = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
             2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
             2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042]
    return table[df - 1] if df <= len(table) else 1.96
