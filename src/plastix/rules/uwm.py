"""Unbiased Weight Maximization — reconstructed as a counterfactual estimator [recon].

S. Chung, *Unbiased Weight Maximization* (arXiv 2307.13270). The published rule could not be
obtained (only the abstract: UWM is unbiased, learns faster than WM and scales with the number of
units). plastix implements under this name the counterfactual estimator of spec team_rules.md
§7, which is provably unbiased and in the same spirit — each hidden unit's credit is its measured
influence on its children — and is closely related to Hindsight Network Credit Assignment
(K. Young, AAAI 2022). If the published rule becomes available it will be added as a variant
and must pass the same oracle.

Rule. Hidden Bernoulli unit ``i`` of layer ``l`` (``p_i = σ(u_i/τ)``, values ``v0, v1``) compares
the probability its children gave their actual outputs ``c`` with the unit on versus off. Flipping
``h_i`` to ``v`` shifts every child's pre-activation by ``(v − h_i) W_{l+1}[i, :]``:

    log P(c | h_i=v, h_−i) − log P(c | h) = Σ_j [log P_j(c_j | u^c_j + (v − h_i) W_{l+1}[i,j]) − log P_j(c_j | u^c_j)]
    ρ_i = [P(c | h_i=v1) − P(c | h_i=v0)] / P(c | h)                       (denominator "sample")
    ρ_i = [P(c | h_i=v1) − P(c | h_i=v0)] / (p_i P(c|v1) + (1−p_i) P(c|v0))  (denominator "marginal")
    v^UWM_i = p_i (1 − p_i)/τ · ρ_i,      ΔW_l ∝ mean_b[(R − β) h_{l−1} ⊗ v^UWM_l]

The output layer keeps plain REINFORCE; every hidden layer uses the global reward and its own
child layer — nothing is passed down recursively. A unit reads only its own outgoing weights, its
children's pre-activations and outputs, and the broadcast reward: the rule is local.

Why it is unbiased (spec §7.2). Given ``h_{l−1}``, the units of layer ``l`` are independent and
``R`` depends on ``h_l`` only through ``c``. With ``f(h_l) = E[R | h_l]``,
``∂E[R|h_{l−1}]/∂u_i = p_i(1−p_i)/τ · E_{h_−i}[f(v1, h_−i) − f(v0, h_−i)]``. Given ``h_l``, the
estimator's expectation over ``c`` and everything downstream is
``p_i(1−p_i)/τ · Σ_c E[R|c] (P(c|v1,h_−i) − P(c|v0,h_−i)) = p_i(1−p_i)/τ · (f(v1,h_−i) − f(v0,h_−i))``,
which does not depend on the sampled ``h_i``; averaging over ``h_−i`` gives the gradient, and
``∂u_i/∂W[k,i] = h_{l−1,k}`` completes it. A baseline independent of ``c`` and everything
downstream is allowed, since ``E[ρ_i | h_l] = Σ_c (P(c|v1) − P(c|v0)) = 0``. The "marginal" form
replaces ``1/P(c|h)`` by its Rao–Blackwellisation over ``h_i`` and is unbiased by the same
argument (it is a function of ``h_−i`` and ``c`` only, weighted by ``P(c|h_−i)``).

Not implemented as UWM: the WM repository's removed ``unbiased`` option (per-child linearised
ratios, *summed*), which is only nearly unbiased.

Cost: ``O(n_l · n_{l+1})`` per sample and layer, like backprop; one batched outer shift.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from plastix.nets import Bernoulli, Layer, LayerTrace, Network
from plastix.rules._base import Rule, require_bernoulli_hidden, score_grads
from plastix.rules._baseline import BaselineState, make_baseline
from plastix.types import Array

DENOMINATORS = ("sample", "marginal")


class UWMState(NamedTuple):
    baseline: BaselineState  # reward baseline (none by default)


def counterfactual_log_ratios(unit: Bernoulli, child: Layer, t: LayerTrace, tc: LayerTrace, W: Array):
    """``log P(c | h_i = v) − log P(c | h)`` for v = v0 and v = v1, each (B, n_l)."""
    v0, v1 = (0.0, 1.0) if unit.values == "01" else (-1.0, 1.0)
    base = child.log_prob_u(tc.u, tc.h)[:, None]  # (B, 1)
    c = tc.h[:, None, :]  # (B, 1, n_c)

    def ratio(v):
        shift = (v - t.h)[:, :, None] * W[None, :, :]  # (B, n_l, n_c)
        return child.log_prob_u(tc.u[:, None, :] + shift, c) - base  # (B, n_l)

    return ratio(v0), ratio(v1)


def uwm_eligibility(unit: Bernoulli, child: Layer, t: LayerTrace, tc: LayerTrace, W: Array, denominator: str):
    """``v^UWM = p(1 − p)/τ · ρ`` for every unit of a hidden Bernoulli layer, (B, n_l)."""
    lr0, lr1 = counterfactual_log_ratios(unit, child, t, tc, W)
    r0, r1 = jnp.exp(lr0), jnp.exp(lr1)  # P(c | v)/P(c | h); the actual value's ratio is 1
    p = jax.nn.sigmoid(t.u / unit.tau)
    rho = (r1 - r0) if denominator == "sample" else (r1 - r0) / (p * r1 + (1 - p) * r0)
    return p * (1 - p) / unit.tau * rho


def uwm(net: Network, denominator: str = "sample", baseline: str = "none", baseline_rate: float = 0.01,
        critic_lr: float = 1e-3) -> Rule:
    r"""Unbiased Weight Maximization, reconstructed as the counterfactual estimator (local) [recon].

    .. math::
        v^{UWM}_i = \frac{p_i(1-p_i)}{\tau}\,
        \frac{P(c\mid h_i{=}v_1, h_{-i}) - P(c\mid h_i{=}v_0, h_{-i})}{P(c\mid h)}

    Args:
        net: the network (its layer types give the child distributions); hidden layers must be
            Bernoulli ({0,1} or ±1).
        denominator: ``"sample"`` (``P(c|h)``, default) or ``"marginal"`` (Rao–Blackwellised).
        baseline, baseline_rate, critic_lr: as for :func:`~plastix.rules.reinforce`.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from plastix.nets import stochastic_mlp
        >>> from plastix.random import hash_sampler
        >>> from plastix.rules import uwm
        >>> net = stochastic_mlp(6, (4, 3))
        >>> params = net.init(jax.random.key(0))
        >>> rule = uwm(net)
        >>> out, trace = net.sample(params, jnp.ones((5, 6)), jax.random.key(1), hash_sampler())
        >>> grads, _ = rule.update(trace, jnp.ones(5), rule.init(params), params)
        >>> grads[1]["W"].shape
        (4, 3)

    References:
        S. Chung, arXiv:2307.13270 (rule not available; reconstruction). K. Young, AAAI 2022.
    """
    if denominator not in DENOMINATORS:
        raise ValueError(f"unknown denominator {denominator!r}; allowed: {', '.join(DENOMINATORS)}")
    require_bernoulli_hidden(net, "uwm")
    base_init, centre = make_baseline(baseline, baseline_rate, critic_lr)

    def init(params) -> UWMState:
        return UWMState(base_init(params))

    def update(trace, signal, state: UWMState, params):
        centred, bstate = centre(state.baseline, trace[0].x, signal)
        grads = []
        for l, t in enumerate(trace):
            if l < len(trace) - 1:
                v = uwm_eligibility(net.layers[l], net.layers[l + 1], t, trace[l + 1], params[l + 1]["W"],
                                    denominator)
                t = t._replace(v=v)
            grads.append(score_grads(t, centred))
        return tuple(grads), UWMState(bstate)

    return Rule(init, update)
