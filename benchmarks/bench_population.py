"""Seconds per full-scale maze generation with the population on Ray actors, and a scaling model
(``--family blur``: the same for a generation of ``blur/cmaes-mnist14``, P = 80 genomes).

The generation is the maze paper's: P = 360 members × 12 random 15×15 mazes (ρ = 0.35),
DecPRNN-post, the paper's sep-CMA-ES; untrained genomes, so most episodes run all 200 steps.
Three ways, in the same run, compilation excluded (a warm-up generation first), medians:

* ``in-process``: the whole population in this process on one core (one XLA thread);
* ``ray, N workers``: ``plastix.platform.population`` with N single-threaded actors on a local Ray
  cluster (``ray.init(num_cpus=N)``), the driver asking and telling.

From these: ``t_eval`` (in-process), the Ray overhead per generation ``o``, measured directly as
the driver's wall time of a generation minus the slowest actor's own computing time (the actors
time themselves): serialisation of the population and the mazes, scheduling, the gather, and the
driver's ask; and the model ``t(N) = t_eval / N + o``, checked against the measured ``N = 2``. On this 2-core machine two
actors share one node, and each core computes slower when both do: the factor ``s`` measured at
``N = 2`` enters the prediction for a cluster of such nodes kept fully busy,
``t(N) = s · t_eval / N + o``, for 16, 64 and 360 workers and the paper-scale runs (15,000
generations per stage; the released genotype had 49,000).

    python benchmarks/bench_population.py [--family eprnn|blur] [--repeats 3] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("PLASTIX_BENCH_ALL_CORES", "1")  # the actors need the second core

from _common import machine_line  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from plastix.eprnn.agent import flat_genome  # noqa: E402
from plastix.eprnn.config import MazeConfig  # noqa: E402
from plastix.eprnn.maze import Maze, sample_mazes  # noqa: E402
from plastix.eprnn.run import _compiled, _program_key, _ray_generation  # noqa: E402

GENERATIONS = 49_000  # the paper-scale run's length used for the wall-time prediction


def maze_program():
    """(in-process generation, Ray generation(pool), actor factory and its argument, state, payload,
    run lengths for the predictions, population size)."""
    cfg = MazeConfig(popsize=360, mazes=12, maze_size=15, crowd=0.35)
    agent, lt, es, generation, tell, test = _compiled(_program_key(cfg))
    state = es.init(None, flat_genome(agent.init_genome(jax.random.key(0))))
    mazes = Maze(*(jnp.asarray(a) for a in sample_mazes(jax.random.key(7), cfg.mazes, cfg.maze_size, cfg.crowd)))
    return (generation, lambda pool: _ray_generation(es, pool), "plastix.eprnn.run:shard_scorer",
            _program_key(cfg), state, mazes, (15_000, GENERATIONS), cfg.popsize)


def blur_program():
    """The same for one generation (ask, score, tell) of blur/cmaes-mnist14."""
    import dataclasses

    from plastix.blur import run as blur_run
    from plastix.experiments import EXPERIMENTS

    cfg = dataclasses.replace(EXPERIMENTS["blur/cmaes-mnist14"].config, name="")
    cma, template, generations, _ = blur_run._program(cfg)
    state = cma.init(jax.random.key(0), template)

    def ray_generation(pool):
        many = blur_run._ray_generations(cma, pool)
        return lambda st, key, _: many(st, key, 1)

    return (lambda st, key, _: generations(st, key, 1), ray_generation, "plastix.blur.run:shard_scorer",
            blur_run._program_key(cfg), state, None, (400,), cfg.population)


def seconds_per_generation(generation, state, mazes, repeats: int, pool=None) -> tuple[float, float, float]:
    """(median seconds per generation, first call's seconds, median overhead) — the first call compiles;
    the overhead (with a pool) is the wall time minus the slowest shard's computing time."""
    t0 = time.perf_counter()
    jax.block_until_ready(generation(state, jax.random.key(1), mazes))
    first = time.perf_counter() - t0
    times, overheads = [], []
    for r in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(generation(state, jax.random.key(2 + r), mazes))
        times.append(time.perf_counter() - t0)
        if pool is not None:
            overheads.append(times[-1] - max(pool.compute_seconds))
    return float(np.median(times)), first, float(np.median(overheads)) if overheads else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--family", choices=("eprnn", "blur"), default="eprnn")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()
    import ray

    from plastix.platform.population import RayPopulation

    print(machine_line(args.repeats))
    generation, ray_generation, factory, factory_arg, state, mazes, lengths, popsize = (
        maze_program() if args.family == "eprnn" else blur_program())
    t_eval, first, _ = seconds_per_generation(generation, state, mazes, args.repeats)
    rows = [("in-process, 1 core", t_eval, first - t_eval)]
    print(f"in-process: {t_eval:.2f} s per generation (compile {first - t_eval:.1f} s)", flush=True)
    measured, overheads = {}, {}
    for n in args.workers:
        ray.init(num_cpus=n, include_dashboard=False, log_to_driver=False)
        try:
            pool = RayPopulation("auto", n, factory, factory_arg)
            t, first, overheads[n] = seconds_per_generation(ray_generation(pool), state, mazes, args.repeats, pool)
            pool.close()
        finally:
            ray.shutdown()
        measured[n] = t
        rows.append((f"ray, {n} worker{'s' * (n > 1)} (slowest shard computing {t - overheads[n]:.2f} s)", t,
                     first - t))
        print(f"ray, {n} workers: {t:.2f} s per generation (first generation {first:.1f} s), overhead "
              f"{overheads[n]:.2f} s", flush=True)
    overhead = float(np.median(list(overheads.values())))
    print("\n| way | s per generation | first generation's extra s (compile) |")
    print("|---|---|---|")
    for label, t, extra in rows:
        print(f"| {label} | {t:.2f} | {extra:.1f} |")
    print(f"\nRay overhead per generation (wall − slowest shard's compute), median over the worker counts: "
          f"o = {overhead:.2f} s ({', '.join(f'{n} workers {o:.2f} s' for n, o in overheads.items())})")
    n_max = max(measured)
    share = (measured[n_max] - overhead) / (t_eval / n_max)  # per-core slowdown with every core of the node busy
    print(f"node-sharing factor s = (t_ray({n_max}) − o) / (t_eval/{n_max}) = {share:.2f} "
          "(each core slower when all cores compute: shared caches, memory bandwidth, clocks)")
    print("| N workers | t_eval/N + o | s·t_eval/N + o (nodes fully busy) | measured | "
          + " | ".join(f"{g:,} generations" for g in lengths) + " |")
    print("|---|---|---|---|" + "---|" * len(lengths))
    for n in sorted({*args.workers, 16, 64, popsize}):  # at most one worker per member
        naive, busy = t_eval / n + overhead, share * t_eval / n + overhead
        got = f"{measured[n]:.2f} s" if n in measured else "–"
        print(f"| {n} | {naive:.2f} s | {busy:.2f} s | {got} | "
              + " | ".join(f"{busy * g / 3600:.2f} h" for g in lengths) + " |")

if __name__ == "__main__":
    main()
