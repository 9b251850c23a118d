"""Critics for actor–critic learning with team rules (spec ``team_rules.md`` §3.3).

A :class:`Critic` is pure functions over its params:

* ``init(key) -> params``;
* ``value(params, obs, key) -> V(s)`` (a scalar);
* ``value_and_eligibility(params, obs, key) -> (V(s), G)``: ``G`` has the structure of params and
  is the *ascent* direction per unit TD error; the trainer accumulates ``e ← γλ e + G`` and
  steps ``θ ← θ + opt(e·δ)``.

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
    value: Callable  # (params, obs (n_obs,), key) -> () V(s)
    value_and_eligibility: Callable  # (params, obs, key) -> ((), G like params)
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

    def value(params, obs, key=None):
        return _mlp_value(params, obs)

    def value_and_eligibility(params, obs, key=None):
        return jax.value_and_grad(_mlp_value)(params, obs)

    return Critic(init, value, value_and_eligibility, local=False)


def map_prop_critic(n_obs: int, hidden: tuple[int, ...], sigma2: tuple[float, ...], sampler: Sampler,
                    steps: int = 20, update_adj: float = 0.5) -> Critic:
    """Gaussian MAP-prop value network with the output gate (local) [ref P4].

    Args:
        sigma2: variances of the hidden layers and the output (one per layer).
        steps, update_adj: the minimisation (reference 20 steps of ``0.5σ²``).
    """
    net = stochastic_mlp(n_obs, tuple(hidden), 1, unit="gaussian", output="gaussian", sigma2=tuple(sigma2),
                         bias_init="zeros")

    def init(key):
        return net.init(key)

    def value(params, obs, key):
        _, trace = net.sample(params, obs[None], key, sampler)
        return trace[-1].mean[0, 0]

    def value_and_eligibility(params, obs, key):
        _, trace = net.sample(params, obs[None], key, sampler)
        v = trace[-1].mean[0, 0]  # the forward-sample mean μ_V(s): what δ uses (§3.3)
        settled = minimise(net, params, obs[None], tuple(t.h for t in trace), steps, update_adj)
        gated, _ = gate(settled, jnp.zeros(1))
        G = tuple({"W": t.x[0][:, None] * t.v[0][None, :], "b": t.v[0]} for t in gated)
        return v, G

    return Critic(init, value, value_and_eligibility, local=True)


CRITICS = ("td", "map_prop")
