"""The k-bit parity task: a user-style task registered beside the multiplexer.

``k`` i.i.d. fair bits ``z ∈ {0,1}`` presented as ``x = 2z − 1``; the target is +1 when an odd
number of bits are +1, −1 otherwise. Reward +1 for the correct action in {−1, +1}, −1 otherwise,
so a random policy has mean reward 0 and ``accuracy = (mean reward + 1)/2`` (as the multiplexer).
Parity is the classic hard case for credit assignment: no single input bit carries information
about the target, every bit matters, and flipping any one bit flips the answer.
"""

from __future__ import annotations

import jax.numpy as jnp

from plastix.random import Sampler
from plastix.tasks._base import Task

MAX_BITS = 64  # inputs beyond this are not a parity benchmark anyone runs; bounds the int count


def parity(bits: int = 6) -> Task:
    """The ``bits``-input parity task (``ValueError`` for ``bits`` outside 1…64)."""
    if not 1 <= bits <= MAX_BITS:
        raise ValueError(f"bits={bits}: parity takes 1…{MAX_BITS} input bits")

    def sample(key, batch: int, sampler: Sampler, dtype=jnp.float32):
        z = sampler.bernoulli(key, jnp.full((batch, bits), 0.5, dtype))  # (B, n) bool
        x = 2 * z.astype(dtype) - 1
        odd = jnp.sum(z.astype(jnp.int32), axis=1) % 2  # (B,) 1 when an odd number of bits are on
        return x, (2 * odd - 1).astype(dtype)

    def reward(action, y):
        return jnp.where(action == y, 1.0, -1.0).astype(y.dtype)

    def metrics(action, y, r):
        return {"reward": jnp.mean(r), "accuracy": jnp.mean((r + 1) / 2)}

    return Task(f"parity{bits}", bits, "sign", 1, sample, reward, metrics, "bernoulli")
