"""The maze family declared to the command line (:mod:`plastix.families`): plastic RNN agents whose
genomes are evolved to learn within a lifetime in random mazes, measured in generations; suites
compare agents on the stored evaluation mazes."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from plastix.eprnn.config import MazeConfig
from plastix.families import Budget, Family, run_members


def run(cfg: MazeConfig, out, *, progress: bool = True, resume: bool = True, ray: str = "", ray_workers: int = 0):
    from plastix.eprnn.run import run_evolve

    return run_evolve(cfg, out, progress=progress, resume=resume, ray=ray, ray_workers=ray_workers)


def report(res) -> None:
    from plastix.eprnn.cli import report_evolve

    report_evolve(res)


def budget(name: str, cfg: MazeConfig, b: Budget) -> MazeConfig:
    """``--generations`` only (one seed per run: the genome's population is the run)."""
    b.refuse(("generations",), "maze experiments are measured in generations; use --generations")
    b.non_negative("generations")
    if b.generations:
        cfg = dataclasses.replace(cfg, generations=b.generations, eval_every=min(cfg.eval_every, b.generations))
    return cfg.validate()


def suite(suite: str, members: tuple[str, ...], b: Budget, out: Path, progress: bool, **options) -> None:
    """Every agent of a maze suite, then one table of their meta-test success."""
    from plastix.experiments import get_experiment
    from plastix.eprnn.cli import write_maze_table

    results = run_members(FAMILY, {m: get_experiment(m) for m in members}, b, out, progress, **options)
    runs = [res.path for _, res in results]
    print(write_maze_table(runs, Path(out) / f"{suite.replace('/', '-')}-comparison"))


FAMILY = Family(
    name="eprnn",
    summary="evolved decomposed plasticity: plastic RNNs with per-neuron Hebbian rules and neuromodulation, "
            "evolved to learn within a lifetime in random 2-D mazes",
    configs=(MazeConfig,),
    run=run,
    report=report,
    budget=budget,
    curves={"MazeConfig": ("generations.parquet", ("generation",), ("mean", "best"))},
    rule=lambda cfg: cfg.agent,
    task=lambda cfg: f"maze{cfg.maze_size}",
    suite=suite,
    run_options=("ray", "ray_workers"),
)
