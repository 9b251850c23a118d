"""Lower bounds on this machine for the speed bars that plastix does not meet.

Each subcommand times the part of a step that no implementation of the algorithm can skip, then
compares it with the issue's bar. Everything else in the step is left out. If that part alone is
slower than the bar allows, or leaves almost no room, the bar cannot be met here.

* ``copi`` (both cores): the MNIST COPI-BP batch (784-500×6-10, batch 50) cut down to the fast
  form's matrix products (spec copi.md §5, §14). Per layer these are ``x = y Rᵀ`` and ``a = x Wᵀ``
  forward, ``(δ W) R`` backward, ``zᵀ x``, and ``Xᵀ (X R)``. They keep the real shapes and
  dependencies; the updates are bare ``W + c·ΔW``. plastix's full step is timed in the same rounds.
  The issue's bar is 7.2 ms per batch (3× the reference's 21.6 ms).
* ``map-prop`` (one core): one MAP-propagation update of the reference ``mp`` network (37-64-32-2,
  batch 128, 20 minimisation steps), cut down to its matrix products. Per step that is the two
  forward products and the two products sending errors down, with the three elementwise updates
  that chain them. This is compared with the same-run NumPy loop of ``bench_map_prop.py``: the bar
  is 10× that loop.
* ``rl`` (one core): for 10 vmapped seeds of ``weight-max/cartpole`` (actor 4-64-32-2, critic
  4-64-32-1), only the optax Adam steps of actor and critic and the critic's eligibility trace. The
  reference code also takes both Adam steps every environment step (spec team_rules.md §4). This
  is compared with the same-run NumPy WM CartPole loop of ``bench_rl.py``: the bar is 100× that
  loop.

    python benchmarks/floors.py copi [--rounds 5]
    python benchmarks/floors.py map-prop
    python benchmarks/floors.py rl
"""

from __future__ import annotations

import argparse
import os
import sys

if len(sys.argv) > 1 and sys.argv[1] == "copi":
    os.environ.setdefault("PLASTIX_BENCH_ALL_CORES", "1")  # the COPI reference used 2 threads: so do we,
    os.environ.setdefault("XLA_FLAGS", "")  # with XLA's default threading (as bench_copi.py)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import optax  # noqa: E402
from _common import median_time  # noqa: E402  (one core, one XLA thread unless PLASTIX_BENCH_ALL_CORES=1)

COPI_SIZES = (784, 500, 500, 500, 500, 500, 500, 10)
COPI_N, COPI_BATCHES, COPI_BAR_MS = 50, 40, 7.2


def copi_products_epoch():
    """A jitted epoch of ``COPI_BATCHES`` steps doing only the COPI-BP step's matrix products."""

    def step(carry, y):
        Ws, Rs = carry
        xs, as_ = [], []
        for W, R in zip(Ws, Rs):
            x = y @ R.T
            a = x @ W.T
            xs.append(x)
            as_.append(a)
            y = a
        d, ds = as_[-1], [as_[-1]]
        for l in range(len(Ws) - 2, -1, -1):
            d = (d @ Ws[l + 1]) @ Rs[l + 1]
            ds.insert(0, d)
        Ws = tuple(W + 1e-9 * ((a + d).T @ x) for W, x, a, d in zip(Ws, xs, as_, ds))
        Rs = tuple(R - 1e-9 * (x.T @ (x @ R)) for R, x in zip(Rs, xs))
        return (Ws, Rs), None

    k = jax.random.key(0)
    Ws = tuple(jax.random.normal(k, (o, i)) * 0.01 for i, o in zip(COPI_SIZES[:-1], COPI_SIZES[1:]))
    Rs = tuple(jnp.eye(i) for i in COPI_SIZES[:-1])
    ys = jax.random.uniform(k, (COPI_BATCHES, COPI_N, COPI_SIZES[0]))
    run = jax.jit(lambda c: jax.lax.scan(step, c, ys)[0])
    return lambda: run((Ws, Rs))


