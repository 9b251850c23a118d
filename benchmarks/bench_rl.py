"""Environment steps per second of actor–critic team rules on the pure-JAX environments.

The registered reference configs (``weight-max/cartpole``, ``map-prop/cartpole``, …), 1 and 10
vmapped seeds, on one CPU core, compilation excluded; ratio to the reference implementations'
rates from the spec (NumPy on one core of this machine class: WM CartPole ≈ 1,570 env steps/s,
MAP-prop CartPole ≈ 365, …) and to a NumPy WM CartPole loop written like the reference (Bernoulli
actor, WM with Adam, TD(λ) backprop critic with Adam, gymnasium's CartPole), timed in this same
process. Both fallbacks are labelled as such: the spec's rates are figures from another day, and the
NumPy loop skips work the reference does and ran 3.1× faster than it.

With ``--reference-dir DIR`` (clones of ``stephen-chung-mh/weight_max`` and ``stephen-chung-mh/map_prop``
in ``DIR/weight_max`` and ``DIR/map_prop``, made outside this repository) the references' own RL
``main`` programs run on their CartPole configs, each in a fresh process on one core, timed side by side
with plastix, interleaved pair by pair (``reference.py``); those are the ratios to quote.

    python benchmarks/bench_rl.py [--repeats 5] [--quick] [--reference-dir DIR]
    PLASTIX_BENCH_ALL_CORES=1 XLA_FLAGS=--xla_force_host_platform_device_count=2 \
        python benchmarks/bench_rl.py --devices 2     # seeds split over both cores (pmap of vmap)
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import jax
import numpy as np
from _common import machine_line, median_time, numpy_adam_ascent

from plastix.experiments import EXPERIMENTS
from plastix.rl import make_rl_train

REFERENCE = {  # env steps/s of the reference code, spec team_rules.md §12a
    "weight-max/cartpole": 1570.0, "weight-max-traces/cartpole": 1490.0, "weight-max/acrobot": 1410.0,
    "map-prop/cartpole": 365.0, "map-prop/acrobot": 335.0, "map-prop/mountaincar-continuous": 425.0,
}


def plastix_rate(name: str, seeds: int, steps: int, repeats: int, devices: int = 1) -> float:
    """Env steps/s (all seeds) of ``steps`` scanned steps per seed; ``devices`` > 1 splits the seeds (pmap)."""
    once = plastix_rate_fn(name, seeds, steps, devices)
    return float(np.median([once() for _ in range(repeats)]))


def plastix_rate_fn(name: str, seeds: int, steps: int, devices: int = 1):
    """Compile the run once; the returned function times one more run and returns env steps/s."""
    cfg = dataclasses.replace(EXPERIMENTS[name].config, seeds=seeds, episodes=10**6)  # never finishes here
    trainer = make_rl_train(cfg)
    keys = jax.random.split(jax.random.key(0), seeds)
    if devices == 1:
        state = jax.jit(jax.vmap(trainer.init))(keys)
        run = jax.jit(jax.vmap(trainer.run, in_axes=(0, None)), static_argnums=1)
    else:
        state = jax.pmap(jax.vmap(trainer.init))(keys.reshape(devices, seeds // devices))
        run = jax.pmap(jax.vmap(trainer.run, in_axes=(0, None)), in_axes=(0, None), static_broadcasted_argnums=1)
    state = jax.block_until_ready(run(state, steps))  # compile, and move past the first episodes

    def once() -> float:
        t0 = time.perf_counter()
        jax.block_until_ready(run(state, steps))
        return steps * seeds / (time.perf_counter() - t0)

    return once


def numpy_wm_cartpole(steps: int, repeats: int) -> float:
    """A NumPy WM actor–critic loop shaped like the reference, on gymnasium's CartPole-v1."""
    import gymnasium

    rng = np.random.default_rng(0)
    env = gymnasium.make("CartPole-v1")
    obs = env.reset(seed=0)[0]
    sizes, csizes = [4, 64, 32, 2], [4, 64, 32, 1]

    def glorot(a, b):
        return rng.uniform(-1, 1, (a, b)) * np.sqrt(6 / (a + b))

    A = [glorot(a, b) for a, b in zip(sizes[:-1], sizes[1:])] + [np.zeros(b) for b in sizes[1:]]
    C = [glorot(a, b) for a, b in zip(csizes[:-1], csizes[1:])] + [np.zeros(b) for b in csizes[1:]]
    am, av = [np.zeros_like(p) for p in A], [np.zeros_like(p) for p in A]
    cm, cv = [np.zeros_like(p) for p in C], [np.zeros_like(p) for p in C]
    ce = [np.zeros_like(p) for p in C]
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    sp = lambda z: np.log1p(np.exp(z))  # noqa: E731

    def value(s):
        h1 = sp(s @ C[0] + C[3])
        h2 = sp(h1 @ C[1] + C[4])
        return (h2 @ C[2] + C[5])[0], h1, h2

    state = {"obs": obs}

    def step(t):
        s = state["obs"]
        h = [s]
        for W, b in zip(A[:2], A[3:5]):
            p = sig(h[-1] @ W + b)
            h.append((rng.random(p.shape) < p).astype(float))
        logits = h[2] @ A[2] + A[5]
        pi = np.exp(logits - logits.max())
        pi /= pi.sum()
        a = int(rng.random() > pi[0])
        vs = [h[1] - sig(h[0] @ A[0] + A[3]), h[2] - sig(h[1] @ A[1] + A[4]), np.eye(2)[a] - pi]
        s2, r, term, trunc, _ = env.step(a)
        v, h1, h2 = value(s)
        v2 = 0.0 if term else value(s2)[0]
        delta = 0.0 if trunc and not term else r + 0.98 * v2 - v
        # critic: TD(λ) by backprop, Adam ascent on e·δ
        g2 = np.ones(1)
        d2 = (g2 @ C[2].T) * sig(h1 @ C[1] + C[4])
        d1 = (d2 @ C[1].T) * sig(s @ C[0] + C[3])
        grads = [np.outer(s, d1), np.outer(h1, d2), np.outer(h2, g2), d1, d2, g2]
        for i, g in enumerate(grads):
            ce[i] = 0.98 * 0.8 * ce[i] + g
        numpy_adam_ascent(C, [e * delta for e in ce], cm, cv, [4e-2, 4e-5, 4e-6] * 2, t, 1e-8)
        # actor: WM, top-down, each layer's Adam step before the reward of the layer below
        reward = np.full(2, delta)
        for l in (2, 1, 0):
            G = np.outer(h[l], vs[l] * reward)
            numpy_adam_ascent([A[l], A[l + 3]], [G, vs[l] * reward], [am[l], am[l + 3]],
                              [av[l], av[l + 3]], [(2e-2, 2e-4, 2e-5)[l]] * 2, t, 1e-8)
            reward = (2 * A[l] * G).sum(1)
        if term or trunc:
            s2 = env.reset()[0]
            for e in ce:
                e[...] = 0
        state["obs"] = s2

    def loop():
        for t in range(1, steps + 1):
            step(t)

    return steps / median_time(loop, repeats)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="fewer steps (noisier)")
    ap.add_argument("--devices", type=int, default=1, help="XLA devices to split the 10 seeds over")
    ap.add_argument("--reference-dir", default="",
                    help="directory holding clones of the reference weight_max and map_prop repositories")
    args = ap.parse_args()
    scale = 0.2 if args.quick else 1.0
    print(machine_line(args.repeats))
    if args.reference_dir:
        real_reference(args.reference_dir, args.repeats, scale)
    numpy_rate = numpy_wm_cartpole(int(2000 * scale), args.repeats) if args.devices == 1 else float("nan")
    print("\n| experiment | seeds | devices | plastix env steps/s | vs reference (spec) | vs NumPy WM loop (same run) |")
    print("|---|---|---|---|---|---|")
    for name, ref in REFERENCE.items():
        for seeds in ((1, 10) if args.devices == 1 else (10,)):
            steps = int((20_000 if "weight-max" in name else 5_000) * scale)
            rate = plastix_rate(name, seeds, steps, args.repeats, args.devices)
            print(f"| {name} | {seeds} | {args.devices} | {rate:,.0f} | {rate / ref:.0f}× | {rate / numpy_rate:.0f}× |",
                  flush=True)
    if args.devices == 1:
        print(f"| NumPy WM loop (CartPole) | 1 | – | {numpy_rate:,.0f} | {numpy_rate / REFERENCE['weight-max/cartpole']:.2f}× | 1× |")


def real_reference(ref_dir: str, repeats: int, scale: float) -> None:
    """CartPole, WM and MAP-prop: the references' own RL programs against plastix, interleaved pairs."""
    from reference import RL_WORKLOADS, check_reference_dir, reference_rl_rate, side_by_side

    for name in RL_WORKLOADS:
        check_reference_dir(ref_dir, name)
    print("\n| experiment | seeds | real reference env steps/s | plastix env steps/s | "
          "plastix / reference (median of pairs) |")
    print("|---|---|---|---|---|")
    for name in RL_WORKLOADS:
        ref_steps = int((3_000 if "weight-max" in name else 600) * scale)
        for seeds in (1, 10):
            steps = int((20_000 if "weight-max" in name else 5_000) * scale)
            once = plastix_rate_fn(name, seeds, steps)
            ref, plx, ratio = side_by_side(lambda: reference_rl_rate(ref_dir, name, ref_steps), once, repeats)
            print(f"| {name} | {seeds} | {ref:,.0f} | {plx:,.0f} | {ratio:.0f}× |", flush=True)


if __name__ == "__main__":
    main()
