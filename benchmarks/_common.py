"""Shared set-up of the benchmark scripts: one CPU core, one thread, medians of repeated runs."""

from __future__ import annotations

import os
import platform
import time

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
if hasattr(os, "sched_setaffinity") and os.environ.get("PLASTIX_BENCH_ALL_CORES") != "1":
    os.sched_setaffinity(0, {int(os.environ.get("PLASTIX_BENCH_CORE", sorted(os.sched_getaffinity(0))[0]))})  # one core

import jax  # noqa: E402
import numpy as np  # noqa: E402

from plastix import TrainConfig, make_train  # noqa: E402
from plastix.teams.train import seed_keys  # noqa: E402


def machine_line(repeats: int) -> str:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    used = "one core" if cores == 1 else f"{cores} cores, {jax.local_device_count()} XLA devices"
    return (f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"jax {jax.__version__}, numpy {np.__version__}, {used}, medians of {repeats}")


def median_time(fn, repeats: int) -> float:
    """Median wall time of ``fn()`` over ``repeats`` calls (``fn`` blocks until done)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def throughput_fn(cfg: TrainConfig):
    """A function timing one run of ``cfg.steps`` updates (compiled here, once) and returning samples/s."""
    trainer = make_train(cfg)
    state = jax.jit(jax.vmap(trainer.init))(seed_keys(cfg))
    run = jax.jit(jax.vmap(trainer.run, in_axes=(0, None)), static_argnums=1)
    n_logs = cfg.steps // cfg.log_interval
    jax.block_until_ready(run(state, n_logs))  # compile

    def once() -> float:
        t0 = time.perf_counter()
        jax.block_until_ready(run(state, n_logs))
        return cfg.steps * cfg.batch * cfg.seeds / (time.perf_counter() - t0)

    return once


def train_throughput(cfg: TrainConfig, repeats: int) -> float:
    """Samples/s (updates × batch × seeds per second) of ``cfg.steps`` updates, compilation excluded."""
    once = throughput_fn(cfg)
    return float(np.median([once() for _ in range(repeats)]))


def numpy_adam_ascent(params, grads, m, v, lrs, t: int, eps: float) -> None:
    """The reference codes' hand-written Adam (ascent, in place), for the NumPy comparison loops."""
    for i, (p, g) in enumerate(zip(params, grads)):
        m[i] = 0.9 * m[i] + 0.1 * g
        v[i] = 0.999 * v[i] + 0.001 * g * g
        p += lrs[i] * (m[i] / (1 - 0.9**t)) / (np.sqrt(v[i] / (1 - 0.999**t)) + eps)


def loop_rate(step, steps: int, batch: int, repeats: int) -> float:
    """Samples/s of ``step(t)`` for ``t = 1..steps`` (a NumPy loop)."""
    def loop():
        for t in range(1, steps + 1):
            step(t)

    return steps * batch / median_time(loop, repeats)
