"""Remembering runs: the impure layer (files, checkpoints, progress, evaluation).

``run_remember(cfg, out)`` meta-trains ``cfg.model`` for ``cfg.steps`` meta-steps and publishes
``out/<run_name>/``:

* ``training.parquet`` — per chunk of ``log_every`` meta-steps: mean loss, bit accuracy, exact-match
  rate and gradient norm on the training distribution;
* ``recall.parquet`` — recall of fresh streams versus the delay Δ (N = ``eval_fixed_n``) and versus the
  number of snippets N (Δ = ``eval_fixed_delay``), ``eval_episodes`` episodes per point with standard
  errors, for the model and for the non-learned outer-product memory on the same episodes' settings;
* ``params.pkl`` (the meta-parameters), ``config.json``, ``summary.json``, ``training.png``, ``recall.png``.

A checkpoint after every chunk holds the training state and logs; a killed run resumed with the
same command continues exactly as the uninterrupted run (test). Chunk ``i`` draws its randomness
from ``fold_in(train key, step)``, so the numbers do not depend on where a run was interrupted.
"""

from __future__ import annotations

import functools
import json
import pickle
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from plastix.remember.baselines import outer_product_recall
from plastix.remember.config import RememberConfig
from plastix.remember.task import TaskConfig, sample_batch
from plastix.remember.train import evaluate, n_params, recall_summary, trainer_for
from plastix.runtime import check_memory
from plastix.rundir import NonFiniteError, RunResult, atomic_write_bytes, chunk_guard, open_partial, publish_dir

__all__ = ["run_remember", "recall_table", "outer_product_table", "plot_recall"]


def _grid(cfg: RememberConfig) -> list[tuple[str, int, int]]:
    pts = [("delay", cfg.eval_fixed_n, d) for d in cfg.eval_delays]
    return pts + [("n", n, cfg.eval_fixed_delay) for n in cfg.eval_n]


def recall_table(cfg: RememberConfig, model, params, key: jax.Array) -> pd.DataFrame:
    """The model's recall on the evaluation grid (fresh streams; Δ beyond the training window included)."""
    rows = [{"sweep": sweep, **evaluate(model, params, cfg.task, jax.random.fold_in(key, i), n, d, cfg.eval_episodes)}
            for i, (sweep, n, d) in enumerate(_grid(cfg))]
    return pd.DataFrame(rows).assign(model=cfg.model)


@functools.partial(jax.jit, static_argnums=1)
def _outer_product_batch(ep, task: TaskConfig):
    return jax.vmap(lambda e: outer_product_recall(e, task))(ep)


def outer_product_table(cfg: RememberConfig, key: jax.Array) -> pd.DataFrame:
    """The non-learned outer-product memory (λ = 1) on the same grid: a capacity yardstick (key → value
    episodes only; empty for the sequence variant)."""
    rows = []
    if cfg.snippet > 1:
        return pd.DataFrame(rows)
    for i, (sweep, n, d) in enumerate(_grid(cfg)):
        t = cfg.task.fixed(n, d)
        ep = sample_batch(jax.random.fold_in(key, i), t, cfg.eval_episodes)
        pred = _outer_product_batch(ep, t)
        correct = np.asarray(pred == ep.target)
        read = np.asarray(ep.read)
        bits = (correct.mean(-1) * read).sum(1) / read.sum(1)
        exact = (correct.all(-1) * read).sum(1) / read.sum(1)
        rows.append({"sweep": sweep, **recall_summary(n, d, bits, exact)})
    return pd.DataFrame(rows).assign(model="outer-product")


