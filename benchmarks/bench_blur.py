"""Milliseconds per BLUR meta-step (spec blur.md §8 speed anchors), both cores, compilation excluded.

Settings of the reference anchors:

* ``toy``: 2-D tasks, hidden (20,), k = 2, 5 tasks × (5 inner steps + query), batch 512, one genome,
  one synapse draw per task; reference ≈ 24 ms per meta-step (TF-CPU graph mode, 2 threads). Two rows:
  ``toy, 5 differentiated`` takes the meta-gradient through all 5 tasks (more work than the
  reference); ``toy, reference's work`` does what the reference's step does with its 5 tasks (spec
  §8: 2 meta-train + 3 meta-val): the gradient through 2 meta-training tasks (xor, or) and a
  forward-only score of 3 meta-validation tasks (and, qand, nxor), in one compiled step;
* ``digits``: 64 inputs, hidden (64,), 10 classes, k = 4, U = 10, batch 128, CE meta-loss, Adam 5e−4
  with clip 10; reference ≈ 81–92 ms.

plastix's meta-step here is the gradient of the CE meta-loss through the unrolled inner loop plus
the Adam update (``plastix.blur.meta.make_meta_step``); the toy tasks are replicas with a task drawn
per replica (the reference scores an L2 loss after U − 1 learning steps; plastix's CE after U
learning steps is slightly more work).

The reference figures in the table are the spec's, from another day: a fallback, labelled as such.
With ``--reference-dir DIR`` (a clone of ``google-research/google-research``, or of its ``blur/``
folder, in ``DIR/google-research``, made outside this repository) and ``--reference-python PY`` (a
Python with TensorFlow 2 and jax, which the reference imports), the real reference code runs the
digits setting side by side, interleaved with plastix pair by pair (``reference.py`` says how its
graph is built); those are the ratios to quote.

    python benchmarks/bench_blur.py [--repeats 5] [--steps 20] [--reference-dir DIR --reference-python PY]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import jax
import numpy as np

from plastix.blur import BlurNet, random_genome
from plastix.blur.meta import MetaState, make_meta_step, meta_loss
from plastix.blur.tasks import dataset_sampler, mixture
from plastix.datasets import load

REFERENCE_MS = {"toy": 24.0, "digits": 86.5}  # spec §8 (digits: middle of 81–92 ms)


def meta_step_ms(net: BlurNet, sample, unroll: int, batch: int, replicas: int, steps: int, repeats: int,
                 val: tuple | None = None) -> tuple[float, float]:
    """(ms per meta-step, compile s). ``val = (sampler, replicas)``: tasks scored forward-only in the
    same compiled step, with the genome before the update (the reference's meta-validation)."""
    once, comp = meta_step_fn(net, sample, unroll, batch, replicas, steps, val)
    return float(np.median([once() for _ in range(repeats)])), comp


def meta_step_fn(net: BlurNet, sample, unroll: int, batch: int, replicas: int, steps: int,
                 val: tuple | None = None):
    """Compile ``steps`` meta-steps as one scan: (function timing one more call in ms per meta-step,
    compile s)."""
    train, opt = make_meta_step(net, sample, unroll, batch, replicas)

    def train_and_score(state, key):
        k_train, k_val = jax.random.split(key)
        scored = meta_loss(net, state.genome, k_val, val[0], unroll, batch, val[1])
        state, metrics = train(state, k_train)
        return state, (metrics, scored)

    step = train if val is None else train_and_score

    g = random_genome(jax.random.key(0), net.k)
    state = MetaState(g, opt.init(g))
    run = jax.jit(lambda st, key: jax.lax.scan(step, st, jax.random.split(key, steps)))
    t0 = time.perf_counter()
    state, _ = jax.block_until_ready(run(state, jax.random.key(1)))
    first = time.perf_counter() - t0
    calls = [1]

    def once() -> float:
        calls[0] += 1
        t0 = time.perf_counter()
        jax.block_until_ready(run(state, jax.random.key(calls[0])))
        return 1e3 * (time.perf_counter() - t0) / steps

    steady = once() * steps / 1e3
    return once, max(first - steady, 0.0)


def real_reference(ref_dir: str, python: str, ds, steps: int, repeats: int) -> None:
    """Digits (64-64-10, k = 4, U = 10, batch 128): the real reference against plastix, interleaved pairs.

    Two plastix rows: its default network (activation normalisation and the Oja term on: the paper's
    features, which the reference's default spec does not compute), and the reference's work (both
    off, relu∘tanh hidden units as in its default spec). plastix takes U learning steps and a query
    step in both; the reference's graph takes U − 1 learning steps and two forward-only steps."""
    from reference import check_blur_reference_dir, reference_blur_ms, require_python, side_by_side

    check_blur_reference_dir(ref_dir)
    require_python(python, "TensorFlow 2 and jax")
    nets = {
        "digits, plastix default (+ normalisation, Oja)": BlurNet((64, 64, 10), k=4),
        "digits, the reference's work": BlurNet((64, 64, 10), k=4, normalize=False, oja=False,
                                                hidden_fwd="relu_tanh", hidden_bwd="relu_tanh"),
    }
    print("| setting (k = 4, U = 10, batch 128) | real reference ms | plastix ms | reference / plastix (median of pairs) |")
    print("|---|---|---|---|")
    for name, net in nets.items():
        once, _ = meta_step_fn(net, dataset_sampler(ds.x_train, ds.y_train), 10, 128, 1, steps)
        ref, plx, ratio = side_by_side(
            lambda: 1.0 / reference_blur_ms(ref_dir, python, ds.x_train, ds.y_train, (64,), 4, 10, 128, 5 * steps),
            lambda: 1.0 / once(), repeats)
        print(f"| {name} | {1 / ref:.1f} | {1 / plx:.2f} | {ratio:.1f}× |", flush=True)
    print()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--steps", type=int, default=20, help="meta-steps per timed call (one scan)")
    ap.add_argument("--reference-dir", default="", help="directory holding a clone of google-research (blur/)")
    ap.add_argument("--reference-python", default="", help="a Python with TensorFlow 2 and jax for the reference")
    args = ap.parse_args()
    ds = load("digits")
    toy = BlurNet((2, 20, 2), k=2)
    settings = {  # name: (net, sampler, U, batch, replicas, forward-only tasks, reference key)
        "toy, 5 differentiated": (toy, mixture(("xor", "and", "moons")), 5, 512, 5, None, "toy"),
        "toy, reference's work": (toy, mixture(("xor", "or")), 5, 512, 2, (mixture(("and", "qand", "nxor")), 3), "toy"),
        "digits": (BlurNet((64, 64, 10), k=4), dataset_sampler(ds.x_train, ds.y_train), 10, 128, 1, None, "digits"),
    }
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, jax {jax.__version__}, "
          f"medians of {args.repeats} × {args.steps} meta-steps")
    if args.reference_dir:
        real_reference(args.reference_dir, args.reference_python, ds, args.steps, args.repeats)
    print("| setting | reference ms (spec, another day) | plastix ms | speed-up | compile s |")
    print("|---|---|---|---|---|")
    for name, (net, sample, unroll, batch, replicas, val, ref) in settings.items():
        ms, comp = meta_step_ms(net, sample, unroll, batch, replicas, args.steps, args.repeats, val)
        print(f"| {name} | {REFERENCE_MS[ref]} | {ms:.2f} | {REFERENCE_MS[ref] / ms:.2f}× | {comp:.1f} |", flush=True)


if __name__ == "__main__":
    main()
