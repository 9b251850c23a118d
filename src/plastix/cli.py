"""The command line: ``plastix train | run | list | demo`` (tyro). Thin: parse, validate, run, report.

Bad input (unknown names, impossible sizes, negative rates, non-finite values mid-run) prints one
line ``plastix: error: …`` naming the option and the allowed values, and exits with code 2
before any compilation; nothing is half-written.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Annotated

import tyro

from plastix.config import ConfigError, TrainConfig


class UsageError(Exception):
    """Bad command-line input detected by plastix itself (exit code 2)."""


def train(
    cfg: tyro.conf.OmitArgPrefixes[TrainConfig],
    out: Path = Path("runs"),
    progress: bool = True,
    resume: bool = True,
) -> None:
    """Train a rule on a task for several seeds (one vmapped run) and write a run directory.

    Args:
        cfg: the training configuration.
        out: parent directory for run directories.
        progress: show a progress bar.
        resume: continue an interrupted run of the same config from its checkpoint.
    """
    from plastix.runner import run

    cfg.validate()
    res = run(cfg, out, progress=progress, resume=resume)
    _report(res)


def run_experiment(
    name: Annotated[str, tyro.conf.Positional],
    seeds: int = 0,
    steps: int = 0,
    episodes: int = 0,
    out: Path = Path("runs"),
    progress: bool = True,
) -> None:
    """Run a registered experiment by name (see `plastix list`).

    Args:
        name: experiment name, e.g. reinforce/multiplexer20.
        seeds: override the number of seeds (0 = the experiment's).
        steps: override the number of updates (0 = the experiment's); log interval is rescaled.
        episodes: RL experiments: override the number of training episodes per seed (0 = the experiment's).
        out: parent directory for run directories.
        progress: show a progress bar.
    """
    from plastix.experiments import get_experiment
    from plastix.runner import run

    try:
        exp = get_experiment(name)
    except ValueError as e:
        raise UsageError(f"name: {e}") from None
    cfg = exp.config
    if seeds:
        cfg = dataclasses.replace(cfg, seeds=seeds)
    if steps:
        if cfg.is_rl:
            raise UsageError(f"--steps: {name} is measured in episodes; use --episodes")
        cfg = dataclasses.replace(cfg, steps=steps, log_every=0)
    if episodes:
        if not cfg.is_rl:
            raise UsageError(f"--episodes: {name} is a one-step task; use --steps")
        cfg = dataclasses.replace(cfg, episodes=episodes)
    cfg.validate()
    print(f"{name}: {exp.description}\n  source: {exp.paper}\n  reference: {exp.reference}")
    _report(run(cfg, out, progress=progress))


def list_all() -> None:
    """List the learning rules, tasks and experiments, one line each."""
    from plastix.experiments import EXPERIMENTS
    from plastix.rules import RULES
    from plastix.tasks import TASKS

    print("rules:")
    for name, spec in RULES.items():
        print(f"  {name:<32} {spec.description}")
    print("tasks:")
    for name, spec in TASKS.items():
        print(f"  {name:<32} {spec.description}")
    print("experiments:")
    for name, exp in EXPERIMENTS.items():
        print(f"  {name:<32} {exp.description}")


def demo(out: Path = Path("demo_runs"), seeds: int = 5, progress: bool = True, steps: int = 0) -> None:
    """The main job: REINFORCE vs backprop on the 11-bit multiplexer, comparison table and plot.

    Args:
        out: output directory.
        seeds: seeds per rule.
        progress: show progress bars.
        steps: override the number of updates per run (0 = the demo's 40,000).
    """
    from plastix.compare import markdown_table
    from plastix.demo import demo as run_demo

    if seeds < 1:
        raise UsageError(f"--seeds: must be ≥ 1, got {seeds}")
    if steps < 0:
        raise UsageError(f"--steps: must be ≥ 0 (0 = the demo's), got {steps}")
    out_dir, table = run_demo(out, seeds, progress, steps)
    print(markdown_table(table))
    print(f"results: {out_dir.resolve()}/comparison.md (.csv), plot: {out_dir.resolve()}/comparison.png")
    print(f"run directories: {', '.join(str(p) for p in sorted(out_dir.iterdir()) if p.is_dir() and not p.name.startswith('.'))}")


def compare_runs(runs: Annotated[list[Path], tyro.conf.Positional], out: Path = Path("comparison"),
                 title: str = "", metric: str = "accuracy") -> None:
    """Compare finished run directories: a table (final accuracy, mean reward over the run, samples to
    90/95 %) and one plot of learning curves (mean ± 95 % CI over seeds).

    Args:
        runs: run directories written by `plastix train` / `plastix run`.
        out: output directory for comparison.md, .csv and .png.
        title: plot title.
        metric: metric to plot (accuracy, reward, align_exact, align_ste …).
    """
    from plastix.compare import compare, markdown_table

    missing = [str(r) for r in runs if not (r / "summary.json").is_file()]
    if missing:
        raise UsageError(f"runs: not a finished run directory: {', '.join(missing)}")
    out_dir, table = compare(runs, out, title, metric)
    print(markdown_table(table))
    print(f"results: {out_dir.resolve()}/comparison.md (.csv), plot: {out_dir.resolve()}/comparison.png")


def _report(res) -> None:
    s = res.summary
    if "mean_return_over_run_mean" in s:  # RL: episodes
        print(f"{res.path}: mean return over all training episodes {s['mean_return_over_run_mean']:.2f} "
              f"(std over seeds {s['mean_return_over_run_std']:.2f}), final return {s['final_return_mean']:.2f} "
              f"(last 5% of episodes), {res.seconds:.1f} s")
    else:
        keys = [k for k in s if k.startswith("final_") and k.endswith("_mean")]
        finals = ", ".join(f"{k[6:-5]} {s[k]:.4f}" for k in keys)
        print(f"{res.path}: final {finals} (mean over seeds; last 5% of the run), {res.seconds:.1f} s")
    print(f"  metrics: {res.path / 'metrics.parquet'}  plot: {res.path / 'curve.png'}")


COMMANDS = {"train": train, "run": run_experiment, "list": list_all, "demo": demo, "compare": compare_runs}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``plastix`` command; returns the exit code."""
    from plastix.runtime import configure

    try:
        configure()
    except ValueError as e:
        print(f"plastix: error: {e}", file=sys.stderr)
        return 2
    from plastix.rl.gym_adapter import MissingDependencyError
    from plastix.runner import NonFiniteError

    args = sys.argv[1:] if argv is None else argv
    try:
        tyro.extras.subcommand_cli_from_dict(COMMANDS, args=args, prog="plastix")
    except (ConfigError, UsageError, NonFiniteError, MissingDependencyError) as e:
        print(f"plastix: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("plastix: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
