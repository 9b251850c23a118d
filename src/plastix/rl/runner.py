"""Run an RL config for all its seeds and publish a run directory (the impure layer for RL).

Like :func:`plastix.teams.runner.run`, but a run is measured in episodes: the vmapped trainer is
advanced in chunks of environment steps until every seed has finished ``cfg.episodes`` episodes
(finished seeds are frozen inside the scan). JAX environments checkpoint after every chunk and
resume bit-identically; gymnasium environments (the host adapter) cannot be checkpointed
mid-episode and restart from scratch. The published directory holds ``config.json``,
``metrics.parquet`` (seed, episode, return, length, steps), ``summary.json`` (per seed: mean
return over all training episodes — the papers' metric — final return, environment steps) and
``curve.png`` (return per episode, mean ± 95 % CI over seeds).
"""

from __future__ import annotations

import pickle
import time
from pathlib import Path
from typing import Any

import jax
import numpy as np
import pandas as pd

from plastix.analysis import final_value
from plastix.teams.config import TrainConfig
from plastix.envs import ENVS
from plastix.plotting import plot_curves
from plastix.rundir import (NonFiniteError, RunResult, atomic_write_bytes, chunk_guard, earlier_seconds, open_partial,
                            progress_bar, publish_dir, write_run_files)
from plastix.teams.train import seed_keys

CHUNK_STEPS = 10_000  # environment steps per compiled chunk (one progress update and checkpoint)


def episode_frame(returns: np.ndarray, lengths: np.ndarray) -> pd.DataFrame:
    """Long table: seed, episode (1-based), return, length, steps (environment steps so far)."""
    seeds, n = returns.shape
    return pd.DataFrame({
        "seed": np.repeat(np.arange(seeds), n),
        "episode": np.tile(np.arange(1, n + 1), seeds),
        "return": returns.reshape(-1).astype(np.float64),
        "length": lengths.reshape(-1).astype(np.int64),
        "steps": np.cumsum(lengths, axis=1).reshape(-1).astype(np.int64),
    })


def summarize_rl(cfg: TrainConfig, returns: np.ndarray, lengths: np.ndarray) -> dict[str, Any]:
    """Per-seed mean return over all training episodes (the papers' metric), final return, steps."""
    per_seed = returns.mean(1)
    return {
        "config_digest": cfg.digest(), "episodes": cfg.episodes,
        "mean_return_over_run": per_seed.tolist(),
        "mean_return_over_run_mean": float(per_seed.mean()),
        "mean_return_over_run_std": float(per_seed.std()),  # population std (ddof = 0), as the papers
        "final_return": final_value(returns).tolist(),
        "final_return_mean": float(final_value(returns).mean()),
        "env_steps": lengths.sum(1).tolist(),
    }


def run_rl(cfg: TrainConfig, out: str | Path = "runs", *, progress: bool = True, resume: bool = True,
           chunk_steps: int = CHUNK_STEPS) -> RunResult:
    """Train the RL config ``cfg`` (all seeds) and publish ``out/<cfg.run_name>/``."""
    t0 = time.perf_counter()
    cfg.validate()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    final, partial = out / cfg.run_name, out / f".{cfg.run_name}.partial"
    if ENVS[cfg.task].build is None:
        from plastix.rl.gym_adapter import make_gym_train

        trainer, resume = make_gym_train(cfg), False  # host environments cannot be checkpointed
        init, run_chunk = trainer.init, trainer.run
    else:
        from plastix.rl.train import make_rl_train

        trainer = make_rl_train(cfg)
        devices = jax.local_device_count()
        if devices > 1 and cfg.seeds % devices == 0:  # seeds split over XLA devices (PLASTIX_DEVICES)
            pinit = jax.pmap(jax.vmap(trainer.init))
            prun = jax.pmap(jax.vmap(trainer.run, in_axes=(0, None)), in_axes=(0, None), static_broadcasted_argnums=1)
            init = lambda keys: _merge(pinit(keys.reshape((devices, -1) + keys.shape[1:])))  # noqa: E731
            run_chunk = lambda st, n: _merge(prun(_split(st, devices), n))  # noqa: E731
        else:
            init = jax.jit(jax.vmap(trainer.init))
            run_chunk = jax.jit(jax.vmap(trainer.run, in_axes=(0, None)), static_argnums=1)
    ckpt_path = partial / "checkpoint.pkl"
    ckpt = open_partial(cfg, partial, resume)
    state = ckpt["state"] if ckpt is not None else init(seed_keys(cfg))
    before = earlier_seconds(ckpt)

    bar = _progress(progress, cfg)
    with chunk_guard(partial, bar):
        while True:
            done = np.minimum(np.asarray(state.episode), cfg.episodes)
            if bar is not None:
                bar.n = int(done.sum())
                bar.set_postfix({"return(last)": f"{_last_mean(state, done):.1f}"})
                bar.refresh()
            if (done >= cfg.episodes).all():
                break
            state = run_chunk(state, chunk_steps)
            _check_finite(cfg, state)
            if ENVS[cfg.task].build is not None:
                blob = {"digest": cfg.digest(), "state": jax.tree.map(np.asarray, state),
                        "seconds": before + time.perf_counter() - t0}
                atomic_write_bytes(ckpt_path, pickle.dumps(blob))

    returns, lengths = np.asarray(state.returns, np.float64), np.asarray(state.lengths)
    frame = episode_frame(returns, lengths)
    summary = summarize_rl(cfg, returns, lengths)
    summary["wall_seconds"] = before + time.perf_counter() - t0  # resumed runs: every process's share
    write_run_files(cfg, partial, frame, summary)
    plot_curves({cfg.rule: (np.arange(1, cfg.episodes + 1), returns)}, partial / "curve.png", xlabel="episode",
                ylabel="return", title=f"{cfg.task} · {cfg.rule} · critic {cfg.critic}",
                smooth=max(1, cfg.episodes // 50))
    publish_dir(cfg, partial, final)
    return RunResult(final, frame, summary, summary["wall_seconds"])


def _merge(state):
    """(devices, seeds/devices, …) leaves -> (seeds, …) host arrays."""
    return jax.tree.map(lambda x: np.asarray(x).reshape((-1,) + x.shape[2:]), state)


def _split(state, devices: int):
    return jax.tree.map(lambda x: np.asarray(x).reshape((devices, -1) + x.shape[1:]), state)


def _last_mean(state, done: np.ndarray) -> float:
    returns = np.asarray(state.returns)
    last = [returns[s, d - 1] for s, d in enumerate(done) if d > 0]
    return float(np.mean(last)) if last else float("nan")


def _check_finite(cfg: TrainConfig, state) -> None:
    bad = np.zeros(cfg.seeds, bool)
    for leaf in jax.tree.leaves((state.agent.actor, state.agent.critic, state.returns)):
        bad |= ~np.isfinite(np.asarray(leaf)).reshape(cfg.seeds, -1).all(1)
    if bad.any():
        raise NonFiniteError(f"non-finite values after {int(np.asarray(state.steps).max())} environment steps in "
                             f"seeds {np.flatnonzero(bad).tolist()}; lower --lr / --critic-lr or raise --adam-eps")


def _progress(enabled: bool, cfg: TrainConfig):
    return progress_bar(enabled, cfg.episodes * cfg.seeds, 0, cfg.run_name, "episode")
