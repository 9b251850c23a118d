"""The command line: ``plastix train | run | list | demo | compare | copi | copi-features | copi-compress |
evolve-maze | eval-maze | maze-set | remember | sweep | runs | report`` (tyro). Thin: parse, validate, run, report.

Bad input (unknown names, impossible sizes, negative rates, non-finite values mid-run) prints one
line ``plastix: error: …`` naming the option and the allowed values, and exits with code 2
before any compilation; nothing is half-written.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import tyro

from plastix.teams.config import ConfigError, TrainConfig
from plastix.copi.config import CopiConfig
from plastix.eprnn.cli import eval_maze, evolve_maze, maze_set
from plastix.remember.cli import remember
from plastix.platform.store import check_out_dir, run_unless_finished


class UsageError(Exception):
    """Bad command-line input detected by plastix itself (exit code 2)."""


def train(
    cfg: tyro.conf.OmitArgPrefixes[TrainConfig],
    out: Path = Path("runs"),
    progress: bool = True,
    fresh: bool = False,
) -> None:
    """Train a rule on a task for several seeds (one vmapped run) and write a run directory.

    A finished run of the same config is skipped, an interrupted one resumes from its checkpoint.

    Args:
        cfg: the training configuration.
        out: parent directory for run directories.
        progress: show a progress bar.
        fresh: start over: recompute a finished run, ignore an interrupted one's checkpoint.
    """
    cfg.validate()
    check_out_dir(out)
    run_unless_finished(cfg, out, fresh=fresh, progress=progress)


def run_experiment(
    name: Annotated[str, tyro.conf.Positional],
    seeds: int = 0,
    steps: int = 0,
    episodes: int = 0,
    epochs: int = 0,
    data_dir: str = "",
    generations: int = 0,
    out: Path = Path("runs"),
    progress: bool = True,
    fresh: bool = False,
    ray: str = "",
    ray_workers: int = 0,
) -> None:
    """Run a registered experiment (or suite) by name (see `plastix list`). A finished run of the same
    config is skipped, an interrupted one resumes from its checkpoint.

    Args:
        name: experiment name, e.g. reinforce/multiplexer20, or a suite such as copi/mnist; or
            MODULE:NAME, an experiment of your own.
        seeds: override the number of seeds (0 = the experiment's).
        steps: override the number of updates (0 = the experiment's); log interval is rescaled.
        episodes: RL experiments: override the number of training episodes per seed (0 = the experiment's).
        epochs: COPI experiments: override the number of joint epochs (0 = the experiment's).
        data_dir: COPI experiments: directory with the full dataset (MNIST IDX files / CIFAR-10 batches);
            copi/mnist then trains on full MNIST instead of the bundled 5k subset.
        generations: maze experiments (eprnn/*): override the number of generations (0 = the experiment's).
        out: parent directory for run directories.
        progress: show a progress bar.
        fresh: start over: recompute a finished run, ignore an interrupted one's checkpoint.
        ray: evolution runs (eprnn/*, BLUR CMA-ES): evaluate each generation's population in shards on
            this Ray cluster: auto, local (start one here) or host:port. Same numbers as without it.
        ray_workers: with --ray: the number of Ray actors (0 = one per CPU of the cluster).
    """
    from plastix.experiments import SUITES, get_experiment
    from plastix.families import Budget, all_families, family_of

    budget = Budget(seeds=seeds, steps=steps, episodes=episodes, epochs=epochs, generations=generations,
                    data_dir=data_dir)
    try:
        exp = get_experiment(SUITES[name][0] if name in SUITES else name)
    except ConfigError:  # a MODULE:NAME that cannot be used says why itself
        raise
    except ValueError as e:
        raise UsageError(f"name: {e}; suites: {', '.join(SUITES)}") from None
    check_out_dir(out)
    family = family_of(exp.config)
    options = {"ray": ray, "ray_workers": ray_workers} if ray or ray_workers else {}
    if options and "ray" not in family.run_options:
        takes = [f.name for f in all_families() if "ray" in f.run_options]
        raise UsageError(f"--{'ray' if ray else 'ray-workers'}: {family.name} runs do not take it; allowed for: "
                         f"{', '.join(takes)}")
    if ray_workers and not ray:
        raise UsageError("--ray-workers: give --ray ADDRESS too")
    if name in SUITES:  # every member through its family's runner, with the same options
        family.suite(name, SUITES[name], budget, out, progress, **options)
        return
    cfg = family.budget(name, exp.config, budget)
    print(f"{name}: {exp.description}\n  source: {exp.paper}\n  reference: {exp.reference}")
    run_unless_finished(cfg, out, fresh=fresh, progress=progress, **options)


def copi_train(
    cfg: tyro.conf.OmitArgPrefixes[CopiConfig],
    out: Path = Path("runs"),
    progress: bool = True,
    fresh: bool = False,
) -> None:
    """Train a decorrelated network with COPI (constrained parameter inference) or a baseline; write a run
    directory. A finished run of the same config is skipped, an interrupted one resumes.

    Args:
        cfg: the COPI configuration.
        out: parent directory for run directories.
        progress: show a progress bar.
        fresh: start over: recompute a finished run, ignore an interrupted one's checkpoint.
    """
    cfg.validate()
    check_out_dir(out)
    run_unless_finished(cfg, out, fresh=fresh, progress=progress)


def copi_features(run: Annotated[Path, tyro.conf.Positional], out: Path = Path(""), layer: int = 1,
                  seed_index: int = 0, decorrelated: bool = False, data_dir: str = "") -> None:
    """Receptive fields ⟨a u⟩/⟨u²⟩ of one layer's units in a finished COPI run (a plot and a .npy).

    Args:
        run: a COPI run directory.
        out: output directory (default: the run directory's analysis/).
        layer: layer whose units to show (1 = first hidden layer).
        seed_index: which of the run's seeds (0 = the first).
        decorrelated: use the decorrelated pixels x₁ = R₁y₀ as u instead of the raw input.
        data_dir: dataset directory, if not the one recorded in the run.
    """
    from plastix.copi.report import features

    _require_copi_run(run)
    try:
        path = features(run, out if str(out) not in ("", ".") else run / "analysis", layer, seed_index,
                        decorrelated, data_dir)
    except ValueError as e:
        raise UsageError(str(e)) from None
    print(f"receptive fields: {path.resolve()} (values in {path.with_suffix('.npy').name})")


def copi_compress(run: Annotated[Path, tyro.conf.Positional], out: Path = Path(""), data_dir: str = "") -> None:
    """Network compression: replace the top k layers of a finished COPI run by one COPI-inferred linear map.

    Args:
        run: a COPI run directory.
        out: output directory (default: the run directory's analysis/).
        data_dir: dataset directory, if not the one recorded in the run.
    """
    from plastix.compare import markdown_table
    from plastix.copi.report import compress

    _require_copi_run(run)
    try:
        out_dir, table = compress(run, out if str(out) not in ("", ".") else run / "analysis", data_dir)
    except ValueError as e:
        raise UsageError(str(e)) from None
    print(markdown_table(table))
    print(f"results: {out_dir.resolve()}/compression.md (.csv), plot: {out_dir.resolve()}/compression.png")


def _require_copi_run(run: Path) -> None:
    if not (run / "summary.json").is_file() or not any(run.glob("params_seed*.npz")):
        raise UsageError(f"run: {run} is not a finished COPI run directory (summary.json and params_seed*.npz)")


def list_all() -> None:
    """List the families, learning rules, tasks and experiments, one line each."""
    from plastix.experiments import EXPERIMENTS
    from plastix.families import all_families
    from plastix.rules import RULES
    from plastix.tasks import TASKS

    print("families:")
    for family in all_families():
        print(f"  {family.name:<32} {family.summary}")
    print("rules:")
    for name, spec in RULES.items():
        print(f"  {name:<32} {spec.description}")
    print("tasks:")
    for name, spec in TASKS.items():
        print(f"  {name:<32} {spec.description}")
    from plastix.eprnn.agent import AGENTS

    print(f"maze agents (plastix evolve-maze --agent): {', '.join(AGENTS)}")
    print("experiments:")
    for name, exp in EXPERIMENTS.items():
        print(f"  {name:<32} {exp.description}")
    from plastix.experiments import SUITES

    print("suites (run every member, then compare):")
    for name, members in SUITES.items():
        print(f"  {name:<32} {', '.join(m.rsplit('/', 1)[1] for m in members)}")


def demo(out: Path = Path("demo_runs"), seeds: int = 5, progress: bool = True, steps: int = 0) -> None:
    """The main job: REINFORCE vs backprop on the 11-bit multiplexer, comparison table and plot.

    Args:
        out: output directory.
        seeds: seeds per rule.
        progress: show progress bars.
        steps: override the number of updates per run (0 = the demo's 40,000).
    """
    from plastix.compare import markdown_table, readable_table
    from plastix.demo import demo as run_demo

    if seeds < 1:
        raise UsageError(f"--seeds: must be ≥ 1, got {seeds}")
    if steps < 0:
        raise UsageError(f"--steps: must be ≥ 0 (0 = the demo's), got {steps}")
    check_out_dir(out)
    out_dir, table = run_demo(out, seeds, progress, steps)
    print(markdown_table(readable_table(table)))
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
    from plastix.compare import compare, markdown_table, readable_table

    missing = [str(r) for r in runs if not (r / "summary.json").is_file()]
    if missing:
        raise UsageError(f"runs: not a finished run directory: {', '.join(missing)}")
    check_out_dir(out)
    out_dir, table = compare(runs, out, title, metric)
    print(markdown_table(readable_table(table)))  # every column: comparison.csv / .md
    print(f"results: {out_dir.resolve()}/comparison.md (.csv), plot: {out_dir.resolve()}/comparison.png")


def sweep_cmd(
    experiment: Annotated[str, tyro.conf.Positional, tyro.conf.arg(metavar="EXPERIMENT")],
    seeds: int = 0,
    grid: tuple[str, ...] = (),
    out: Path = Path("sweeps"),
    workers: int = 0,
    ray: str = "",
    fresh: bool = False,
    progress: bool = True,
    tensorboard: bool = False,
    resume: bool = True,
) -> None:
    """Run a registered experiment over a grid of configs × seeds, locally or on a Ray cluster.

    Args:
        experiment: a registered experiment (see `plastix list`), e.g. demo/reinforce-multiplexer11.
        seeds: seeds per config, run as one vmapped call (0 = the experiment's).
        grid: KEY=V1,V2 … config fields to sweep (their Cartesian product); tuples as A:B:C,
            e.g. --grid lr=1e-2:1e-3:1e-4,3e-2:3e-3:3e-4 batch=8,32.
        out: the results directory (one run directory per config, index.csv, report).
        workers: local worker processes (0 = one per core, at most one per run; 1 = this process).
        ray: run each config as a Ray task on this cluster: auto, local (start one here) or host:port.
        fresh: start over: recompute finished runs and ignore checkpoints (by default finished runs are
            skipped and interrupted ones continue from their last checkpoint, as for every command).
        resume: the default (kept so that scripts passing --resume still run); --no-resume is --fresh.
        progress: progress bars for the sweep and each run.
        tensorboard: also write TensorBoard event files into each run directory (needs plastix[tensorboard]).
    """
    from plastix.platform.sweep import sweep

    records = sweep(experiment, seeds=seeds, grid=grid, out=out, workers=workers, ray=ray, resume=resume and not fresh,
                    progress=progress, tensorboard=tensorboard)
    failed = [r for r in records if r["status"] != "done"]
    skipped = sum(1 for r in records if r.get("skipped"))
    print(f"{len(records) - len(failed)} of {len(records)} runs done ({skipped} already finished) in "
          f"{out}; index: {out / 'index.csv'}; report: plastix report {out}")
    if failed:
        raise UsageError(f"{len(failed)} run(s) failed: " + "; ".join(f"{r['run']}: {r['error']}" for r in failed))


def runs_cmd(
    results: Annotated[Path, tyro.conf.Positional, tyro.conf.arg(metavar="RESULTS_DIR")] = Path("sweeps"),
    where: tuple[str, ...] = (),
    columns: tuple[str, ...] = (),
) -> None:
    """List the runs of a results directory (its index.csv), filtered.

    Args:
        results: a results directory written by `plastix sweep`.
        where: COLUMN=VALUE (exact) or COLUMN~TEXT (substring) filters, all of which must hold,
            e.g. --where status=done rule~weight.
        columns: the columns to show (default, to fit a terminal: run, rule, task, seeds, status, wall
            seconds and the final metrics' means under short names; every column is in index.csv).
    """
    import pandas as pd

    from plastix.platform.store import filter_index, live_status, load_index

    frame = filter_index(live_status(results, load_index(results)), list(where))
    if columns:
        missing = [c for c in columns if c not in frame]
        if missing:
            raise UsageError(f"--columns: unknown column {missing[0]!r}; allowed: {', '.join(frame.columns)}")
        shown = frame[list(columns)]
    else:  # what fits a terminal: short names, rounded numbers, each run's grid on a line of its own below
        import json

        finals = [c for c in frame.columns if c.startswith("final_") and c.endswith("_mean")]
        shown = frame[["run", "rule", "task", "seeds", "status", "wall_seconds", *finals]].rename(
            columns={"wall_seconds": "wall s", **{c: c[6:-5] for c in finals}})
        shown = shown.round({c[6:-5]: 3 for c in finals})
        shown["wall s"] = [f"{w:.0f}" for w in shown["wall s"]]
        shown["run"] = [r if len(r) <= 18 else r[:17] + "…" for r in shown.run]  # in full under "grid values"
        grids = [(r, " ".join(f"{k}={':'.join(map(str, v)) if isinstance(v, list) else v}"
                              for k, v in json.loads(g or "{}").items())) for r, g in zip(frame.run, frame.grid)]
    with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", 10_000,
                           "display.max_colwidth", 60):
        print(shown.to_string(index=False) if len(shown) else "no runs match")
    if not columns and len(shown) and any(g for _, g in grids):
        print("grid values:")
        for r, g in grids:
            print(f"  {r}: {g}")


def report_cmd(results: Annotated[Path, tyro.conf.Positional, tyro.conf.arg(metavar="RESULTS_DIR")],
               out: Path = Path("")) -> None:
    """Write a self-contained HTML report and a markdown summary of a results directory.

    Args:
        results: a results directory written by `plastix sweep`.
        out: where to write report.html, report.md and report/ (default: the results directory).
    """
    from plastix.platform.report import report

    html_path, md_path = report(results, out if str(out) not in ("", ".") else None)
    print(f"report: {html_path}\nsummary: {md_path}")


COMMANDS = {"train": train, "run": run_experiment, "list": list_all, "demo": demo, "compare": compare_runs,
            "copi": copi_train, "copi-features": copi_features, "copi-compress": copi_compress,
            "evolve-maze": evolve_maze, "eval-maze": eval_maze, "maze-set": maze_set, "remember": remember,
            "sweep": sweep_cmd, "runs": runs_cmd, "report": report_cmd}
# `plastix evolve maze …` and `plastix eval maze …` still work: the two words are read as one command
_TWO_WORD = {("evolve", "maze"): "evolve-maze", ("eval", "maze"): "eval-maze"}


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"plastix: warning: {message}", file=sys.stderr if file is None else file)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``plastix`` command; returns the exit code."""
    from plastix.runtime import configure

    try:
        configure()
    except ValueError as e:
        print(f"plastix: error: {e}", file=sys.stderr)
        return 2
    from plastix.datasets import DataError
    from plastix.rl.gym_adapter import MissingDependencyError
    from plastix.rundir import NonFiniteError

    import warnings

    warnings.showwarning = _one_line_warning
    from plastix.experiments import load_entry_points

    load_entry_points()  # installed packages' tasks, rules, environments and experiments
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) >= 2 and (args[0], args[1]) in _TWO_WORD:
        args = [_TWO_WORD[(args[0], args[1])], *args[2:]]
    from plastix.eprnn.cli import MazeInputError
    from plastix.platform.store import StoreError
    from plastix.platform.sweep import SweepError

    try:
        tyro.extras.subcommand_cli_from_dict(COMMANDS, args=args, prog="plastix")
    except (ConfigError, UsageError, NonFiniteError, MissingDependencyError, DataError, MazeInputError,
            FloatingPointError, StoreError, SweepError) as e:
        print(f"plastix: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("plastix: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `plastix list | head`: the reader left; say nothing more
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
