"""Agent steps per second of the maze inner loop (spec plasticity_maze.md §12), compilation excluded.

Rows (float32, untrained N(0, 0.05²) genotypes on random 15×15 mazes, ρ = 0.35, so most episodes
run their 200 steps; "agent steps" counts only steps actually taken, not masked ones):

* ``decprnn-post, 1 lifetime``: one lifetime, no batch, one core;
* ``<agent>, batched``: population 64 × 12 mazes = 768 lifetimes in one vmapped call, one core;
* ``numpy reference``: a NumPy (float64) transcription of the reference's inner loop — full
  coefficient matrices formed once per maze, the rule applied as A⊙(y uᵀ) + B⊙y1ᵀ + C⊙1uᵀ + D,
  a Python environment — on the same mazes in the same run, to give a ratio measured here (the
  spec's anchor on this class of machine: 7,390 steps/s for DecPRNN-post, 27,560 RNN, 15,600 LSTM);
* ``--generation``: seconds per full-scale generation, P = 360 × 12 mazes 15×15 (run it with both
  cores: ``PLASTIX_BENCH_ALL_CORES=1 PLASTIX_DEVICES=2``; reference ≈ 820 CPU-s ≈ 7 min on 2 cores).

    python benchmarks/bench_eprnn.py [--repeats 3]
    PLASTIX_BENCH_ALL_CORES=1 PLASTIX_DEVICES=2 python benchmarks/bench_eprnn.py --generation
"""

from __future__ import annotations

import argparse
import os
import time

if os.environ.get("PLASTIX_DEVICES"):
    import jax

    jax.config.update("jax_num_cpu_devices", int(os.environ["PLASTIX_DEVICES"]))

from _common import machine_line, median_time  # noqa: E402  (one core, one thread)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from plastix.eprnn.agent import make_agent  # noqa: E402
from plastix.eprnn.lifetime import Lifetime, evaluate  # noqa: E402
from plastix.eprnn.maze import ACTION_DELTAS, sample_mazes  # noqa: E402

REFERENCE = {"decprnn-post": 7390, "rnn": 27560, "lstm": 15600}  # spec §12, agent steps/s per core


def batched_rate(name: str, P: int, mazes, repeats: int) -> tuple[float, float]:
    agent = make_agent(name)
    G = jax.vmap(agent.init_genome)(jax.random.split(jax.random.key(0), P))
    lt = Lifetime()
    f = jax.jit(lambda G, k: evaluate(agent, lt, G, mazes, k))
    t0 = time.perf_counter()
    s = jax.block_until_ready(f(G, jax.random.key(1)))
    compile_s = time.perf_counter() - t0
    steps = float(np.asarray(s.steps).sum())
    t = median_time(lambda: jax.block_until_ready(f(G, jax.random.key(1))), repeats)
    return steps / t, compile_s - t


def single_rate(mazes, repeats: int) -> float:
    agent = make_agent("decprnn-post")
    g = agent.init_genome(jax.random.key(0))
    from plastix.eprnn.lifetime import run_lifetime
    from plastix.eprnn.maze import Maze

    maze = Maze(*(jnp.asarray(a[0]) for a in mazes))
    f = jax.jit(lambda g, k: run_lifetime(agent, Lifetime(), g, maze, k))
    s = jax.block_until_ready(f(g, jax.random.key(1)))
    t = median_time(lambda: jax.block_until_ready(f(g, jax.random.key(1))), repeats)
    return float(np.asarray(s.steps).sum()) / t


