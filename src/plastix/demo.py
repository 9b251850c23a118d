"""The main job (``make demo`` / ``plastix demo``): REINFORCE vs backprop on the 11-bit multiplexer.

Trains both registered demo experiments (5 seeds each, one vmapped computation per rule) and
writes a comparison table (final accuracy, steps to 90 % / 95 % accuracy) and one plot.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd

from plastix.compare import compare
from plastix.experiments import get_experiment
from plastix.teams.runner import RunResult, run

DEMO_EXPERIMENTS = ("demo/reinforce-multiplexer11", "demo/backprop-multiplexer11")


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
    return compare([r.path for r in results.values()], out, "11-bit multiplexer: REINFORCE vs backprop",
                   labels=list(results))


