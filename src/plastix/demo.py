"""The main job (``make demo`` / ``plastix demo``): REINFORCE vs backprop on the 11-bit multiplexer.

Trains both registered demo experiments (5 seeds each, one vmapped computation per rule) and
writes a comparison table (final accuracy, steps to 90 % / 95 % accuracy) and one plot.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from plastix.experiments import get_experiment
from plastix.plotting import plot_curves
from plastix.runner import RunResult, atomic_write_bytes, run

DEMO_EXPERIMENTS = ("demo/reinforce-multiplexer11", "demo/backprop-multiplexer11")


def comparison_table(results: dict[str, RunResult]) -> pd.DataFrame:
    """One row per rule: final accuracy (mean, std, min over seeds), steps and samples to 90/95 %."""
    rows = []
    for rule, res in results.items():
        s = res.summary
        fin = np.asarray(s["final_accuracy"])
        batch = int(res.metrics["samples"].iloc[0] // res.metrics["step"].iloc[0])
        row = {"rule": rule, "seeds": len(fin), "final_accuracy_mean": fin.mean(),
               "final_accuracy_std": fin.std(), "final_accuracy_min": fin.min()}
        for thr in (90, 95):
            hits = [h for h in s[f"steps_to_{thr}"] if h is not None]
            row[f"seeds_reaching_{thr}"] = len(hits)
            row[f"median_steps_to_{thr}"] = float(np.median(hits)) if hits else float("nan")
            row[f"median_samples_to_{thr}"] = row[f"median_steps_to_{thr}"] * batch
        row["wall_seconds"] = res.seconds
        rows.append(row)
    return pd.DataFrame(rows)


def demo(
    out: str | Path = "demo_runs", seeds: int = 5, progress: bool = True, steps: int = 0
) -> tuple[Path, pd.DataFrame]:
    """Run the demo; returns the output directory and the comparison table.

    ``steps`` > 0 overrides the number of updates (a quick look; the demo's bars need the default).
    """
    out = Path(out)
    results: dict[str, RunResult] = {}
    for name in DEMO_EXPERIMENTS:
        cfg = dataclasses.replace(get_experiment(name).config, seeds=seeds)
        if steps:
            cfg = dataclasses.replace(cfg, steps=steps, log_every=0)
        results[cfg.rule] = run(cfg, out, progress=progress)
    table = comparison_table(results)
    atomic_write_bytes(out / "comparison.csv", table.to_csv(index=False).encode())
    atomic_write_bytes(out / "comparison.md", markdown_table(table).encode())
    curves = {}
    for rule, res in results.items():
        wide = res.metrics.pivot(index="samples", columns="seed", values="accuracy")
        curves[rule] = (wide.index.to_numpy(), wide.to_numpy().T)
    plot_curves(curves, out / "comparison.png", title="11-bit multiplexer: REINFORCE vs backprop",
                smooth=max(1, len(curves[next(iter(curves))][0]) // 50))
    return out, table


def markdown_table(table: pd.DataFrame) -> str:
    """A GitHub-markdown rendering of a small table (4 significant digits)."""

    def fmt(v):
        return f"{v:.4g}" if isinstance(v, (float, np.floating)) else str(v)

    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines) + "\n"
