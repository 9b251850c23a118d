"""Scalar regression against a fixed random 2-layer ReLU teacher (spec team_rules.md §11.1, P4).

``x ~ N(0, I_d)``, ``y = relu(relu(x A_1) A_2)`` with ``A_1 ∈ R^{d×d}``, ``A_2 ∈ R^{d×1}`` i.i.d.
N(0, 1), drawn once from NumPy's generator with ``teacher_seed`` (the reference stores its own
draw in a file, so absolute numbers differ from it). Note the ReLU on the output: ``y ≥ 0``.
The logged reward is ``−(ŷ − y)²`` with ``ŷ`` the sampled output.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from plastix.random import Sampler
from plastix.tasks._base import Task


def regression(dim: int = 8, teacher_seed: int = 0) -> Task:
    """The ``dim``-dimensional teacher regression task."""
    if dim < 1:
        raise ValueError(f"dim={dim} must be ≥ 1")
    rng = np.random.default_rng(teacher_seed)
    A1 = rng.standard_normal((dim, dim))
    A2 = rng.standard_normal((dim, 1))

    def sample(key, batch: int, sampler: Sampler, dtype=jnp.float32):
        x = sampler.normal(key, (batch, dim), dtype)
        h = jnp.maximum(x @ jnp.asarray(A1, dtype), 0)
        return x, jnp.maximum(h @ jnp.asarray(A2, dtype), 0)[:, 0]

    def reward(action, y):
        return -((action - y) ** 2)

    def metrics(action, y, r):
        return {"reward": jnp.mean(r), "mse": -jnp.mean(r)}

    return Task(f"regression{dim}", dim, "real", 1, sample, reward, metrics, "gaussian")