def floor_copi(rounds: int, repeats: int) -> None:
    import bench_copi

    flop = bench_copi.flops_per_batch(COPI_SIZES[0], COPI_SIZES[1:-1], "copi-bp", COPI_N)
    print(f"COPI-BP MNIST: {flop / 1e9:.2f} GFLOP per batch; the bar's {COPI_BAR_MS} ms needs "
          f"{flop / COPI_BAR_MS / 1e6:.0f} GFLOP/s")
    epoch = bench_copi.plastix_epoch("mnist", "copi-bp", COPI_BATCHES)
    products, key = copi_products_epoch(), jax.random.key(0)

    def full():
        return epoch(key)

    jax.block_until_ready(products())
    jax.block_until_ready(full())
    print("| round | products only, ms/batch | plastix COPI-BP, ms/batch |")
    print("|---|---|---|")
    for r in range(rounds):
        p = 1e3 * median_time(lambda: jax.block_until_ready(products()), repeats) / COPI_BATCHES
        f = 1e3 * median_time(lambda: jax.block_until_ready(full()), repeats) / COPI_BATCHES
        print(f"| {r + 1} | {p:.2f} | {f:.2f} |", flush=True)


def floor_map_prop(rounds: int, repeats: int) -> None:
    import bench_map_prop

    batch, updates = 128, 200
    k = jax.random.key(0)
    Ws = (jax.random.normal(k, (37, 64)) * 0.1, jax.random.normal(k, (64, 32)) * 0.1,
          jax.random.normal(k, (32, 2)) * 0.1)

    def update(carry, x):
        W1, W2, W3 = carry
        h1 = x @ W1
        h2 = h1 @ W2

        def minimisation_step(c, _):
            h1, h2 = c
            e2, u3 = h2 - h1 @ W2, h2 @ W3
            return (h1 + 0.01 * (e2 @ W2.T), h2 - 0.01 * (u3 @ W3.T) - 0.01 * e2), None

        (h1, h2), _ = jax.lax.scan(minimisation_step, (h1, h2), None, length=20)
        return (W1 + 1e-6 * x.T @ h1, W2 + 1e-6 * h1.T @ h2, W3 + 1e-6 * h2.T @ (h2 @ W3)), None

    xs = jax.random.normal(k, (updates, batch, 37))
    run = jax.jit(lambda c: jax.lax.scan(update, c, xs)[0])
    jax.block_until_ready(run(Ws))
    print("| round | products only, samples/s | NumPy loop (same run), samples/s | products-only ÷ loop (bar: 10×) |")
    print("|---|---|---|---|")
    for r in range(rounds):
        rate = updates * batch / median_time(lambda: jax.block_until_ready(run(Ws)), repeats)
        loop = bench_map_prop.numpy_map_prop(batch, 100, 3)
        print(f"| {r + 1} | {rate:,.0f} | {loop:,.0f} | {rate / loop:.1f}× |", flush=True)


def floor_rl(rounds: int, repeats: int) -> None:
    import bench_rl

    seeds, steps = 10, 5000
    k = jax.random.key(0)

    def layers(sizes):
        return tuple({"W": jax.random.normal(k, (seeds, a, b)) * 0.1, "b": jnp.zeros((seeds, b))}
                     for a, b in zip(sizes[:-1], sizes[1:]))

    actor, critic = layers((4, 64, 32, 2)), layers((4, 64, 32, 1))
    opt = optax.adam(1e-3)

    def step(c, _):
        actor, critic, sa, sc, trace = c
        ga = jax.tree.map(lambda p: 1e-3 * p, actor)  # a stand-in gradient: one pass, as any gradient costs
        trace = jax.tree.map(lambda e, p: 0.784 * e + 1e-3 * p, trace, critic)
        ua, sa = opt.update(ga, sa, actor)
        uc, sc = opt.update(trace, sc, critic)
        return (optax.apply_updates(actor, ua), optax.apply_updates(critic, uc), sa, sc, trace), None

    c0 = (actor, critic, opt.init(actor), opt.init(critic), jax.tree.map(jnp.zeros_like, critic))
    run = jax.jit(lambda c: jax.lax.scan(step, c, None, length=steps)[0])
    jax.block_until_ready(run(c0))
    print("| round | Adam + trace only, µs per 10-seed step | NumPy WM loop (same run), env steps/s | "
          "budget for 100×, µs per 10-seed step |")
    print("|---|---|---|---|")
    for r in range(rounds):
        us = 1e6 * median_time(lambda: jax.block_until_ready(run(c0)), repeats) / steps
        loop = bench_rl.numpy_wm_cartpole(3000, 3)
        print(f"| {r + 1} | {us:.1f} | {loop:,.0f} | {seeds / (100 * loop) * 1e6:.1f} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("which", choices=("copi", "map-prop", "rl"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    print(f"jax {jax.__version__}, {os.cpu_count()} cores, {len(os.sched_getaffinity(0))} in use")
    {"copi": floor_copi, "map-prop": floor_map_prop, "rl": floor_rl}[args.which](args.rounds, args.repeats)


if __name__ == "__main__":
    main()