def numpy_reference_rate(name: str, mazes, n_mazes: int, repeats: int) -> float:
    """Agent steps/s of a NumPy float64 inner loop written like the reference (see the docstring)."""
    rng = np.random.default_rng(0)
    n, q = 64, 15
    r = lambda *s: rng.normal(0, 0.05, s)  # noqa: E731
    W_o, b_o = r(5, n), r(5)
    if name == "decprnn-post":
        b, W_m, b_m = r(n), r(2, n), r(2)
        coef = {k: [np.outer(r(n), r(p)) for _ in range(4)] for k, p in (("h", n), ("x", q))}
    else:
        W = r(4 * n if name == "lstm" else n, n + q)
        bb = r(W.shape[0])
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731

    def lifetime(walls, start, goal):
        steps = 0
        h, c = np.zeros(n), np.zeros(n)
        if name == "decprnn-post":
            Wh, Wx = np.zeros((n, n)), np.zeros((n, q))
        for _ in range(8):
            pos = tuple(start)
            prev = rng.integers(4)
            for t in range(200):
                i, j = pos
                win = walls[i - 1:i + 2, j - 1:j + 2].astype(float)
                if abs(goal[0] - i) <= 1 and abs(goal[1] - j) <= 1:
                    win[goal[0] - i + 1, goal[1] - j + 1] = -1.0
                x = np.zeros(q)
                x[:9] = win.ravel()
                x[9 + prev] = 1.0
                if name == "decprnn-post":
                    hp = h
                    h = np.tanh(Wh @ hp + Wx @ x + b)
                    m = sig(W_m @ h + b_m)
                    o = W_o @ h + b_o
                    for Wmat, u, mm, (A, B, C, D) in ((Wh, hp, m[0], coef["h"]), (Wx, x, m[1], coef["x"])):
                        Wmat += 0.2 * mm * (A * np.outer(h, u) + B * h[:, None] + C * u[None, :] + D)
                elif name == "rnn":
                    h = np.tanh(W @ np.concatenate([x, h]) + bb)
                    o = W_o @ h + b_o
                else:
                    a = W @ np.concatenate([x, h]) + bb
                    c = sig(a[2 * n:3 * n]) * c + sig(a[n:2 * n]) * np.tanh(a[:n])
                    h = sig(a[3 * n:]) * np.tanh(c)
                    o = W_o @ h + b_o
                if rng.random() < 0.5 * np.tanh(o[4]) + 0.5:
                    a_ = int(np.argmax(o[:4]))
                else:
                    p = np.exp(o[:4] - o[:4].max())
                    a_ = int(np.searchsorted(np.cumsum(p / p.sum()), rng.random()))
                    a_ = min(a_, 3)
                steps += 1
                tgt = (i + ACTION_DELTAS[a_][0], j + ACTION_DELTAS[a_][1])
                if not walls[tgt]:
                    pos = tgt
                prev = a_
                if pos == tuple(goal):
                    break
        return steps

    def run():
        return sum(lifetime(mazes.walls[k], mazes.start[k], mazes.goal[k]) for k in range(n_mazes))

    steps = run()
    t = median_time(run, repeats)
    return steps / t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--generation", action="store_true", help="only the full-scale generation row")
    args = ap.parse_args()
    mazes = sample_mazes(jax.random.key(7), 12, 15, 0.35)
    print(machine_line(args.repeats))
    if args.generation:
        from plastix.eprnn.config import MazeConfig
        from plastix.eprnn.run import _compiled, _program_key

        cfg = MazeConfig(popsize=360, mazes=12, maze_size=15, crowd=0.35)
        agent, lt, es, generation, tell, test = _compiled(_program_key(cfg))
        from plastix.eprnn.agent import flat_genome
        from plastix.eprnn.maze import Maze

        state = es.init(None, flat_genome(agent.init_genome(jax.random.key(0))))
        mz = Maze(*(jnp.asarray(a) for a in mazes))
        t0 = time.perf_counter()
        jax.block_until_ready(generation(state, jax.random.key(1), mz))
        first = time.perf_counter() - t0
        t = median_time(lambda: jax.block_until_ready(generation(state, jax.random.key(1), mz)), args.repeats)
        print(f"full-scale generation, P = 360 × 12 mazes 15×15, {jax.local_device_count()} device(s): {t:.1f} s "
              f"(compile {first - t:.1f} s); reference ≈ 820 CPU-s ≈ 410 s on 2 cores; bar ≤ 82 s")
        return
    t0 = time.perf_counter()
    sample_mazes(jax.random.key(8), 100, 15, 0.35)
    print(f"maze sampling 15×15: {(time.perf_counter() - t0) * 10:.2f} ms per maze (reference 3.45 ms)")
    rows = []
    one = single_rate(mazes, args.repeats)
    rows.append(("decprnn-post, 1 lifetime", one, None))
    for name in ("decprnn-post", "rnn", "lstm"):
        rate, comp = batched_rate(name, 64, mazes, args.repeats)
        ref = numpy_reference_rate(name, mazes, 2, args.repeats)
        rows.append((f"{name}, 64 × 12 lifetimes", rate, ref))
        print(f"  ({name}: compile {comp:.1f} s)")
    print("| row | agent steps/s | NumPy reference here | ratio (here) | ratio to the spec anchor |")
    print("|---|---|---|---|---|")
    for label, rate, ref in rows:
        anchor = REFERENCE[label.split(",")[0]]
        here = f"{ref:,.0f}" if ref else "–"
        ratio = f"{rate / ref:.0f}×" if ref else "–"
        print(f"| {label} | {rate:,.0f} | {here} | {ratio} | {rate / anchor:.1f}× ({anchor:,}) |")


if __name__ == "__main__":
    main()
