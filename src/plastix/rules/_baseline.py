"""Reward baselines for one-step tasks (spec team_rules.md §3.1, [choice]).

* ``none``: the raw reward (every released configuration).
* ``ema``: ``β ← β + rate·(mean_b R − β)``, applied *after* the update, so each sample is centred
  by a value computed from earlier batches only and the estimate stays unbiased.
* ``critic``: a small MLP ``b(x)`` (one tanh layer of 32 units) regressed on ``R`` by Adam on the
  mean squared error; ``b(x)`` is evaluated before its own update, so it does not depend on the
  sampled units and keeps the rule unbiased.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from plastix.nets import glorot_init
from plastix.types import Array

BASELINES = ("none", "ema", "critic")


class BaselineState(NamedTuple):
    value: Array  # () running mean of the reward (ema); unused otherwise
    critic: Any  # critic params (critic) or ()
    opt: Any  # critic optimizer state (critic) or ()


def _critic_apply(p, x):
    return (jnp.tanh(x @ p[0]["W"] + p[0]["b"][None, :]) @ p[1]["W"] + p[1]["b"][None, :])[:, 0]


def make_baseline(kind: str, rate: float = 0.01, critic_lr: float = 1e-3, critic_hidden: int = 32):
    """Returns ``(init(params), centre(state, x, R) -> (R − β, state))``.

    The critic's hidden layer is initialised from a fixed key and its output weights at zero, so
    ``b(x) = 0`` at the start of every run (deterministic; no key is needed).
    """
    if kind not in BASELINES:
        raise ValueError(f"unknown baseline {kind!r}; allowed: {', '.join(BASELINES)}")
    opt = optax.adam(critic_lr)

    def init(params) -> BaselineState:
        n_in, dtype = params[0]["W"].shape[0], params[0]["W"].dtype  # the network's input size
        if kind != "critic":
            return BaselineState(jnp.zeros((), dtype), (), ())
        hidden = glorot_init(jax.random.key(0), n_in, critic_hidden, "zeros", dtype)
        p = (hidden, {"W": jnp.zeros((critic_hidden, 1), dtype), "b": jnp.zeros((1,), dtype)})
        return BaselineState(jnp.zeros((), dtype), p, opt.init(p))

    def centre(state: BaselineState, x: Array, reward: Array) -> tuple[Array, BaselineState]:
        if kind == "none":
            return reward, state
        if kind == "ema":
            new = state.value + rate * (jnp.mean(reward) - state.value)
            return reward - state.value, state._replace(value=new)
        b = _critic_apply(state.critic, x)
        grads = jax.grad(lambda p: jnp.mean((_critic_apply(p, x) - reward) ** 2))(state.critic)
        upd, opt_state = opt.update(grads, state.opt, state.critic)
        return reward - b, state._replace(critic=optax.apply_updates(state.critic, upd), opt=opt_state)

    return init, centre
