"""The team-rule family declared to the command line (:mod:`plastix.families`): one-step tasks
(multiplexer, parity, regression) and the actor-critic runner (classic control), all seeds of a run
one vmapped computation."""

from __future__ import annotations

import dataclasses

from plastix.teams.config import ConfigError, TrainConfig
from plastix.families import Budget, Family


def run(cfg: TrainConfig, out, *, progress: bool = True, resume: bool = True):
    from plastix.teams.runner import run as run_train

    return run_train(cfg, out, progress=progress, resume=resume)


def report(res) -> None:
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


def budget(name: str, cfg: TrainConfig, b: Budget) -> TrainConfig:
    """``--seeds``; ``--steps`` for one-step tasks, ``--episodes`` for environments."""
    if b.generations:
        raise ConfigError("generations", "only maze (eprnn/*) and BLUR (blur/*) experiments take it")
    if b.epochs or b.data_dir:
        raise ConfigError("epochs" if b.epochs else "data_dir", "only COPI experiments take it")
    if b.seeds:
        cfg = dataclasses.replace(cfg, seeds=b.seeds)
    if b.steps:
        if cfg.is_rl:
            raise ConfigError("steps", f"{name} is measured in episodes; use --episodes")
        cfg = dataclasses.replace(cfg, steps=b.steps, log_every=0)
    if b.episodes:
        if not cfg.is_rl:
            raise ConfigError("episodes", f"{name} is a one-step task; use --steps")
        cfg = dataclasses.replace(cfg, episodes=b.episodes)
    return cfg.validate()


FAMILY = Family(
    name="teams",
    summary="teams of stochastic units trained by a global reward (REINFORCE, Weight Maximization, UWM, "
            "MAP propagation, Boltzmann and recurrent layers; STE and backprop baselines)",
    configs=(TrainConfig,),
    run=run,
    report=report,
    budget=budget,
    curves={"TrainConfig": ("metrics.parquet", ("episode", "samples"), ("accuracy", "return", "reward"))},
    rule=lambda cfg: cfg.rule,
    task=lambda cfg: cfg.task_name,
)
