"""Accumulating eligibility traces for any rule that is linear in its signal (actor–critic).

With a TD error ``δ_t`` as the broadcast signal, a unit's update is its *trace* times ``δ_t``,
where the trace accumulates the per-step eligibility with decay ``κ = γλ`` (spec
``team_rules.md`` §3.2, §6, §8.3):

    z ← κ z + g_t(1),        grads = z · δ_t

``g_t(1)`` is the rule's own update for a unit signal. This is exact for every rule whose
update is linear in the signal — REINFORCE (every unit type, Boltzmann and recurrent layers),
UWM, STE, backprop, ungated MAP propagation — because then ``g_t(δ) = δ·g_t(1)``. Weight
Maximization is not linear (its hidden rewards read the weights *after* the δ-dependent step) and
keeps its own per-layer traces (``weight_max(trace_decay=…)``). The trace is kept per run, so the
signal must be one scalar per step (batch 1, the reference's RL setting). Traces are local: each
parameter's trace reads only its own eligibility. :func:`reset_traces` zeroes them at episode
starts.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from plastix.rules._base import Rule


class TracedState(NamedTuple):
    inner: Any  # the wrapped rule's state
    traces: Any  # like params: the accumulated loss-convention eligibility per unit signal


def with_traces(rule: Rule, decay: float) -> Rule:
    """Wrap a signal-linear ``rule`` with accumulating traces of decay ``κ = decay`` (batch 1).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from plastix.nets import stochastic_mlp
        >>> from plastix.random import hash_sampler
        >>> from plastix.rules import reinforce, with_traces
        >>> net = stochastic_mlp(4, (8,), 2, output="softmax")
        >>> params = net.init(jax.random.key(0))
        >>> rule = with_traces(reinforce(), decay=0.98 * 0.8)
        >>> out, trace = net.sample(params, jnp.ones((1, 4)), jax.random.key(1), hash_sampler())
        >>> grads, state = rule.update(trace, jnp.array([0.5]), rule.init(params), params)
        >>> grads[0]["W"].shape
        (4, 8)
    """
    if not 0 <= decay <= 1:
        raise ValueError(f"trace decay must be in [0, 1], got {decay}")

    def init(params) -> TracedState:
        return TracedState(rule.init(params), jax.tree.map(jnp.zeros_like, params))

    def update(trace, signal, state: TracedState, params):
        if signal.shape != (1,):
            raise ValueError(f"traces need one signal per step (batch 1), got shape {signal.shape}")
        unit, inner = rule.update(trace, jnp.ones_like(signal), state.inner, params)
        z = jax.tree.map(lambda z, g: decay * z + g, state.traces, unit)
        return jax.tree.map(lambda z: z * signal[0], z), TracedState(inner, z)

    return Rule(init, update, rule.wants_target)


def reset_traces(state):
    """Zero the eligibility traces of a rule state with a ``traces`` field; other states are returned as they are."""
    if not hasattr(state, "traces"):
        return state
    return state._replace(traces=jax.tree.map(jnp.zeros_like, state.traces))
