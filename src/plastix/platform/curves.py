"""Learning curves of a published run directory, whatever the family, in one long format.

``load_curves(run_dir)`` → :class:`Curves`: a table with a ``seed`` column, the x column (samples,
episode, epoch, generation or meta-step) and every logged metric, plus the names of the x column
and of the family's headline metric. The report and the TensorBoard export read runs only here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import pandas as pd

# family: (curve file, x column candidates, headline metric candidates)
FAMILIES = {
    "TrainConfig": ("metrics.parquet", ("episode", "samples"), ("accuracy", "return", "reward")),
    "CopiConfig": ("metrics.parquet", ("epoch",), ("test_acc",)),
    "MazeConfig": ("generations.parquet", ("generation",), ("mean", "best")),
    "RememberConfig": ("training.parquet", ("step",), ("bit_accuracy", "loss")),
    "BlurCmaConfig": ("metrics.parquet", ("generation",), ("test_accuracy",)),
    "BlurMetaConfig": ("training.parquet", ("step",), ("accuracy",)),
}
_NOT_METRICS = {"seed", "step", "samples", "episode", "epoch", "generation", "status", "length", "steps", "unroll"}


class Curves(NamedTuple):
    frame: pd.DataFrame  # long: seed, x, metrics…
    x: str
    metric: str  # the headline metric
    metrics: tuple[str, ...]  # every numeric metric column


def family_of(run_dir: Path) -> str:
    cfg = json.loads((run_dir / "config.json").read_text())
    if "agent" in cfg and "maze_size" in cfg:
        return "MazeConfig"
    if "dataset" in cfg and "decorrelation" in cfg:
        return "CopiConfig"
    if "val_tasks" in cfg and "stage_steps" in cfg:
        return "BlurMetaConfig"
    if "sigma0" in cfg and "n_support" in cfg:
        return "BlurCmaConfig"
    if "d_key" in cfg:
        return "RememberConfig"
    return "TrainConfig"


def load_curves(run_dir: str | Path, family: str | None = None) -> Curves:
    run_dir = Path(run_dir)
    family = family or family_of(run_dir)
    file, xs, heads = FAMILIES[family]
    frame = pd.read_parquet(run_dir / file)
    if "seed" not in frame:  # single-seed families: the config's seed
        frame = frame.assign(seed=int(json.loads((run_dir / "config.json").read_text()).get("seed", 0)))
    x = next(c for c in xs if c in frame)
    metric = next(c for c in heads if c in frame)
    metrics = tuple(c for c in frame.columns if c not in _NOT_METRICS and c != x
                    and pd.api.types.is_numeric_dtype(frame[c]))
    return Curves(frame, x, metric, metrics)
