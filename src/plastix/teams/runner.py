"""The runner: the only impure layer. Compiles a run once, executes it in chunks, writes results.

A run is one config × ``cfg.seeds`` seeds, executed as one vmapped computation. The runner

* jit-compiles ``vmap(trainer.run)`` for a fixed chunk length (one compilation per run);
* runs it chunk after chunk with a progress bar, checking for non-finite values;
* checkpoints state and metrics after each chunk (atomic write) in ``OUT/.NAME.partial/``, and
  resumes from there when the same config (same digest) is run again after a crash;
* publishes the run directory ``OUT/NAME/`` only when complete (written aside, then renamed):
  ``config.json``, ``metrics.parquet`` (long format: seed, step, samples, metrics…),
  ``summary.json`` (per-seed final values, steps to thresholds), ``curve.png`` and, when the
  alignment diagnostic is on, ``alignment.png``.

Same config and seed ⇒ identical metrics, however the run was chunked or resumed.
"""

from __future__ import annotations

import json
import pickle
import time
from pathlib import Path
from typing import Any

import jax
import numpy as np
import pandas as pd

from plastix.analysis import final_value, first_crossing
from plastix.rundir import NonFiniteError as NonFiniteError
from plastix.rundir import RunResult as RunResult
from plastix.rundir import atomic_write_bytes as atomic_write_bytes
from plastix.rundir import atomic_write_npz as atomic_write_npz
from plastix.rundir import chunk_guard as chunk_guard
from plastix.rundir import earlier_seconds as earlier_seconds
from plastix.rundir import open_partial as open_partial
from plastix.rundir import progress_bar as progress_bar
from plastix.rundir import publish_dir as publish_dir
from plastix.rundir import read_npz as read_npz
from plastix.rundir import write_run_files as write_run_files
from plastix.teams.config import TrainConfig
from plastix.plotting import plot_curves
from plastix.runtime import check_memory
from plastix.teams.train import make_train, seed_keys

THRESHOLDS = (0.9, 0.95)  # accuracy thresholds reported as steps-to-threshold


def _chunk_logs(n_logs: int, target: int) -> int:
    """Largest divisor of ``n_logs`` not above ``target`` (one compiled chunk length)."""
    target = max(1, min(target, n_logs))
    return next(d for d in range(target, 0, -1) if n_logs % d == 0)


def metrics_frame(cfg: TrainConfig, metrics: dict[str, np.ndarray]) -> pd.DataFrame:
    """Long table of per-interval metrics; ``metrics[name]`` is (seeds, n_logs)."""
    seeds, n = next(iter(metrics.values())).shape
    step = (np.arange(1, n + 1) * cfg.log_interval).astype(np.int64)
    frame = {
        "seed": np.repeat(np.arange(seeds), n),
        "step": np.tile(step, seeds),
        "samples": np.tile(step * cfg.batch, seeds),
    }
    frame.update({k: np.asarray(v, np.float64).reshape(-1) for k, v in metrics.items()})
    return pd.DataFrame(frame)


