"""Actor–critic with a team of stochastic units, from the Python API (no CLI, no run directory).

Trains the WM reference CartPole config (Weight Maximization actor, TD(λ) critic) for several
seeds as one vmapped ``lax.scan`` and prints the papers' metric, the mean return over all training
episodes, for each seed and for a second rule on the same protocol.

    python examples/actor_critic.py                 # 2 rules × 3 seeds × 300 episodes, ~1 min
    python examples/actor_critic.py --quick         # a smoke run
"""

from __future__ import annotations

import argparse
import dataclasses

import jax
import numpy as np

from plastix.experiments import EXPERIMENTS
from plastix.rl import make_rl_train
from plastix.runtime import configure


def train(cfg, chunk: int = 5_000) -> np.ndarray:
    """Returns (seeds, episodes) episode returns; the scan runs until every seed has its episodes."""
    trainer = make_rl_train(cfg)
    state = jax.jit(jax.vmap(trainer.init))(jax.random.split(jax.random.key(cfg.seed), cfg.seeds))
    run = jax.jit(jax.vmap(trainer.run, in_axes=(0, None)), static_argnums=1)
    while (np.asarray(state.episode) < cfg.episodes).any():
        state = run(state, chunk)
    return np.asarray(state.returns)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=300)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    configure()
    episodes, seeds = (5, 2) if args.quick else (args.episodes, args.seeds)
    base = EXPERIMENTS["weight-max/cartpole"].config  # the reference `cp` config
    for rule in ("weight_max",) if args.quick else ("weight_max", "reinforce"):
        cfg = dataclasses.replace(base, rule=rule, episodes=episodes, seeds=seeds)
        returns = train(cfg, chunk=500 if args.quick else 5_000)
        per_seed = returns.mean(1)
        print(f"{rule:>11}: mean return over {episodes} episodes {per_seed.mean():.1f} ({per_seed.std():.1f}); "
              f"per seed {np.round(per_seed, 1).tolist()}")


if __name__ == "__main__":
    main()
