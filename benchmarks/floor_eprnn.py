"""Floor of the full-scale maze generation: the DecPRNN-post step's products alone, and its plastic-state
traffic alone, timed side by side with the real evaluation on one core.

Per agent step of DecPRNN-post (n = 64 hidden units, q = 15 inputs, 5 outputs), accumulated form:

* multiply-adds: ``G_h h`` (n² = 4,096) and ``G_x x`` (nq = 960), the rank-one updates of ``G_h`` and
  ``G_x`` (4,096 + 960), the read-out (5n = 320), the modulator (2n = 128) and about 10n of vector
  terms: ≈ 11,200;
* plastic state read and written: ``G_h`` and ``G_x``, (n² + nq) × 4 B = 20.2 KB each way (the
  accumulator vectors are 0.5 KB).

Rows, P = 360 members × 12 random 15×15 mazes (ρ = 0.35), untrained genomes, blocks of 32 lifetimes
(as ``plastix.eprnn.lifetime.evaluate``), one core, one XLA thread, medians, compilation excluded:

* ``evaluation``: the generation's real evaluation (``evaluate`` + fitness);
* ``products only``: every lifetime runs the step's products and rank-one updates (no maze, no
  policy, no masking) for as many steps as the evaluation actually took;
* ``state traffic only``: every step reads and writes the plastic state (``G ← a·G + b``), no products.

The products-only row is the floor of this formulation: no reorganisation of the maze, the policy or
the masking can make a generation cheaper than it. On two cores the ideal is half of it; the
node-sharing factor measured by ``bench_population.py`` (1.32–1.39: each core slower when both
compute) gives the realistic two-core floor.

    python benchmarks/floor_eprnn.py [--repeats 3]
"""

from __future__ import annotations

import argparse

from _common import machine_line, median_time  # one core, one thread

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from plastix.eprnn.agent import flat_genome, make_agent, unflat_genome  # noqa: E402
from plastix.eprnn.config import MazeConfig  # noqa: E402
from plastix.eprnn.lifetime import evaluate  # noqa: E402
from plastix.eprnn.maze import sample_mazes  # noqa: E402
from plastix.eprnn.run import _scores, lifetime_of  # noqa: E402

N, Q, BLOCK = 64, 15, 32
MACS_PER_STEP = 2 * N * N + 2 * N * Q + 5 * N + 2 * N + 10 * N
BYTES_PER_STEP = (N * N + N * Q) * 4


def blocks(lane_fn, lanes: int, steps: int):
    """``lane_fn(xs) -> scalar`` over ``lanes`` lifetimes of ``steps`` steps, in blocks of 32 (a
    ``lax.map`` over blocks of a ``vmap``), as the evaluation runs them."""
    xs = jax.random.normal(jax.random.key(5), (steps, Q)) * 0.5
    n_blocks = -(-lanes // BLOCK)

    @jax.jit
    def run(seed):
        scale = 1.0 + 1e-3 * jnp.arange(n_blocks * BLOCK, dtype=jnp.float32).reshape(n_blocks, BLOCK) + seed
        return jnp.sum(jax.lax.map(lambda s: jax.vmap(lambda c: lane_fn(xs * c))(s), scale))

    return run


def products_lane(xs):
    r = jax.random.normal(jax.random.key(6), (8, N)) * 0.05
    ap, aq, bp, wo0, wm0, wm1, b, kap = r
    bq = r[1, :Q]

    def step(carry, x):
        g_h, g_x, h = carry
        h_new = jnp.tanh(g_h @ h + g_x @ x + b)
        m = jax.nn.sigmoid(jnp.stack([wm0 @ h_new, wm1 @ h_new]))
        o = jnp.sum(wo0 * h_new) + jnp.sum(kap[:4] * h_new[:4])  # the 5-output read-out's cost, roughly
        g_h = g_h + jnp.outer(0.2 * m[0] * ap * h_new, aq * h)
        g_x = g_x + jnp.outer(0.2 * m[1] * bp * h_new, bq * x)
        return (g_h, g_x, h_new), o

    init = (jnp.zeros((N, N)), jnp.zeros((N, Q)), jnp.zeros(N))
    (g_h, g_x, h), o = jax.lax.scan(step, init, xs)
    return jnp.sum(o) + jnp.sum(g_h[0]) + jnp.sum(g_x[0])


def traffic_lane(xs):
    def step(carry, x):
        g_h, g_x = carry
        return (g_h * 0.999 + x[0], g_x * 0.999 + x[1]), None

    (g_h, g_x), _ = jax.lax.scan(step, (jnp.zeros((N, N)), jnp.zeros((N, Q))), xs)
    return jnp.sum(g_h[0]) + jnp.sum(g_x[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    print(machine_line(args.repeats))
    cfg = MazeConfig(popsize=360, mazes=12, maze_size=15, crowd=0.35)
    agent, lt = make_agent(cfg.agent), lifetime_of(cfg)
    pop = jax.vmap(lambda k: flat_genome(agent.init_genome(k)))(jax.random.split(jax.random.key(0), cfg.popsize))
    mazes = sample_mazes(jax.random.key(7), cfg.mazes, cfg.maze_size, cfg.crowd)
    scores = jax.jit(_scores(cfg, agent, lt))
    stats = jax.jit(lambda p: evaluate(agent, lt, unflat_genome(agent, p), mazes, jax.random.key(1)))(pop)
    steps_taken = float(np.asarray(stats.steps).sum())
    lanes = cfg.popsize * cfg.mazes
    per_lane = int(round(steps_taken / lanes))
    jax.block_until_ready(scores(pop, mazes, jax.random.key(1), 0))
    t_eval = median_time(lambda: jax.block_until_ready(scores(pop, mazes, jax.random.key(1), 0)), args.repeats)
    rows = [("evaluation (real)", t_eval)]
    for label, fn in (("products only", products_lane), ("state traffic only", traffic_lane)):
        run = blocks(fn, lanes, per_lane)
        jax.block_until_ready(run(0.0))
        rows.append((label, median_time(lambda: jax.block_until_ready(run(0.0)), args.repeats)))
    print(f"{lanes} lifetimes, {steps_taken:,.0f} agent steps taken ({per_lane} per lifetime on average); "
          f"{MACS_PER_STEP:,} multiply-adds and {BYTES_PER_STEP / 1024:.1f} KB of plastic state per step")
    print("| row | s per generation, 1 core | agent steps/s | GMAC/s | plastic state GB/s each way |")
    print("|---|---|---|---|---|")
    for label, t in rows:
        rate = steps_taken / t
        print(f"| {label} | {t:.2f} | {rate:,.0f} | {rate * MACS_PER_STEP / 1e9:.1f} | "
              f"{rate * BYTES_PER_STEP / 1e9:.1f} |")
    floor = rows[1][1]
    print(f"two-core floor of this formulation: ideal {floor / 2:.2f} s; with the node-sharing factor 1.32–1.39: "
          f"{floor / 2 * 1.32:.2f}–{floor / 2 * 1.39:.2f} s (bar: ≤ 6 s)")


if __name__ == "__main__":
    main()
