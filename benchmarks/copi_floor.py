"""The matrix-product floor of the MNIST COPI-BP batch (784-500×6-10, batch 50), both cores.

Times, interleaved in one process,

* a step made only of the fast form's matrix products (spec copi.md §5, §14) with the same shapes
  and dependencies as plastix's COPI-BP step: forward ``x = y Rᵀ`` and ``a = x Wᵀ`` per layer, the
  BP-aligned backward ``(δ W) R``, the weight statistic ``zᵀ x`` and the decorrelation product
  ``Xᵀ (X R)``; the updates are bare ``W + c·ΔW`` so nothing else is left to cost;
* plastix's full COPI-BP step (``plastix.copi.train``, the bench_copi.py set-up);

and prints ms per batch for both (median of ``--repeats`` timed epochs of 40 batches each, per
round) with the GFLOP/s the products alone would need for the issue's 7.2 ms. If the products alone
take longer than a bar, no implementation of the fast form meets that bar on this machine.

    python benchmarks/copi_floor.py [--rounds 3] [--repeats 7]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time

os.environ.setdefault("PLASTIX_BENCH_ALL_CORES", "1")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from plastix.copi.config import METHODS, CopiConfig  # noqa: E402
from plastix.copi.train import make_trainer  # noqa: E402

SIZES = (784, 500, 500, 500, 500, 500, 500, 10)
N, BATCHES = 50, 40
BAR_MS = 7.2  # the bar: 3× the reference's 21.6 ms


def products_only_epoch():
    """A jitted epoch of ``BATCHES`` steps that do only the COPI-BP step's matrix products."""

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
    Ws = tuple(jax.random.normal(k, (o, i)) * 0.01 for i, o in zip(SIZES[:-1], SIZES[1:]))
    Rs = tuple(jnp.eye(i) for i in SIZES[:-1])
    ys = jax.random.uniform(k, (BATCHES, N, SIZES[0]))
    run = jax.jit(lambda c: jax.lax.scan(step, c, ys)[0])
    return lambda: run((Ws, Rs))


def plastix_epoch():
    cfg = dataclasses.replace(CopiConfig(dataset="digits", hidden=SIZES[1:-1]), **METHODS["copi-bp"])
    tr = make_trainer(cfg, SIZES[0])
    key = jax.random.key(0)
    x = jax.random.uniform(key, (BATCHES * N, SIZES[0]), jnp.float32)
    y = jax.random.randint(key, (BATCHES * N,), 0, 10)
    state = tr.init(key)
    epoch = jax.jit(tr.epoch)
    return lambda: epoch(state, x, y, key, 1)


def ms_per_batch(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(times)) / BATCHES


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    mac = sum(N * i * o * 2 + N * i * i * 3 for i, o in zip(SIZES[:-1], SIZES[1:]))
    mac += sum(N * o * i + N * i * i for i, o in zip(SIZES[1:-1], SIZES[2:]))  # backward through W, R
    print(f"jax {jax.__version__}, {os.cpu_count()} cores; {2 * mac / 1e9:.2f} GFLOP per batch; "
          f"{BAR_MS} ms needs {2 * mac / BAR_MS / 1e6:.0f} GFLOP/s")
    products, full = products_only_epoch(), plastix_epoch()
    jax.block_until_ready(products())
    jax.block_until_ready(full())
    print("| round | products only, ms/batch | plastix COPI-BP, ms/batch |")
    print("|---|---|---|")
    for r in range(args.rounds):
        print(f"| {r + 1} | {ms_per_batch(products, args.repeats):.2f} | {ms_per_batch(full, args.repeats):.2f} |",
              flush=True)


if __name__ == "__main__":
    main()
