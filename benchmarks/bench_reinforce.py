"""Throughput of REINFORCE (and Weight Maximization) on the 20-bit multiplexer, [64, 32], one CPU core.

Reports samples/s (updates × batch × seeds per second of wall time, compilation excluded) at
batch 1 and 128, for 1 seed and 10 vmapped seeds, with the hash and the standard JAX sampler,
and the ratio to (a) the reference implementation's rates from the spec (≈ 3,000 samples/s at
batch 1, ≈ 36,000 at batch 128, Weight Maximization in NumPy on one core of this machine class),
(b) a NumPy Weight-Maximization loop shaped like the reference (per-sample raw updates, top-down,
hand-written Adam per layer; spec §6) and (c) a leaner NumPy REINFORCE loop (batch-averaged outer
products), both timed in this same process. The machine's speed drifts from day to day, so the
same-run ratios are the ones to quote (docs/benchmarks.md). Medians of ``--repeats`` runs.

With ``--reference-dir DIR`` (a clone of ``stephen-chung-mh/weight_max`` in ``DIR/weight_max``, made
outside this repository) the real reference code is timed side by side, interleaved with plastix's
Weight Maximization (see ``reference.py``); those are the ratios to quote. Without it, the NumPy
loops above stand in, labelled as such: they skip work the reference does and run faster than it.

    python benchmarks/bench_reinforce.py [--repeats 5] [--quick] [--rules reinforce weight_max]
                                         [--reference-dir DIR]
"""

from __future__ import annotations

import argparse

import numpy as np
from _common import loop_rate, machine_line, numpy_adam_ascent, train_throughput

from plastix import TrainConfig

REFERENCE = {1: 3_000.0, 128: 36_000.0}  # spec team_rules.md §12a


def bench_plastix(batch: int, seeds: int, sampler: str, steps: int, repeats: int, rule: str = "reinforce") -> float:
    cfg = TrainConfig(bits=20, hidden=(64, 32), batch=batch, seeds=seeds, steps=steps, log_every=steps,
                      sampler=sampler, rule=rule)
    return train_throughput(cfg, repeats)


def bench_numpy_loop(batch: int, steps: int, repeats: int) -> float:
    """A NumPy REINFORCE loop shaped like the reference code (one network, Adam per parameter)."""
    rng = np.random.default_rng(0)
    sizes = [20, 64, 32, 1]
    Ws = [rng.uniform(-1, 1, (a, b)) * np.sqrt(6 / (a + b)) for a, b in zip(sizes[:-1], sizes[1:])]
    bs = [rng.uniform(-1e-3, 1e-3, b) for b in sizes[1:]]
    params = Ws + bs
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    lrs = [1e-2, 1e-3, 1e-4] * 2

    def step(t):
        z = rng.random((batch, 20)) < 0.5
        x = 2.0 * z - 1
        idx = z[:, :4] @ (2 ** np.arange(3, -1, -1))
        y = 2.0 * z[np.arange(batch), 4 + idx] - 1
        h, tr = x, []
        for W, b in zip(Ws, bs):
            p = 1 / (1 + np.exp(-(h @ W + b)))
            s = (rng.random(p.shape) < p).astype(float)
            tr.append((h, s - p))
            h = s
        R = np.where(2 * h[:, 0] - 1 == y, 1.0, -1.0)
        grads = [hin.T @ (e * R[:, None]) / batch for hin, e in tr] + [(e * R[:, None]).mean(0) for _, e in tr]
        numpy_adam_ascent(params, grads, m, v, lrs, t, 1e-8)

    return loop_rate(step, steps, batch, repeats)