def summarize(cfg: TrainConfig, metrics: dict[str, np.ndarray]) -> dict[str, Any]:
    """Per-seed final values (mean of the last 5 % of the run) and steps to accuracy thresholds."""
    n = next(iter(metrics.values())).shape[1]
    step = np.arange(1, n + 1) * cfg.log_interval
    out: dict[str, Any] = {"config_digest": cfg.digest(), "steps": cfg.steps, "samples": cfg.steps * cfg.batch}
    for k, v in metrics.items():
        fin = final_value(np.asarray(v))
        out[f"final_{k}"] = fin.tolist()
        out[f"final_{k}_mean"] = float(fin.mean())
        out[f"mean_{k}_over_run"] = np.asarray(v).mean(1).tolist()  # the papers' area-under-curve metric
    if "accuracy" in metrics:
        window = max(1, n // 50)  # smoothing: 2 % of the run
        for thr in THRESHOLDS:
            hit = first_crossing(step, np.asarray(metrics["accuracy"]), thr, window)
            out[f"steps_to_{int(thr * 100)}"] = [None if np.isnan(h) else int(h) for h in hit]
    return out


def run(
    cfg: TrainConfig,
    out: str | Path = "runs",
    *,
    progress: bool = True,
    resume: bool = True,
    chunks: int = 20,
) -> RunResult:
    """Train ``cfg`` for all its seeds and publish ``out/<cfg.run_name>/``.

    Args:
        cfg: the configuration (validated here; ``ConfigError`` if it cannot run).
        out: parent directory of run directories.
        progress: show a progress bar (tqdm) on stderr.
        resume: continue from the checkpoint of an interrupted run of the same config.
        chunks: about how many chunks (progress updates, checkpoints) per run.

    Raises:
        NonFiniteError: if training produced NaN/inf (nothing is published).
    """
    t0 = time.perf_counter()
    cfg.validate()
    check_memory(cfg.memory_estimate(), "hidden", f"--hidden {' '.join(map(str, cfg.hidden))} with "
                 f"{cfg.seeds} seed(s) and batch {cfg.batch}")
    if cfg.is_rl:  # actor–critic on an environment: episodes, not updates
        from plastix.rl.runner import run_rl

        return run_rl(cfg, out, progress=progress, resume=resume)
    trainer = make_train(cfg)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    final = out / cfg.run_name
    partial = out / f".{cfg.run_name}.partial"
    ckpt_path = partial / "checkpoint.pkl"

    ckpt = open_partial(cfg, partial, resume)
    if ckpt is not None:
        state, done, parts = ckpt["state"], ckpt["done"], ckpt["parts"]
    else:
        state, done, parts = jax.jit(jax.vmap(trainer.init))(seed_keys(cfg)), 0, []
    before = earlier_seconds(ckpt)

    per_chunk = _chunk_logs(cfg.n_logs, max(1, cfg.n_logs // chunks))
    run_chunk = jax.jit(jax.vmap(trainer.run, in_axes=(0, None)), static_argnums=1)
    bar = _progress(progress, cfg, done)
    with chunk_guard(partial, bar):
        while done < cfg.n_logs:
            state, m = run_chunk(state, per_chunk)
            m = {k: np.asarray(v) for k, v in m.items()}  # (seeds, per_chunk)
            _check_finite(cfg, state, m, done)
            parts.append(m)
            done += per_chunk
            blob = {"digest": cfg.digest(), "done": done, "parts": parts,
                    "state": jax.tree.map(np.asarray, state), "seconds": before + time.perf_counter() - t0}
            atomic_write_bytes(ckpt_path, pickle.dumps(blob))
            if bar is not None:
                bar.update(per_chunk * cfg.log_interval)
                last = {k: float(v[:, -1].mean()) for k, v in m.items()}
                bar.set_postfix({k: f"{v:.3f}" for k, v in last.items()})

    metrics = {k: np.concatenate([p[k] for p in parts], axis=1) for k in parts[0]}
    frame = metrics_frame(cfg, metrics)
    summary = summarize(cfg, metrics)
    summary["wall_seconds"] = before + time.perf_counter() - t0  # every process's share, resumed runs included
    _publish(cfg, partial, final, frame, summary, metrics)
    return RunResult(final, frame, summary, summary["wall_seconds"])


def _check_finite(cfg: TrainConfig, state, m: dict[str, np.ndarray], done: int) -> None:
    bad = np.zeros(cfg.seeds, bool)
    for leaf in jax.tree.leaves(state.params):
        bad |= ~np.isfinite(np.asarray(leaf)).reshape(cfg.seeds, -1).all(1)
    for v in m.values():
        bad |= ~np.isfinite(v).all(1)
    if bad.any():
        step = (done + 1) * cfg.log_interval
        raise NonFiniteError(
            f"non-finite values by step {step} in seeds {np.flatnonzero(bad).tolist()}; "
            f"lower --lr (now {list(cfg.lr)}) or raise --adam-eps"
        )


def _publish(cfg, partial: Path, final: Path, frame: pd.DataFrame, summary: dict, metrics) -> None:
    write_run_files(cfg, partial, frame, summary)
    key = "accuracy" if "accuracy" in metrics else "reward"
    x = np.arange(1, metrics[key].shape[1] + 1) * cfg.log_interval * cfg.batch
    plot_curves({cfg.rule: (x, metrics[key])}, partial / "curve.png", ylabel=key,
                title=f"{cfg.task_name} · {cfg.rule} · batch {cfg.batch}", smooth=max(1, cfg.n_logs // 50))
    for name in [k for k in metrics if k.startswith("align_")]:
        plot_curves({cfg.rule: (x, metrics[name])}, partial / "alignment.png", ylabel=f"cosine ({name[6:]})",
                    title=f"alignment with the {'exact gradient' if name == 'align_exact' else 'STE update'}",
                    smooth=max(1, cfg.n_logs // 50))
    publish_dir(cfg, partial, final)


def _progress(enabled: bool, cfg: TrainConfig, done: int):
    return progress_bar(enabled, cfg.steps, done * cfg.log_interval, cfg.run_name, "step")


def load_run(path: str | Path) -> tuple[TrainConfig, pd.DataFrame, dict]:
    """Read a published run directory back: (config, metrics table, summary)."""
    path = Path(path)
    cfg = TrainConfig.from_dict(json.loads((path / "config.json").read_text()))
    return cfg, pd.read_parquet(path / "metrics.parquet"), json.loads((path / "summary.json").read_text())
