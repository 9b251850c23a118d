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

_NOT_METRICS = {"seed", "step", "samples", "episode", "epoch", "generation", "status", "length", "steps", "unroll"}


class Curves(NamedTuple):
    frame: pd.DataFrame  # long: seed, x, metrics…
    x: str
    metric: str  # the headline metric
    metrics: tuple[str, ...]  # every numeric metric column


def family_of(run_dir: Path) -> str:
    """The name of the config type a run directory was written from."""
    from plastix.families import config_type_of

    return config_type_of(json.loads((run_dir / "config.json").read_text())).__name__


def curve_specs() -> dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]]:
    """Config type name → (curve file, x column candidates, headline metric candidates), from every family."""
    from plastix.families import all_families

    return {name: spec for family in all_families() for name, spec in family.curves.items()}


def load_curves(run_dir: str | Path, family: str | None = None) -> Curves:
    run_dir = Path(run_dir)
    family = family or family_of(run_dir)
    file, xs, heads = curve_specs()[family]
    frame = pd.read_parquet(run_dir / file)
    if "seed" not in frame:  # single-seed families: the config's seed
        frame = frame.assign(seed=int(json.loads((run_dir / "config.json").read_text()).get("seed", 0)))
    x = next(c for c in xs if c in frame)
    metric = next(c for c in heads if c in frame)
    metrics = tuple(c for c in frame.columns if c not in _NOT_METRICS and c != x
                    and pd.api.types.is_numeric_dtype(frame[c]))
    return Curves(frame, x, metric, metrics)