def bench_numpy_wm(batch: int, steps: int, repeats: int) -> float:
    """A NumPy Weight-Maximization loop shaped like the reference (spec §6): the rule the spec's
    3,000 / 36,000 samples/s were measured on. Per-sample raw updates ``G``, top-down, each layer's
    Adam step taken before the reward of the layer below is formed from the updated weights."""
    rng = np.random.default_rng(0)
    sizes = [20, 64, 32, 1]
    Ws = [rng.uniform(-1, 1, (a, b)) * np.sqrt(6 / (a + b)) for a, b in zip(sizes[:-1], sizes[1:])]
    bs = [np.zeros(b) for b in sizes[1:]]
    m = [[np.zeros_like(W), np.zeros_like(b)] for W, b in zip(Ws, bs)]
    v = [[np.zeros_like(W), np.zeros_like(b)] for W, b in zip(Ws, bs)]
    lrs = [1e-2, 1e-3, 1e-4]

    def step(t):
        z = rng.random((batch, 20)) < 0.5
        x = 2.0 * z - 1
        idx = z[:, :4] @ (2 ** np.arange(3, -1, -1))
        y = 2.0 * z[np.arange(batch), 4 + idx] - 1
        h, elig = [x], []
        for W, b in zip(Ws, bs):
            p = 1 / (1 + np.exp(-(h[-1] @ W + b)))
            h.append((rng.random(p.shape) < p).astype(float))
            elig.append(h[-1] - p)
        reward = np.where(2 * h[-1] - 1 == y[:, None], 1.0, -1.0)  # (B, 1): every output unit
        for l in (2, 1, 0):
            G = h[l][:, :, None] * (elig[l] * reward)[:, None, :]  # (B, n_in, n_out), raw per sample
            numpy_adam_ascent([Ws[l], bs[l]], [G.mean(0), (elig[l] * reward).mean(0)], m[l], v[l],
                              [lrs[l]] * 2, t, 1e-8)
            reward = (2 * Ws[l] * G).sum(2)  # (B, n_in): change of Σ_j W_ij² under G, updated W

    return loop_rate(step, steps, batch, repeats)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="fewer steps (noisier)")
    ap.add_argument("--rules", nargs="+", default=["reinforce", "weight_max"])
    ap.add_argument("--reference-dir", default="", help="directory holding a clone of the reference weight_max")
    args = ap.parse_args()
    scale = 0.2 if args.quick else 1.0
    print(machine_line(args.repeats))
    if args.reference_dir:
        real_reference(args.reference_dir, args.repeats, scale)
        return
    print("| rule | batch | seeds | sampler | plastix samples/s | vs reference (spec) | vs NumPy WM loop | "
          "vs NumPy REINFORCE loop |")
    print("|---|---|---|---|---|---|---|---|")
    for batch in (1, 128):
        np_steps = int((4000 if batch == 1 else 300) * scale)
        wm_rate = bench_numpy_wm(batch, np_steps, args.repeats)
        numpy_rate = bench_numpy_loop(batch, np_steps, args.repeats)
        for rule in args.rules:
            for seeds in (1, 10):
                for sampler in ("hash", "jax"):
                    steps = int((20_000 if batch == 1 else 1_000) * scale) // (seeds if batch == 128 else 1)
                    rate = bench_plastix(batch, seeds, sampler, max(steps, 50), args.repeats, rule)
                    print(f"| {rule} | {batch} | {seeds} | {sampler} | {rate:,.0f} | {rate / REFERENCE[batch]:.1f}× "
                          f"| {rate / wm_rate:.1f}× | {rate / numpy_rate:.1f}× |", flush=True)
        for name, r in (("NumPy WM loop", wm_rate), ("NumPy REINFORCE loop", numpy_rate)):
            print(f"| {name} | {batch} | 1 | – | {r:,.0f} | {r / REFERENCE[batch]:.2f}× | {r / wm_rate:.2f}× "
                  f"| {r / numpy_rate:.2f}× |")


def real_reference(ref_dir: str, repeats: int, scale: float) -> None:
    """Weight Maximization, 20-bit multiplexer: the real reference code against plastix, interleaved."""
    from reference import side_by_side_table

    def make_cfg(batch: int, seeds: int, steps: int) -> TrainConfig:
        return TrainConfig(bits=20, hidden=(64, 32), batch=batch, seeds=seeds, steps=steps, log_every=steps,
                           rule="weight_max")

    side_by_side_table(ref_dir, "weight_max", "WM, 20-bit multiplexer", make_cfg,
                       {1: int(3000 * scale), 128: int(200 * scale)}, {1: int(20_000 * scale), 128: int(1_000 * scale)},
                       repeats)


if __name__ == "__main__":
    main()
