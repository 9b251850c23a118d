"""Decorrelated feed-forward networks (COPI, spec copi.md §2).

Each layer l first decorrelates its input with a square matrix ``R_l`` (initialised to the
identity; one per layer input, the pixels included), then applies the forward weights ``W_l``
(no bias, Xavier-normal init) and, below the top, a leaky ReLU::

    x_l = R_l y_{l−1}      a_l = W_l x_l      y_l = f(a_l)   (l < L)      output = a_L

The output is read *before* the nonlinearity. Batch form (rows = samples): ``X_l = Y_{l−1} R_lᵀ``,
``A_l = X_l W_lᵀ``. A network without decorrelation (``R ≡ I``, the BP + Adam baseline) stores
``R = None`` and skips the product.

The trace of a forward pass holds, per layer, the decorrelated input ``x`` and the pre-activation
``a`` — the local quantities the COPI rules read (:mod:`plastix.rules.copi`).
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import jax
import jax.numpy as jnp

from plastix.types import Array


class CopiTrace(NamedTuple):
    x: Array  # (N, d_in) decorrelated layer input
    a: Array  # (N, d_out) pre-activation


def leaky_relu(a: Array, slope: float = 0.1) -> Array:
    return jnp.where(a > 0, a, slope * a)


def leaky_relu_grad(a: Array, slope: float = 0.1) -> Array:
    """f′(a): 1 for a > 0, ``slope`` otherwise (f′(0) = slope, spec §2 [choice])."""
    return jnp.where(a > 0, jnp.ones_like(a), jnp.full_like(a, slope))


def xavier_normal(key: Array, d_out: int, d_in: int, dtype=jnp.float32) -> Array:
    """N(0, 2/(d_in + d_out)) entries, shape (d_out, d_in)."""
    return jax.random.normal(key, (d_out, d_in), dtype) * jnp.sqrt(jnp.asarray(2.0 / (d_in + d_out), dtype))


def init_decorrelated(key: Array, sizes: Sequence[int], decorrelate: bool = True, dtype=jnp.float32) -> dict:
    """``{"W": (W_1 … W_L), "R": (R_1 … R_L) or None}`` for layer sizes ``(d_0, d_1, …, d_L)``."""
    sizes = tuple(sizes)
    keys = jax.random.split(key, len(sizes) - 1)
    Ws = tuple(xavier_normal(k, o, i, dtype) for k, i, o in zip(keys, sizes[:-1], sizes[1:]))
    Rs = tuple(jnp.eye(d, dtype=dtype) for d in sizes[:-1]) if decorrelate else None
    return {"W": Ws, "R": Rs}


def init_feedback(key: Array, sizes: Sequence[int], dtype=jnp.float32) -> tuple[Array, ...]:
    """Fixed random feedback matrices for feedback alignment: ``B_{l+1}`` ∈ R^{d_l×d_{l+1}}, Xavier-normal,
    for l = 1 … L−1 (one per hidden layer)."""
    sizes = tuple(sizes)
    keys = jax.random.split(key, max(len(sizes) - 2, 1))
    return tuple(xavier_normal(k, sizes[l], sizes[l + 1], dtype) for k, l in zip(keys, range(1, len(sizes) - 1)))


def forward(params: dict, y0: Array, slope: float = 0.1) -> tuple[Array, tuple[CopiTrace, ...]]:
    """``(a_L, trace)`` for a batch ``y0`` of shape (N, d_0)."""
    Ws, Rs = params["W"], params["R"]
    trace = []
    y = y0
    for l, W in enumerate(Ws):
        x = y if Rs is None else y @ Rs[l].T
        a = x @ W.T
        trace.append(CopiTrace(x, a))
        y = leaky_relu(a, slope)
    return trace[-1].a, tuple(trace)


def predict(params: dict, y0: Array, slope: float = 0.1) -> Array:
    """The network output ``a_L`` (no perturbation, no trace kept)."""
    return forward(params, y0, slope)[0]
