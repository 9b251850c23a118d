"""BLUR meta-training by gradient as a run (``plastix run blur/gradient-toy``), with the curriculum of
spec blur.md §5.1: ``genomes`` genomes from different random inits train in parallel (one vmap
axis); stage s unrolls ``U = unroll + s·unroll_step`` inner steps for ``stage_steps`` meta-steps;
at the end of every stage each genome's learner is scored on the held-out tasks (accuracy after U
steps, ``val_draws`` fresh synapse draws per task) and the best genome — with its Adam state — is
copied to all (the spec's reading of "synchronising the genomes at each stage" [choice]).

Tasks are the 2-D toy tasks (fresh points) or image tasks ``DATASET[@SIDE][/CLASSES]`` (e.g.
``mnist5k@10/0-4``: the inner loop and the query draw training images, the held-out curves score the
test images; ``plastix run blur/gradient-mnist10``). All tasks of a run share one input size and class count.

Published ``out/<run_name>/``: ``config.json``, ``training.parquet`` (meta-step, U, meta-loss and
query accuracy: mean and best over genomes, per ``log_every`` window), ``stages.parquet`` (stage, U,
held-out accuracy of every genome), ``genome.npz`` (the final best genome), ``curve.parquet`` (held-out
task, inner step, test accuracy of BLUR and of SGD / SGD + momentum at their best of 8 rates, same
net), ``summary.json``, ``training.png``, ``curve.png``. Checkpoints after every window; resumes.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import pickle
import time
from pathlib import Path
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from plastix.blur.baselines import best_rates, sgd_curves
from plastix.blur.config import BlurMetaConfig, parse_transfer
from plastix.blur.genome import random_genome, save_genome
from plastix.blur.meta import MetaState, make_meta_step, meta_optimizer
from plastix.blur.network import BlurNet
from plastix.blur.run import accuracy_after_steps, image_task, learner_curve_jit
from plastix.blur.tasks import TOY_TASKS, mix_samplers
from plastix.validation import ConfigError
from plastix.rundir import (NonFiniteError, RunResult, atomic_write_bytes, chunk_guard, open_partial, progress_bar,
                            publish_dir)

N_TEST = 2000  # held-out points per task for the learner curves


class MetaTask(NamedTuple):
    """One meta-training or held-out task: its sampler, sizes and held-out test set."""

    sample: Callable  # (key, n) -> (x (n, n_in), y (n,))
    n_in: int
    n_out: int
    test: Callable  # key -> (x_test, y_test): fresh points (2-D tasks) or the test images (image tasks)


@functools.lru_cache(maxsize=32)
def meta_task(spec: str, data_dir: str = "") -> MetaTask:
    """A 2-D toy task by name, or an image task ``DATASET[@SIDE][/CLASSES]`` (training images drawn with
    replacement; the test split as its held-out set)."""
    if spec in TOY_TASKS:
        sample, n_out = TOY_TASKS[spec]
        return MetaTask(sample, 2, n_out, lambda key: sample(key, N_TEST))
    name, side, classes = parse_transfer(spec)
    sample, xt, yt, n_in, n_out = image_task(name, data_dir, side, classes)
    return MetaTask(sample, n_in, n_out, lambda key: (xt, yt))


def _tasks(cfg: BlurMetaConfig, field: str) -> list[MetaTask]:
    tasks = [meta_task(t, cfg.data_dir) for t in getattr(cfg, field)]
    sizes = {(t.n_in, t.n_out) for t in [*tasks, meta_task(cfg.tasks[0], cfg.data_dir)]}
    if len(sizes) != 1:
        raise ConfigError(field, f"every task needs the same input size and class count; got (inputs, classes) "
                                 f"{sorted(sizes)}")
    return tasks


def make_net(cfg: BlurMetaConfig) -> BlurNet:
    """The network of ``cfg`` (ConfigError when the tasks disagree on input size or class count)."""
    first = _tasks(cfg, "tasks")[0]
    _tasks(cfg, "val_tasks")  # the held-out tasks must fit the same network
    return cfg.make_net((first.n_in, *cfg.hidden, first.n_out))


@functools.lru_cache(maxsize=8)
def _window(cfg: BlurMetaConfig, unroll: int):
    """``(state, key) -> (state, metrics)``: ``log_every`` meta-steps of every genome, compiled once per U."""
    net = make_net(cfg)
    sample = mix_samplers([t.sample for t in _tasks(cfg, "tasks")])
    step, _ = make_meta_step(net, sample, unroll, cfg.batch, cfg.replicas, meta_optimizer(cfg.lr, cfg.clip))
    vstep = jax.vmap(step)

    def window(state, key):
        keys = jax.random.split(key, (cfg.log_every, cfg.genomes))
        return jax.lax.scan(vstep, state, keys)

    return jax.jit(window)


@functools.lru_cache(maxsize=8)
def _validation(cfg: BlurMetaConfig, unroll: int):
    """Held-out accuracy after ``unroll`` steps of every genome: (genomes,), mean over tasks and draws."""
    net = make_net(cfg)

    def one_task(g, task: MetaTask, key):
        xt, yt = task.test(jax.random.fold_in(key, 7))
        return accuracy_after_steps(net, g, task.sample, xt, yt, key, unroll, cfg.batch, cfg.val_draws)

    tasks = _tasks(cfg, "val_tasks")  # built outside the trace: their arrays are constants, not tracers

    def score(genomes, key):
        per = [jax.vmap(lambda g, t=t, i=i: one_task(g, t, jax.random.fold_in(key, i)))(genomes)
               for i, t in enumerate(tasks)]
        return jnp.mean(jnp.stack(per), 0)

    return jax.jit(score)


def _init_state(cfg: BlurMetaConfig, key) -> MetaState:
    opt = meta_optimizer(cfg.lr, cfg.clip)
    gs = [random_genome(jax.random.fold_in(key, i), cfg.k) for i in range(cfg.genomes)]
    genomes = jax.tree.map(lambda *a: jnp.stack(a), *gs)
    return MetaState(genomes, jax.vmap(opt.init)(genomes))


def _sync(state: MetaState, best: int) -> MetaState:
    return jax.tree.map(lambda a: jnp.broadcast_to(a[best], a.shape), state)


def run_blur_meta(cfg: BlurMetaConfig, out: str | Path = "runs", *, progress: bool = True, resume: bool = True,
                  stop_after: int | None = None) -> RunResult:
    """Meta-train ``cfg`` and publish ``out/<cfg.run_name>/`` (module docstring). ``stop_after`` ends
    after that many windows with the checkpoint written and nothing published (tests of resumption)."""
    cfg.validate()
    make_net(cfg)  # loads image tasks and checks their sizes before any compute
    t0 = time.perf_counter()
    key = jax.random.key(cfg.seed)
    k_init, k_run, k_val = (jax.random.fold_in(key, i) for i in (1, 2, 3))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    final, partial = out / cfg.run_name, out / f".{cfg.run_name}.partial"
    ckpt = open_partial(cfg, partial, resume)
    if ckpt is None:
        ckpt = {"digest": cfg.digest(), "step": 0, "state": jax.device_get(_init_state(cfg, k_init)), "logs": [],
                "stages": [], "seconds": 0.0}
    state = jax.tree.map(jnp.asarray, ckpt["state"])
    bar = progress_bar(progress, cfg.meta_steps, ckpt["step"], cfg.run_name, "step")
    t_mark, windows_here = time.perf_counter(), 0
    with chunk_guard(partial, bar):
        while ckpt["step"] < cfg.meta_steps:
            stage = ckpt["step"] // cfg.stage_steps
            unroll = cfg.unroll_at(stage)
            state, (loss, acc) = _window(dataclasses.replace(cfg, name=""), unroll)(
                state, jax.random.fold_in(k_run, ckpt["step"]))
            loss, acc = np.asarray(loss), np.asarray(acc)  # (log_every, genomes)
            if not np.isfinite(loss).all():
                what = f"non-finite meta-loss by meta-step {ckpt['step'] + cfg.log_every}"
                fix = f"lower --lr (now {cfg.lr})"
                if not cfg.saturation:
                    what += " (usually a lifetime's synapses overflowing)"
                    fix = f"turn on --saturation (spec D7) or {fix}"
                raise NonFiniteError(f"{what}: {fix}")
            ckpt["step"] += cfg.log_every
            g_loss, g_acc = loss.mean(0), acc.mean(0)
            ckpt["logs"].append({"step": ckpt["step"], "unroll": unroll, "loss": float(g_loss.mean()),
                                 "loss_best": float(g_loss.min()), "accuracy": float(g_acc.mean()),
                                 "accuracy_best": float(g_acc.max())})
            if ckpt["step"] % cfg.stage_steps == 0:  # stage end: score on held-out tasks, synchronise
                val = np.asarray(_validation(dataclasses.replace(cfg, name=""), unroll)(
                    state.genome, jax.random.fold_in(k_val, stage)))
                best = int(np.argmax(val))
                ckpt["stages"].append({"stage": stage, "unroll": unroll, "step": ckpt["step"], "best": best,
                                       **{f"val_genome{i}": float(v) for i, v in enumerate(val)}})
                state = _sync(state, best)
            ckpt["state"] = jax.device_get(state)
            ckpt["seconds"] += time.perf_counter() - t_mark
            t_mark = time.perf_counter()
            atomic_write_bytes(partial / "checkpoint.pkl", pickle.dumps(ckpt))
            windows_here += 1
            if bar is not None:
                bar.update(cfg.log_every)
                bar.set_postfix(U=unroll, loss=f"{g_loss.mean():.3f}", acc=f"{g_acc.mean():.3f}")
            if stop_after is not None and windows_here >= stop_after:
                return RunResult(partial, pd.DataFrame(), {"stopped_at": ckpt["step"]}, time.perf_counter() - t0)
    return _publish(cfg, state, ckpt, k_val, partial, final, time.perf_counter() - t0)


def _publish(cfg: BlurMetaConfig, state: MetaState, ckpt: dict, k_val, partial: Path, final: Path,
             seconds: float) -> RunResult:
    from plastix.plotting import plot_curves

    net = make_net(cfg)
    genome = jax.tree.map(lambda a: a[0], state.genome)  # all equal after the last synchronisation
    logs, stages = pd.DataFrame(ckpt["logs"]), pd.DataFrame(ckpt["stages"])
    rows, summary = [], {"run": cfg.run_name, "meta_steps": int(ckpt["step"]), "seconds": round(ckpt["seconds"], 1),
                         "final_accuracy": float(logs.accuracy.iloc[-1]), "final_loss": float(logs.loss.iloc[-1]),
                         "final_unroll": int(logs.unroll.iloc[-1])}
    val_cols = [c for c in stages if c.startswith("val_genome")]
    summary["stage_val_best"] = [float(v) for v in stages[val_cols].max(axis=1)]
    u = cfg.unroll_at(cfg.stages - 1)
    blur_at, sgd_at, mom_at = [], [], []
    for i, (name, task) in enumerate(zip(cfg.val_tasks, _tasks(cfg, "val_tasks"))):
        sample = task.sample
        k = jax.random.fold_in(k_val, 10**6 + i)
        xt, yt = task.test(jax.random.fold_in(k, 7))
        blur = np.asarray(learner_curve_jit(net, genome, sample, xt, yt, k, cfg.curve_steps, cfg.batch, cfg.val_draws))
        sgd = sgd_curves(jax.random.fold_in(k, 1), net.sizes, sample, xt, yt, cfg.curve_steps, cfg.batch)
        (lr0, c0), (lr9, c9) = best_rates(sgd)
        for t in range(cfg.curve_steps + 1):
            rows += [{"task": name, "step": t, "learner": "blur", "lr": np.nan, "test_accuracy": float(blur[t])},
                     {"task": name, "step": t, "learner": "sgd", "lr": lr0, "test_accuracy": float(c0[t])},
                     {"task": name, "step": t, "learner": "sgd_momentum", "lr": lr9, "test_accuracy": float(c9[t])}]
        n = min(u, cfg.curve_steps)
        blur_at.append(blur[n]), sgd_at.append(c0[n]), mom_at.append(c9[n])
    curve = pd.DataFrame(rows)
    summary[f"val_blur_at_{u}"] = float(np.mean(blur_at))
    summary[f"val_sgd_at_{u}"] = float(np.mean(sgd_at))
    summary[f"val_sgd_momentum_at_{u}"] = float(np.mean(mom_at))
    save_genome(jax.device_get(genome), partial / "genome.npz")
    (partial / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")
    logs.to_parquet(partial / "training.parquet", index=False)
    stages.to_parquet(partial / "stages.parquet", index=False)
    curve.to_parquet(partial / "curve.parquet", index=False)
    (partial / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    x = logs.step.to_numpy()
    plot_curves({"mean over genomes": (x, logs.accuracy.to_numpy()[None]),
                 "best genome": (x, logs.accuracy_best.to_numpy()[None])}, partial / "training.png",
                xlabel="meta-step", ylabel="query accuracy (meta-training tasks)",
                title=f"{cfg.run_name}: U = {', '.join(str(cfg.unroll_at(s)) for s in range(cfg.stages))}")
    mean = curve.groupby(["learner", "step"]).test_accuracy.mean()
    steps = np.arange(cfg.curve_steps + 1)
    plot_curves({lab: (steps, mean[key].to_numpy()[None]) for key, lab in
                 (("blur", "BLUR (final genome)"), ("sgd", "SGD, best lr per task"),
                  ("sgd_momentum", "SGD + momentum 0.9, best lr per task"))}, partial / "curve.png",
                xlabel="inner step", ylabel="test accuracy (mean over held-out tasks)",
                title=f"{cfg.run_name}: held-out tasks {', '.join(cfg.val_tasks)}")
    publish_dir(cfg, partial, final)
    return RunResult(final, logs, summary, seconds)