def plot_recall(table: pd.DataFrame, path: Path, title: str = "", train_range: tuple[int, int] | None = None) -> Path:
    """Bit accuracy ± 2 s.e. against Δ and against N, one line per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, sweep, x in ((axes[0], "delay", "delay"), (axes[1], "n", "n")):
        for model, t in table[table.sweep == sweep].groupby("model", sort=False):
            ax.errorbar(t[x], t.bit_accuracy, yerr=2 * t.bit_accuracy_se, marker="o", ms=3, capsize=2, label=model)
        ax.axhline(0.5, color="grey", lw=0.8, ls=":")
        ax.set_xlabel("delay Δ (frames)" if x == "delay" else "snippets N")
        ax.set_ylabel("recall bit accuracy")
        ax.set_xscale("symlog", linthresh=4 if x == "delay" else 1)
        if train_range is not None:
            ax.axvspan(0, train_range[0 if x == "n" else 1], color="0.9", zorder=0)
    n0, d0 = table[table.sweep == "delay"].n.iloc[0], table[table.sweep == "n"].delay.iloc[0]
    axes[0].set_title(f"N = {n0}")
    axes[1].set_title(f"Δ = {d0}")
    axes[1].legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run_remember(cfg: RememberConfig, out: str | Path = "runs", *, progress: bool = True, resume: bool = True,
                 stop_after: int | None = None, reuse: bool = False) -> RunResult:
    """Meta-train ``cfg`` and publish ``out/<cfg.run_name>/`` (see the module docstring).

    ``stop_after`` ends the process's work after that many chunks with the checkpoint written and
    nothing published (used to test resumption). ``reuse`` returns an already published run of the
    same config instead of training again (suites use it to skip finished members).
    """
    cfg.validate()
    check_memory(cfg.memory_estimate(), "delay_max", f"an episode of {cfg.task.length} frames × {cfg.batch} streams")
    t0 = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    final, partial = out / cfg.run_name, out / f".{cfg.run_name}.partial"
    if reuse and (final / "summary.json").exists():
        done = RememberConfig.from_dict(json.loads((final / "config.json").read_text()))
        if done.digest() == cfg.digest():
            return RunResult(final, pd.read_parquet(final / "recall.parquet"),
                             json.loads((final / "summary.json").read_text()), 0.0)
    trainer = trainer_for(cfg)
    k_init, k_train, k_eval = jax.random.split(jax.random.key(cfg.seed), 3)
    ckpt = open_partial(cfg, partial, resume)
    if ckpt is None:
        ckpt = {"digest": cfg.digest(), "ts": jax.device_get(trainer.init(k_init)), "logs": [], "seconds": 0.0}
    ts = jax.tree.map(jnp.asarray, ckpt["ts"])
    chunks = -(-cfg.steps // cfg.log_every)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=chunks * cfg.log_every, initial=len(ckpt["logs"]) * cfg.log_every, desc=cfg.run_name,
                   unit="meta-step", leave=False, dynamic_ncols=True)
    done_here = 0
    with chunk_guard(partial, bar):  # a non-finite run leaves nothing behind; the bar always closes
        while len(ckpt["logs"]) < chunks:
            t_mark = time.perf_counter()
            ts, logs = trainer.chunk(ts, k_train)
            logs = {k: np.asarray(v) for k, v in logs.items()}
            if not all(np.isfinite(v).all() for v in logs.values()):
                raise NonFiniteError(f"non-finite loss or gradient by meta-step {int(ts.step)}; lower --lr "
                                     f"(now {cfg.lr}) or --clip (now {cfg.clip})")
            ckpt["logs"].append({"step": int(ts.step), **{k: float(v.mean()) for k, v in logs.items()}})
            ckpt["ts"] = jax.device_get(ts)
            ckpt["seconds"] += time.perf_counter() - t_mark
            atomic_write_bytes(partial / "checkpoint.pkl", pickle.dumps(ckpt))
            done_here += 1
            if bar is not None:
                bar.update(cfg.log_every)
                bar.set_postfix(bits=f"{ckpt['logs'][-1]['bit_accuracy']:.3f}")
            if stop_after is not None and done_here >= stop_after:
                return RunResult(partial, pd.DataFrame(), {"stopped_at": int(ts.step)}, time.perf_counter() - t0)
    train_seconds = ckpt["seconds"]
    t_eval = time.perf_counter()
    tables = [recall_table(cfg, trainer.model, ts.params, k_eval), outer_product_table(cfg, k_eval)]
    recall = pd.concat([t for t in tables if len(t)], ignore_index=True)
    return _publish(cfg, trainer, ts, ckpt, recall, partial, final, train_seconds, time.perf_counter() - t_eval,
                    time.perf_counter() - t0)


def _publish(cfg, trainer, ts, ckpt, recall, partial: Path, final: Path, train_seconds, eval_seconds,
             seconds) -> RunResult:
    from plastix.plotting import plot_curves

    logs = pd.DataFrame(ckpt["logs"])
    mine = recall[recall.model == cfg.model]
    summary = {"run": cfg.run_name, "model": cfg.model, "meta_steps": int(ts.step),
               "trained_parameters": n_params(ts.params),
               "dynamic_state": int(trainer.model.state_size()),
               "train_seconds": round(train_seconds, 1), "eval_seconds": round(eval_seconds, 1),
               "seconds_per_meta_step": round(train_seconds / max(int(ts.step), 1), 4),
               "final_train_bit_accuracy": round(float(logs.bit_accuracy.iloc[-1]), 4),
               "recall_vs_delay": {int(r.delay): round(r.bit_accuracy, 4) for r in mine[mine.sweep == "delay"].itertuples()},
               "recall_vs_n": {int(r.n): round(r.bit_accuracy, 4) for r in mine[mine.sweep == "n"].itertuples()}}
    (partial / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")
    (partial / "params.pkl").write_bytes(pickle.dumps(jax.device_get(ts.params)))
    logs.to_parquet(partial / "training.parquet", index=False)
    recall.to_parquet(partial / "recall.parquet", index=False)
    (partial / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    x = logs.step.to_numpy()
    plot_curves({cfg.model: (x, logs.bit_accuracy.to_numpy()[None])}, partial / "training.png", xlabel="meta-step",
                ylabel="training bit accuracy", title=f"{cfg.model}: N ≤ {cfg.n_max}, Δ ≤ {cfg.delay_max}")
    plot_recall(recall, partial / "recall.png", title=cfg.run_name, train_range=(cfg.n_max, cfg.delay_max))
    publish_dir(cfg, partial, final)
    return RunResult(final, recall, summary, seconds)
