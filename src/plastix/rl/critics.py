"""Critics for actor–critic learning with team rules (spec ``team_rules.md`` §3.3).

A :class:`Critic` is pure functions over its params:

* ``init(key) -> params``;
* ``sample(params, obs, key) -> (V(s), carry)``: the value of a state and what the critic keeps
  of it for the step that learns from that state (the MAP-prop critic: its forward sample);
* ``value_and_eligibility(params, obs, key, carry) -> (V(s), G)``: ``G`` has the structure of
  params and is the *ascent* direction per unit TD error; the trainer accumulates
  ``e ← γλ e + G`` and steps ``θ ← θ + opt(e·δ)``.

Each step samples the critic once, at ``s_{t+1}``: that sample gives ``V(s_{t+1})`` for ``δ_t``
and is carried to step ``t+1``, where it is ``V(s_{t+1})`` again (``−V(s_t)`` of ``δ_{t+1}``) and
the sample the critic learns from — as the MAP-prop reference does, so both TD terms of a
state use the same noise (and the same, one-step-old, weights).

Two critics, both from the reference code:

* :func:`td_critic` — a deterministic softplus MLP with a linear output trained by semi-gradient
  TD(λ); ``G = ∇_θ V(s)`` is computed by **backprop (non-local)**, as in the WM reference.
* :func:`map_prop_critic` — a Gaussian MAP-propagation network (local): the value is the output
  mean of the forward sample (hidden layers sampled with noise); ``G`` is the gated eligibility
  of every layer after the energy minimisation (§8.5), so the output layer receives the exact
  semi-gradient TD update and the hidden layers REINFORCE with effective reward ``δ/(y − μ_V)``.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from plastix.nets import glorot_init, stochastic_mlp
from plastix.random import Sampler
from plastix.rules.map_prop import gate, minimise
from plastix.types import Array


class Critic(NamedTuple):
    init: Callable  # key -> params
    sample: Callable  # (params, obs (n_obs,), key) -> (() V(s), carry)
    value_and_eligibility: Callable  # (params, obs, key, carry) -> ((), G like params)
    local: bool  # False if G needs backprop


def _mlp_value(params, obs: Array) -> Array:
    h = obs
    for layer in params[:-1]:
        h = jax.nn.softplus(h @ layer["W"] + layer["b"])
    return (h @ params[-1]["W"] + params[-1]["b"])[0]


def td_critic(n_obs: int, hidden: tuple[int, ...] = (64, 32), bias_init: str = "uniform") -> Critic:
    """Deterministic softplus MLP ``V(s)``, semi-gradient TD(λ) by backprop (non-local) [ref WM].

    Initialised like the actor: Glorot-uniform ``W``, biases ``U(±1e−3)`` (or zero).
    """
    sizes = (n_obs,) + tuple(hidden) + (1,)

    def init(key):
        keys = jax.random.split(key, len(sizes) - 1)
        return tuple(glorot_init(k, a, b, bias_init) for k, a, b in zip(keys, sizes[:-1], sizes[1:]))  # type: ignore[arg-type]

    def sample(params, obs, key=None):
        v = _mlp_value(params, obs)
        return v, v

    def value_and_eligibility(params, obs, key=None, carry=()):
        return jax.value_and_grad(_mlp_value)(params, obs)  # V(s) with the current weights

    return Critic(init, sample, value_and_eligibility, local=False)


def map_prop_critic(n_obs: int, hidden: tuple[int, ...], sigma2: tuple[float, ...], sampler: Sampler,
                    steps: int = 20, update_adj: float = 0.5, descent: str = "fixed", link: str = "softplus") -> Critic:
    """Gaussian MAP-prop value network with the output gate (local) [ref P4].

    Args:
        sigma2: variances of the hidden layers and the output (one per layer).
        steps, update_adj: the minimisation (reference 20 steps of ``0.5σ²``).
        descent, link: :func:`~plastix.rules.map_prop.minimise`'s descent and the hidden link
            (reference: ``"fixed"``, ``"softplus"``).
    """
    net = stochastic_mlp(n_obs, tuple(hidden), 1, unit="gaussian", output="gaussian", sigma2=tuple(sigma2),
                         bias_init="zeros", link=link)

    def init(key):
        return net.init(key)

    def sample(params, obs, key):
        _, trace = net.sample(params, obs[None], key, sampler)
        v = trace[-1].mean[0, 0]  # μ_V(s) of the forward sample (§3.3)
        return v, (v, tuple(t.h for t in trace))

    def value_and_eligibility(params, obs, key, carry):
        v, hs = carry  # the forward sample of this state, drawn (and valued) one step ago
        settled = minimise(net, params, obs[None], hs, steps, update_adj, descent=descent)
        gated, _ = gate(settled, jnp.zeros(1))
        G = tuple({"W": t.x[0][:, None] * t.v[0][None, :], "b": t.v[0]} for t in gated)
        return v, G

    return Critic(init, sample, value_and_eligibility, local=True)


CRITICS = ("td", "map_prop")
