"""The rule contract shared by every learning rule.

A rule is a pair of pure functions built by a factory (optax style):

* ``init(params) -> state``
* ``update(trace, signal, state, params) -> (grads, state)``

``trace`` is the network's tuple of :class:`~plastix.nets.LayerTrace`; ``signal`` is the
broadcast quantity, shape (B,): a reward, a TD error. ``grads`` has the structure of ``params``
and is in *loss convention* (the direction to descend), so any optax optimizer applies it.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax.numpy as jnp

from plastix.nets import Bernoulli, LayerTrace, Network
from plastix.types import Array


class Rule(NamedTuple):
    """A learning rule: ``init(params) -> state``; ``update(trace, signal, state, params)``."""

    init: Callable[[Any], Any]
    update: Callable[..., tuple[Any, Any]]
    wants_target: bool = False  # True: the signal is the task's target, not its reward (gated MAP-prop)


def score_grads(layer: LayerTrace, signal: Array) -> dict:
    """Loss-convention gradient of one layer: ``−mean_b[(x ⊗ v)·signal]`` and ``−mean_b[v·signal]``.

    Lateral layers (``layer.lateral`` set) also get ``U``: ``−mean_b[lateral·signal]``. A trace with
    per-sample eligibilities (``layer.elig``, outer-product factor pairs) gets ``−mean_b[elig·signal]`` for
    each of its parameters.

    Args:
        layer: the layer's trace; ``layer.v`` (B, n) is the unit eligibility.
        signal: (B,) or (B, n) per-sample (or per-unit) reward.
    """
    if layer.elig is not None:  # a per-sample eligibility of every parameter (joint networks)
        if signal.ndim != 1:
            raise ValueError("whole-trajectory eligibilities take one global signal per sample, shape (B,)")
        batch = signal.shape[0]

        def contract(parts):  # Σ_b signal_b Σ_parts (left_b ⊗ right_b), one product per factor pair
            if isinstance(parts[0], tuple):
                return sum(left.T @ (right * signal[:, None]) for left, right in parts)
            return sum(signal @ v for v in parts)

        return {k: -contract(parts) / batch for k, parts in layer.elig.items()}
    r = signal[:, None] if signal.ndim == 1 else signal
    d = layer.v * r  # (B, n)
    batch = d.shape[0]
    grads = {"W": -(layer.x.T @ d) / batch, "b": -jnp.mean(d, axis=0)}
    if layer.lateral is not None:  # lateral weights U of Boltzmann / recurrent layers
        if signal.ndim != 1:
            raise ValueError("lateral layers take one global signal per sample, shape (B,)")
        grads["U"] = -jnp.einsum("bij,b->ij", layer.lateral, signal) / batch
    return grads


def require_bernoulli_hidden(net: Network, rule: str) -> None:
    """``ValueError`` unless every hidden layer of ``net`` is Bernoulli (rules built on flips/means)."""
    for layer in net.layers[:-1]:
        if not isinstance(layer, Bernoulli):
            raise ValueError(f"{rule} needs Bernoulli hidden units, got {type(layer).__name__}")
