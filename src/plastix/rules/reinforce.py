"""REINFORCE with independent exploration: every unit is an agent with the global reward.

Williams (1992), *Simple statistical gradient-following algorithms for connectionist
reinforcement learning*; as the team baseline in Chung (2021, 2022), spec team_rules.md §5.

Every stochastic unit applies REINFORCE to its own incoming weights, reading only its trace
(input ``x``, eligibility ``v = ∂ log P(h|x)/∂u``) and the broadcast signal:

    ΔW_l ∝ mean_b[(R − β)·x_l ⊗ v_l],   Δb_l ∝ mean_b[(R − β)·v_l]        for l = 1..L

The rule is unbiased — ``E[(R − β) x ⊗ v] = ∂E[R]/∂W`` for any baseline ``β`` that does not
depend on the sampled units — and local. Its variance grows with the number of units.
"""

from __future__ import annotations

from typing import NamedTuple


from plastix.rules._base import Rule, score_grads
from plastix.rules._baseline import BaselineState, make_baseline


class ReinforceState(NamedTuple):
    baseline: BaselineState  # running/learned reward baseline (see plastix.rules._baseline)


def reinforce(baseline: str = "none", baseline_rate: float = 0.01, critic_lr: float = 1e-3) -> Rule:
    r"""REINFORCE for every unit of a stochastic network (local).

    .. math::
        g^W_l = -\frac{1}{B}\sum_b (R_b - \beta)\, x_{l,b} \otimes v_{l,b}, \qquad
        g^b_l = -\frac{1}{B}\sum_b (R_b - \beta)\, v_{l,b}

    (loss convention: the optimizer *descends* ``g``, i.e. ascends the expected reward).

    Args:
        baseline: ``"none"`` (reference configs), ``"ema"`` (running mean of the reward) or
            ``"critic"`` (a small MLP ``b(x)`` regressed on ``R``).
        baseline_rate: rate of the ``ema`` baseline.
        critic_lr: Adam step size of the ``critic`` baseline.

    Returns:
        A :class:`~plastix.rules.Rule`.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from plastix.nets import stochastic_mlp
        >>> from plastix.random import hash_sampler
        >>> from plastix.rules import reinforce
        >>> net = stochastic_mlp(6, (4,))
        >>> params = net.init(jax.random.key(0))
        >>> rule = reinforce()
        >>> state = rule.init(params)
        >>> out, trace = net.sample(params, jnp.ones((8, 6)), jax.random.key(1), hash_sampler())
        >>> grads, state = rule.update(trace, jnp.ones(8), state, params)
        >>> jax.tree.map(jnp.shape, grads)[0]["W"]
        (6, 4)

    References:
        R. J. Williams, Machine Learning 8 (1992).
    """
    base_init, centre = make_baseline(baseline, baseline_rate, critic_lr)

    def init(params) -> ReinforceState:
        return ReinforceState(base_init(params))

    def update(trace, signal, state: ReinforceState, params):
        centred, bstate = centre(state.baseline, trace[0].x, signal)  # R − β, (B,)
        grads = tuple(score_grads(layer, centred) for layer in trace)
        return grads, ReinforceState(bstate)

    return Rule(init, update)
