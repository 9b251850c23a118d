"""The remembering family declared to the command line (:mod:`plastix.families`): online update rules
for neuron and synapse state, meta-trained to store and recall key → value snippets, measured in
meta-steps; the suite compares the models' recall."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from plastix.validation import ConfigError
from plastix.families import Budget, Family, run_members
from plastix.remember.config import RememberConfig


def run(cfg: RememberConfig, out, *, progress: bool = True, resume: bool = True):
    from plastix.remember.run import run_remember

    return run_remember(cfg, out, progress=progress, resume=resume)


def report(res) -> None:
    from plastix.remember.cli import report_remember

    report_remember(res)


def budget(name: str, cfg: RememberConfig, b: Budget) -> RememberConfig:
    """``--steps`` (meta-steps); one seed per run."""
    b.refuse(("steps", "seeds"), "remember experiments are measured in meta-steps; use --steps")
    b.non_negative("steps", "seeds")
    if b.seeds > 1:
        raise ConfigError("seeds", "remember experiments run one seed per run; use `plastix remember --seed S`")
    if b.steps:
        cfg = dataclasses.replace(cfg, steps=b.steps, log_every=min(cfg.log_every, b.steps))
    return cfg.validate()


def suite(suite: str, members: tuple[str, ...], b: Budget, out: Path, progress: bool, **options) -> None:
    """Every model of the recall suite (finished members are not trained again), then one recall table."""
    from plastix.experiments import get_experiment
    from plastix.remember.cli import write_recall_table
    from plastix.remember.run import run_remember

    def reuse(cfg, out, progress):
        return run_remember(cfg, out, progress=progress, reuse=True)

    results = run_members(FAMILY, {m: get_experiment(m) for m in members}, b, out, progress, run=reuse, **options)
    runs = [res.path for _, res in results]
    cmp = Path(out) / f"{suite.replace('/', '-')}-comparison"
    print(write_recall_table(runs, cmp))
    print(f"results: {cmp.resolve()}/recall.md (.csv), plot: {cmp.resolve()}/recall.png")


FAMILY = Family(
    name="remember",
    summary="learning to remember: online update rules for neuron and synapse state vectors, meta-learned "
            "to store and recall snippets of experience (a reconstruction)",
    configs=(RememberConfig,),
    run=run,
    report=report,
    budget=budget,
    curves={"RememberConfig": ("training.parquet", ("step",), ("bit_accuracy", "loss"))},
    rule=lambda cfg: cfg.model,
    task=lambda cfg: "remember",
    suite=suite,
)
