"""Throughput of MAP propagation, and the cost of a Gibbs-sampled Boltzmann layer, on one CPU core.

1. MAP propagation on the reference `mp` config (37-bit multiplexer, [64, 32] softplus-Gaussian,
   σ² = 0.3/1, 2-way softmax, 20 minimisation steps), batch 1 and 128, 1 and 10 vmapped seeds;
   ratio to the reference implementation's rates from the spec (≈ 610 samples/s at batch 1,
   ≈ 18,000 at batch 128, NumPy on one core of this machine class) and to a NumPy loop written
   like the reference, timed in this same process.
2. A 20-sweep Boltzmann layer (64 units) against forward passes of the same layer (a feed-forward
   Bernoulli sample of 64 units from the same input), both inside one jitted ``lax.scan``.

With ``--reference-dir DIR`` (a clone of ``stephen-chung-mh/map_prop`` in ``DIR/map_prop``, made
outside this repository) part 1 times the real reference code side by side, interleaved with
plastix (see ``reference.py``); those are the ratios to quote. Without it, the spec's figures and
the in-process NumPy loop stand in, labelled as such (the loop ran ~3× faster than the reference).

    python benchmarks/bench_map_prop.py [--repeats 5] [--quick] [--reference-dir DIR]
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np
from _common import loop_rate, machine_line, median_time, numpy_adam_ascent, train_throughput

from plastix import TrainConfig
from plastix.nets import Bernoulli, Boltzmann
from plastix.random import hash_sampler

REFERENCE = {1: 610.0, 128: 18_000.0}  # spec team_rules.md §12a
MP37 = TrainConfig(task="multiplexer", bits=37, rule="map_prop", hidden=(64, 32), sigma2=(0.3, 1.0, 1.0),
                   lr=(4e-2, 4e-5, 4e-6), adam_eps=1e-9, bias_init="zeros")


def numpy_map_prop(batch: int, steps: int, repeats: int) -> float:
    """A NumPy MAP-prop loop shaped like the reference: forward, 20 synchronous steps, Adam."""
    rng = np.random.default_rng(0)
    sizes, s2 = [37, 64, 32, 2], [0.3, 1.0]
    Ws = [rng.uniform(-1, 1, (a, b)) * np.sqrt(6 / (a + b)) for a, b in zip(sizes[:-1], sizes[1:])]
    bs = [np.zeros(b) for b in sizes[1:]]
    params = Ws + bs
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    lrs = [4e-2, 4e-5, 4e-6] * 2
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    sp = lambda z: np.log1p(np.exp(z))  # noqa: E731

    def softmax(z):
        e = np.exp(z - z.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    def step(t):
        z = rng.random((batch, 37)) < 0.5
        x = 2.0 * z - 1
        idx = z[:, :5] @ (2 ** np.arange(4, -1, -1))
        y = z[np.arange(batch), 5 + idx]
        H = [x]
        for W, b, s in zip(Ws[:2], bs[:2], s2):
            H.append(sp(H[-1] @ W + b) + np.sqrt(s) * rng.standard_normal((batch, W.shape[1])))
        pi = softmax(H[2] @ Ws[2] + bs[2])
        a = (rng.random(batch)[:, None] > np.cumsum(pi, 1)).sum(1).clip(0, 1)
        A = np.eye(2)[a]
        R = np.where(a == y, 1.0, -1.0)
        for _ in range(20):
            u1, u2 = H[0] @ Ws[0] + bs[0], H[1] @ Ws[1] + bs[1]
            pi = softmax(H[2] @ Ws[2] + bs[2])
            v2 = (H[2] - sp(u2)) * sig(u2) / s2[1]
            d1 = (sp(u1) - H[1]) / s2[0] + v2 @ Ws[1].T
            d2 = (sp(u2) - H[2]) / s2[1] + (A - pi) @ Ws[2].T
            H[1], H[2] = H[1] + 0.5 * s2[0] * d1, H[2] + 0.5 * s2[1] * d2
        u1, u2 = H[0] @ Ws[0] + bs[0], H[1] @ Ws[1] + bs[1]
        pi = softmax(H[2] @ Ws[2] + bs[2])
        es = [(H[1] - sp(u1)) * sig(u1) / s2[0], (H[2] - sp(u2)) * sig(u2) / s2[1], A - pi]
        grads = [h.T @ (e * R[:, None]) / batch for h, e in zip(H, es)] + [(e * R[:, None]).mean(0) for e in es]
        numpy_adam_ascent(params, grads, m, v, lrs, t, 1e-9)

    return loop_rate(step, steps, batch, repeats)


def gibbs_cost(batch: int, n_in: int, gibbs: str, repeats: int, calls: int) -> tuple[float, float]:
    """Seconds per call of a 20-sweep Boltzmann layer and of a forward pass of the same layer."""
    sampler = hash_sampler()
    bm = Boltzmann(64, sweeps=20, gibbs=gibbs)
    ff = Bernoulli(64)
    params = bm.init(jax.random.key(0), n_in)
    x = jnp.sign(jax.random.normal(jax.random.key(1), (batch, n_in)))

    def timed(layer):
        @jax.jit
        def many(params, x):
            def one(acc, i):
                t = layer.sample(params, x, jax.random.fold_in(jax.random.key(2), i), sampler)
                return acc + t.h.sum(), None
            return jax.lax.scan(one, 0.0, jnp.arange(calls))[0]

        jax.block_until_ready(many(params, x))
        return median_time(lambda: jax.block_until_ready(many(params, x)), repeats) / calls

    return timed(bm), timed(ff)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="fewer steps (noisier)")
    ap.add_argument("--reference-dir", default="", help="directory holding a clone of the reference map_prop")
    args = ap.parse_args()
    scale = 0.2 if args.quick else 1.0
    print(machine_line(args.repeats))
    if args.reference_dir:
        real_reference(args.reference_dir, args.repeats, scale)
        return
    print("\n| MAP-prop `mp` | batch | seeds | plastix samples/s | vs reference (spec) | vs NumPy loop (same run) |")
    print("|---|---|---|---|---|---|")
    for batch in (1, 128):
        numpy_rate = numpy_map_prop(batch, int((1000 if batch == 1 else 100) * scale), args.repeats)
        for seeds in (1, 10):
            steps = max(int((10_000 if batch == 1 else 500) * scale) // (seeds if batch == 128 else 1), 50)
            cfg = MP37.__class__(**{**MP37.to_dict(), "batch": batch, "seeds": seeds, "steps": steps,
                                    "log_every": steps})
            rate = train_throughput(cfg, args.repeats)
            print(f"| map_prop | {batch} | {seeds} | {rate:,.0f} | {rate / REFERENCE[batch]:.1f}× "
                  f"| {rate / numpy_rate:.1f}× |", flush=True)
        print(f"| NumPy loop | {batch} | 1 | {numpy_rate:,.0f} | {numpy_rate / REFERENCE[batch]:.2f}× | 1× |")
    print("\n| Boltzmann layer, 64 units, 20 sweeps | batch | inputs | µs per sample call | forward pass µs "
          "| cost in forward passes (bar ≤ 25) |")
    print("|---|---|---|---|---|---|")
    calls = int(2000 * scale)
    for gibbs in ("parallel", "sequential"):
        for batch in (1, 128):
            for n_in in (20, 37):
                bm, ff = gibbs_cost(batch, n_in, gibbs, args.repeats, calls if gibbs == "parallel" else calls // 10)
                print(f"| {gibbs} | {batch} | {n_in} | {bm * 1e6:,.1f} | {ff * 1e6:,.2f} | {bm / ff:.1f} |", flush=True)


def real_reference(ref_dir: str, repeats: int, scale: float) -> None:
    """MAP propagation, 37-bit multiplexer `mp`: the real reference code against plastix, interleaved."""
    from reference import side_by_side_table

    def make_cfg(batch: int, seeds: int, steps: int) -> TrainConfig:
        return MP37.__class__(**{**MP37.to_dict(), "batch": batch, "seeds": seeds, "steps": steps, "log_every": steps})

    side_by_side_table(ref_dir, "map_prop", "MAP-prop `mp`, 37-bit", make_cfg,
                       {1: int(600 * scale), 128: int(60 * scale)}, {1: int(10_000 * scale), 128: int(500 * scale)},
                       repeats)


if __name__ == "__main__":
    main()
