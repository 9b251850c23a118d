"""Straight-through estimator (STE) backprop for networks of Bernoulli units. NON-LOCAL.

The baseline named by Chung (2023, *Structural Credit Assignment with Coordinated
Exploration*); the WM reference code has the same computation as a disabled "backprop" mode
(spec team_rules.md §10). Forward: sample every hidden unit normally. Backward: treat each sample
as if it were its mean:

    d_L = v_L                                   (output eligibility, e.g. (A − π)/τ)
    d_l = s(u_l) ⊙ (d_{l+1} W_{l+1}ᵀ)            for l = L−1 … 1
    ΔW_l ∝ mean_b[(R − β) h_{l−1} ⊗ d_l],   Δb_l ∝ mean_b[(R − β) d_l]

Surrogate derivative ``s``: ``"sigmoid"`` (default) is the derivative of the unit's mean,
``σ'(u/τ)/τ`` for {0,1} units and ``2σ'(u/τ)/τ`` for ±1 units; ``"identity"`` is ``s ≡ 1``;
``"reference"`` is the WM code's ``σ'(u/τ)`` without the ``1/τ`` [parity]. The output layer is
plain REINFORCE. Backpropagating ``d`` through ``W_{l+1}ᵀ`` reads the error of every unit above:
the rule is non-local, and biased (the sample is not its mean). Oracle O9 checks this explicit
recursion against autodiff of ``log π(A | h)`` with ``h = p + stop_gradient(h_sample − p)``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax

from plastix.nets import Bernoulli, Network
from plastix.rules._base import Rule, require_bernoulli_hidden, score_grads
from plastix.rules._baseline import BaselineState, make_baseline

SURROGATES = ("sigmoid", "identity", "reference")


class STEState(NamedTuple):
    baseline: BaselineState  # reward baseline (none by default)


def surrogate_derivative(layer: Bernoulli, u, kind: str):
    s = jax.nn.sigmoid(u / layer.tau)
    ds = s * (1 - s)
    scale = 1.0 if layer.values == "01" else 2.0
    if kind == "sigmoid":
        return scale * ds / layer.tau
    if kind == "reference":
        return scale * ds
    return jax.numpy.ones_like(u)


def ste(net: Network, surrogate: str = "sigmoid", baseline: str = "none", baseline_rate: float = 0.01,
        critic_lr: float = 1e-3) -> Rule:
    r"""Straight-through backprop through sampled Bernoulli hidden units (non-local).

    .. math:: d_l = s(u_l) \odot (d_{l+1} W_{l+1}^\top), \qquad d_L = v_L

    Args:
        net: the network; hidden layers must be Bernoulli.
        surrogate: ``"sigmoid"`` (default), ``"identity"`` or ``"reference"`` (parity: no 1/τ).
        baseline, baseline_rate, critic_lr: as for :func:`~plastix.rules.reinforce`.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from plastix.nets import stochastic_mlp
        >>> from plastix.random import hash_sampler
        >>> from plastix.rules import ste
        >>> net = stochastic_mlp(6, (4,))
        >>> params = net.init(jax.random.key(0))
        >>> rule = ste(net)
        >>> out, trace = net.sample(params, jnp.ones((5, 6)), jax.random.key(1), hash_sampler())
        >>> rule.update(trace, jnp.ones(5), rule.init(params), params)[0][0]["W"].shape
        (6, 4)
    """
    if surrogate not in SURROGATES:
        raise ValueError(f"unknown surrogate {surrogate!r}; allowed: {', '.join(SURROGATES)}")
    require_bernoulli_hidden(net, "ste")
    base_init, centre = make_baseline(baseline, baseline_rate, critic_lr)

    def init(params) -> STEState:
        return STEState(base_init(params))

    def update(trace, signal, state: STEState, params):
        centred, bstate = centre(state.baseline, trace[0].x, signal)
        n = len(trace)
        grads = [None] * n
        d = trace[-1].v  # d_L (B, n_L)
        for l in range(n - 1, -1, -1):
            grads[l] = score_grads(trace[l]._replace(v=d), centred)
            if l > 0:
                below = trace[l - 1]
                d = surrogate_derivative(net.layers[l - 1], below.u, surrogate) * (d @ params[l]["W"].T)
        return tuple(grads), STEState(bstate)

    return Rule(init, update)
