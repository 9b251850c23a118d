"""The k-bit-address multiplexer (spec team_rules.md §11.1, [ref]).

``n = k + 2^k`` inputs, i.i.d. fair bits ``z ∈ {0,1}`` presented as ``x = 2z − 1``. The first
``k`` bits are an address, most significant first, ``idx = Σ_m z_m 2^{k−1−m}``; the target is
data bit ``z_{k+idx}`` as ±1. Reward +1 for the correct action in {−1, +1}, −1 otherwise, so a
random policy has mean reward 0 and ``accuracy = (mean reward + 1)/2``.
"""

from __future__ import annotations

import jax.numpy as jnp

from plastix.random import Sampler
from plastix.tasks._base import Task

VALID_BITS = tuple(k + 2**k for k in range(1, 7))  # 3, 6, 11, 20, 37, 70


def address_bits(bits: int) -> int:
    """``k`` with ``bits = k + 2^k``; ``ValueError`` naming the allowed sizes otherwise."""
    for k in range(1, 7):
        if k + 2**k == bits:
            return k
    raise ValueError(
        f"bits={bits} is not of the form k + 2^k; allowed: {', '.join(map(str, VALID_BITS))}"
    )


def multiplexer_target(z, k: int):
    """Target data bit in {0, 1} for bits ``z`` (B, k + 2^k) of {0, 1}."""
    weights = 2 ** jnp.arange(k - 1, -1, -1)
    idx = jnp.sum(z[:, :k].astype(jnp.int32) * weights[None, :], axis=1)  # (B,)
    return jnp.take_along_axis(z[:, k:], idx[:, None], axis=1)[:, 0]


def multiplexer(bits: int = 20) -> Task:
    """The ``bits``-input multiplexer task (6, 11, 20, 37 … inputs)."""
    k = address_bits(bits)

    def sample(key, batch: int, sampler: Sampler, dtype=jnp.float32):
        z = sampler.bernoulli(key, jnp.full((batch, bits), 0.5, dtype))  # (B, n) bool
        x = 2 * z.astype(dtype) - 1
        y = 2 * multiplexer_target(z, k).astype(dtype) - 1  # (B,) ±1
        return x, y

    def reward(action, y):
        return jnp.where(action == y, 1.0, -1.0).astype(y.dtype)

    def metrics(action, y, r):
        return {"reward": jnp.mean(r), "accuracy": jnp.mean((r + 1) / 2)}

    return Task(f"multiplexer{bits}", bits, "sign", 1, sample, reward, metrics, "bernoulli")
