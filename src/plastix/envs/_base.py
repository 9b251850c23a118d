"""The environment contract: gymnax-shaped pure functions over an ``EnvParams`` pytree.

An :class:`Environment` is a bundle of pure functions

* ``reset(key, params) -> (obs, state)``
* ``step(key, state, action, params) -> (obs, state, reward, terminated, truncated)``

with every quantity a JAX array, so a whole training run is one ``lax.scan`` and seeds or
environment variations are one ``vmap``. Unlike gymnax, ``step`` does **not** reset by itself
and reports termination and time-limit truncation separately (as gymnasium does): actor–critic
learning treats them differently (spec ``team_rules.md`` §3.2: ``δ = r − V(s)`` at a terminal
transition, ``δ = 0`` at a truncation), and the trainer decides when to reset.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

from plastix.types import Array


class Environment(NamedTuple):
    """A pure-JAX environment (one instance; ``vmap`` for many)."""

    name: str  # e.g. "CartPole-v1" (the gymnasium id it reproduces)
    n_obs: int  # observation size
    discrete: bool  # True: actions are integers 0..n_actions-1; False: a real vector
    n_actions: int  # discrete: number of actions; continuous: action dimension
    action_low: float  # continuous actions: bounds of the action box (discrete: 0)
    action_high: float
    max_steps: int  # the time limit (episodes are truncated after this many steps)
    params: Any  # default EnvParams (a NamedTuple of floats)
    reset: Callable[..., tuple[Array, Any]]  # (key, params) -> (obs, state)
    step: Callable[..., tuple[Array, Any, Array, Array, Array]]  # (key, state, action, params) -> ...
