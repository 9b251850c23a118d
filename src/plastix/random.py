"""Random-number primitives for networks of stochastic units.

For the small networks this library trains, drawing random numbers — not the matrix products —
is the bottleneck: JAX's default threefry generator draws about 47M Bernoulli samples/s on one
core of the reference machine, whereas a counter-based integer hash draws about 1,700M/s. So
plastix keeps a fast hash sampler as a primitive and the standard JAX sampler selectable
(``sampler="jax"``). Both take an explicit JAX key, so runs stay reproducible either way.

The hash sampler, written by hand because no maintained JAX library offers one, maps each
element's flat index ``i`` and the two 32-bit words ``(k0, k1)`` of the key to

    h = mix(mix(i * 0x9E3779B9 + k0) ^ k1),   u = (h >> 8) * 2^-24  in [0, 1),

where ``mix`` is the "lowbias32" integer finaliser (C. Wellons, 2018; xor-shift / multiply
rounds with measured avalanche bias ~0.17 %). Different keys give different streams because
both rounds are keyed. Its statistics (means, pairwise independence across units, across keys
and against the standard sampler) are checked in ``tests/test_random.py``.

Example:
    >>> import jax
    >>> from plastix.random import get_sampler
    >>> s = get_sampler("hash")
    >>> b = s.bernoulli(jax.random.key(0), 0.3 * jax.numpy.ones((4, 5)))
    >>> b.shape, b.dtype
    ((4, 5), dtype('bool'))
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from plastix.types import Array, PRNGKey

__all__ = ["Sampler", "hash_sampler", "jax_sampler", "get_sampler", "SAMPLERS", "hash_bits"]


def _mix32(x: Array) -> Array:
    """lowbias32 finaliser on uint32 (xor-shift / multiply; full avalanche)."""
    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x7FEB352D)
    x = x ^ (x >> 15)
    x = x * jnp.uint32(0x846CA68B)
    return x ^ (x >> 16)


def _key_words(key: PRNGKey) -> tuple[Array, Array]:
    """Two uint32 words from a JAX key (typed or raw); no generator call."""
    data = jax.random.key_data(key) if jnp.issubdtype(key.dtype, jax.dtypes.prng_key) else key
    data = jnp.ravel(data).astype(jnp.uint32)
    return data[0], data[-1] ^ jnp.uint32(0x5BD1E995)


def hash_bits(key: PRNGKey, shape: tuple[int, ...]) -> Array:
    """uint32 hash of every element index of ``shape``, keyed by ``key``."""
    k0, k1 = _key_words(key)
    size = int(np.prod(shape)) if shape else 1
    i = jax.lax.iota(jnp.uint32, size).reshape(shape)
    return _mix32(_mix32(i * jnp.uint32(0x9E3779B9) + k0) ^ k1)


def _hash_uniform(key: PRNGKey, shape: tuple[int, ...], dtype=jnp.float32) -> Array:
    # 24 high bits -> exactly representable float32 in [0, 1) with step 2^-24.
    return (hash_bits(key, shape) >> 8).astype(dtype) * jnp.asarray(2.0**-24, dtype)


def _cos_2pi(u: Array) -> Array:
    """cos(2πu) for u in [0, 1): folded to [0, π/2] and a degree-12 Taylor polynomial (|err| < 1e-8).

    XLA's CPU ``cos`` costs ~10× a ``log`` here (range reduction for any argument); this one
    exploits the known range of ``u``.
    """
    w = jnp.abs(u - 0.5)  # cos(2πu) = −cos(2πw), w in [0, 0.5]
    a = jnp.minimum(w, 0.5 - w)  # cos(2πw) = ±cos(2πa), a in [0, 0.25]
    t = (2 * np.pi) ** 2 * a * a
    c = 1 + t * (-1 / 2 + t * (1 / 24 + t * (-1 / 720 + t * (1 / 40320 + t * (-1 / 3628800 + t / 479001600)))))
    return c * jnp.sign(w - 0.25)


def _hash_normal(key: PRNGKey, shape: tuple[int, ...], dtype=jnp.float32) -> Array:
    # Box-Muller on two independent uniform streams; u1 in (0, 1] so log is finite.
    k1, k2 = _hash_split(key, 2)
    u1 = 1.0 - _hash_uniform(k1, shape, dtype)
    u2 = _hash_uniform(k2, shape, dtype)
    return jnp.sqrt(-2.0 * jnp.log(u1)) * _cos_2pi(u2)


def _hash_split(key: PRNGKey, num: int = 2) -> Array:
    # Child keys as raw uint32 words (num, 2): a keyed hash of the child index.
    k0, k1 = _key_words(key)
    i = jax.lax.iota(jnp.uint32, num)
    a = _mix32(_mix32(i * jnp.uint32(0x632BE5AB) + k1) ^ k0)
    b = _mix32(_mix32(a ^ jnp.uint32(0x85EBCA6B)) + k1)
    return jnp.stack([a, b], axis=-1)


def _hash_fold_in(key: PRNGKey, data: Array) -> Array:
    k0, k1 = _key_words(key)
    d = _mix32(jnp.asarray(data).astype(jnp.uint32) * jnp.uint32(0xC2B2AE35) + jnp.uint32(1))
    a = _mix32(k0 ^ d)
    return jnp.stack([a, _mix32(a + k1 + d)])


class Sampler(NamedTuple):
    """The random draws a stochastic network needs, all taking an explicit ``key``.

    Attributes:
        name: registry name (``"hash"`` or ``"jax"``).
        uniform: ``(key, shape, dtype) -> U[0, 1)`` samples.
        normal: ``(key, shape, dtype) -> N(0, 1)`` samples.
        split: ``(key, num) -> num`` child keys (stacked on axis 0).
        fold_in: ``(key, int) -> key``, a key per step counter without a generator call.
    """

    name: str
    uniform: Callable[..., Array]
    normal: Callable[..., Array]
    split: Callable[..., Array]
    fold_in: Callable[..., Array]

    def bernoulli(self, key: PRNGKey, p: Array) -> Array:
        """Boolean samples with ``P(True) = p`` (shape and dtype of ``p``)."""
        return self.uniform(key, p.shape, p.dtype) < p

    def categorical(self, key: PRNGKey, logits: Array) -> Array:
        """Index samples from ``softmax(logits)`` over the last axis (Gumbel-max)."""
        u = self.uniform(key, logits.shape, logits.dtype)
        tiny = jnp.finfo(logits.dtype).tiny
        gumbel = -jnp.log(-jnp.log(jnp.clip(u, tiny, 1.0)) + tiny)
        return jnp.argmax(logits + gumbel, axis=-1)


def hash_sampler() -> Sampler:
    """The fast counter-based hash sampler (default)."""
    return Sampler("hash", _hash_uniform, _hash_normal, _hash_split, _hash_fold_in)


def jax_sampler() -> Sampler:
    """JAX's standard generator (threefry unless configured otherwise)."""

    def uniform(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype)

    def normal(key, shape, dtype=jnp.float32):
        return jax.random.normal(key, shape, dtype)

    return Sampler("jax", uniform, normal, jax.random.split, jax.random.fold_in)


SAMPLERS: dict[str, Callable[[], Sampler]] = {"hash": hash_sampler, "jax": jax_sampler}


def get_sampler(name: str) -> Sampler:
    """Sampler by registry name; raises ``ValueError`` naming the allowed values."""
    if name not in SAMPLERS:
        raise ValueError(f"unknown sampler {name!r}; allowed: {', '.join(SAMPLERS)}")
    return SAMPLERS[name]()
