"""What does the released DecPRNN learn inside one maze? Ablations with the plastix API.

Loads the authors' released genotype (shipped with plastix), runs it for 8 episodes on the stored
9×9 test mazes and prints, per episode, the success rate, the mean number of actions and the
fraction of greedy (argmax) actions — the learned "certainty" output — next to three ablations:

* plasticity off (κ = 0: the fast weights stay 0, so nothing can be learned within the maze);
* the metagym-0.2 observation sign (the genotype was evolved under the 0.1 convention),

and how large the fast weights have grown after the 8 episodes.

    python examples/maze_plasticity.py [--mazes 1024] [--quick]
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import jax
import jax.numpy as jnp
import numpy as np

from plastix.eprnn.genotype import RELEASED, STORED_MAZES, bundled, load_genotype
from plastix.eprnn.lifetime import Lifetime, run_lifetime
from plastix.eprnn.maze import MazeEnv, load_mazes
from plastix.eprnn.run import meta_test


def table(label: str, stats) -> str:
    succ = np.asarray(stats.success).reshape(-1, 8).mean(0)
    steps = np.asarray(stats.steps).reshape(-1, 8).mean(0)
    greedy = (np.asarray(stats.greedy).reshape(-1, 8).sum(0) / np.asarray(stats.steps).reshape(-1, 8).sum(0))
    return f"| {label} | " + " | ".join(f"{s:.2f} / {n:.0f} / {q:.2f}" for s, n, q in zip(succ, steps, greedy)) + " |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mazes", type=int, default=1024)
    ap.add_argument("--quick", action="store_true", help="32 mazes (smoke test)")
    args = ap.parse_args()
    n_mazes = 32 if args.quick else args.mazes
    name, agent, g = load_genotype(bundled(RELEASED))
    mazes = load_mazes(bundled(STORED_MAZES[9]), limit=n_mazes)
    key = jax.random.key(0)
    lt = Lifetime()
    print(f"{name}: success / actions / greedy fraction per episode, {n_mazes} stored 9×9 mazes")
    print("| variant | " + " | ".join(f"ep {e}" for e in range(1, 9)) + " |")
    print("|---|" + "---|" * 8)
    print(table("released genotype", meta_test(agent, lt, g, mazes, key)))
    print(table("plasticity off (κ = 0)", meta_test(replace(agent, kappa_mod=0.0), lt, g, mazes, key)))
    print(table("metagym-0.2 sign", meta_test(agent, Lifetime(env=MazeEnv(obs_sign=-1.0)), g, mazes, key)))
    # fast weights after the lifetime: how large did the plastic weights grow?
    one = jax.jit(lambda m, k: run_lifetime(agent, lt, g, m, k, with_state=True))
    _, state = one(jax.tree.map(lambda a: jnp.asarray(a[0]), mazes), key)
    w_h, w_x = agent.weights(g, state)
    print(f"after 8 episodes in maze 0: |W_h| max {float(jnp.abs(w_h).max()):.3f}, "
          f"|W_x| max {float(jnp.abs(w_x).max()):.3f} (both start at 0)")


if __name__ == "__main__":
    main()
