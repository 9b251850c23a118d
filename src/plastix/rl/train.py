"""``make_rl_train(cfg)``: actor–critic on a pure-JAX environment as one ``lax.scan``, vmapped over seeds.

The run is measured in *episodes* (the papers' protocol: a fixed number of training episodes per
seed). The scan advances every seed by one environment step per iteration; each seed's episode
returns are written into a fixed-size buffer, so a vmapped batch of seeds can be run in chunks
until the slowest one has finished ``cfg.episodes`` episodes. A seed that has finished keeps
stepping and learning, unrecorded, until then: its recorded episodes are exactly those of a run
that stopped there (seeds are independent), and freezing it instead would cost a select over
the whole agent state every step (−35 % throughput on CartPole). ``state.steps`` counts the
recorded steps only; ``state.agent`` of an early-finishing seed is therefore *past* its last
recorded episode. Every step's randomness is ``fold_in(run_key, t)``, so the
numbers do not depend on the chunking (resume gives identical results).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from plastix.teams.config import TrainConfig
from plastix.envs import ENVS, Environment
from plastix.random import get_sampler
from plastix.rl.agent import Agent, AgentState, make_agent
from plastix.types import Array


class RLState(NamedTuple):
    agent: AgentState
    env_state: Any
    obs: Array  # (n_obs,) current observation
    key: Array  # (2,) raw key of the run
    returns: Array  # (episodes,) undiscounted, unclipped return of each finished episode
    lengths: Array  # (episodes,) int32 steps of each finished episode
    episode: Array  # () int32 finished episodes
    ep_return: Array  # () return of the running episode so far
    ep_length: Array  # () int32
    steps: Array  # () int32 environment steps taken (frozen once the seed is done)


class RLTrainer(NamedTuple):
    init: Callable[[Array], RLState]
    run: Callable[[RLState, int], RLState]  # (state, env steps) -> state
    agent: Agent
    env: Environment


def where_tree(cond: Array, a, b):
    """``a`` where ``cond`` else ``b``, leaf by leaf (a scalar condition)."""
    return jax.tree.map(lambda x, y: jnp.where(cond, x, y), a, b)


def make_rl_train(cfg: TrainConfig) -> RLTrainer:
    """Pure training functions for an RL config on a JAX environment (vmap ``init``/``run`` over seeds)."""
    cfg.validate()
    spec = ENVS[cfg.task]
    if spec.build is None:
        raise ValueError(f"{cfg.task} has no JAX version; run it through plastix.rl.gym_adapter")
    env = spec.build()
    sampler = get_sampler(cfg.sampler)
    agent = make_agent(cfg, env.n_obs, env.discrete, env.n_actions, env.action_low, env.action_high, sampler)
    n_ep = cfg.episodes

    def init(key: Array) -> RLState:
        k_agent, k_env, k_run = jax.random.split(key, 3)
        obs, env_state = env.reset(k_env, env.params)
        return RLState(agent.init(k_agent, obs), env_state, obs, jax.random.key_data(k_run),
                       jnp.zeros((n_ep,), jnp.float32), jnp.zeros((n_ep,), jnp.int32), jnp.zeros((), jnp.int32),
                       jnp.zeros((), jnp.float32), jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32))

    def step(state: RLState, _) -> tuple[RLState, None]:
        k_act, k_env, k_learn, k_reset = sampler.split(sampler.fold_in(state.key, state.steps), 4)
        action, trace = agent.act(state.agent, state.obs, k_act)
        obs, env_state, reward, term, trunc = env.step(k_env, state.env_state, action, env.params)
        end = term | trunc
        obs0, env0 = env.reset(k_reset, env.params)
        obs, env_state = jnp.where(end, obs0, obs), where_tree(end, env0, env_state)  # what the agent sees next
        ag, _ = agent.learn(state.agent, trace, state.obs, reward, obs, term, trunc, k_learn)
        ep_return, ep_length = state.ep_return + reward, state.ep_length + 1
        active = state.episode < n_ep  # a finished seed runs on unrecorded (see the module docstring)
        record = end & active
        slot = jnp.minimum(state.episode, n_ep - 1)  # buffers are written in place, one slot per step
        returns = state.returns.at[slot].set(jnp.where(record, ep_return, state.returns[slot]))
        lengths = state.lengths.at[slot].set(jnp.where(record, ep_length, state.lengths[slot]))
        return RLState(where_tree(end, agent.reset(ag), ag), env_state, obs, state.key, returns, lengths,
                       state.episode + record, jnp.where(end, 0.0, ep_return), jnp.where(end, 0, ep_length),
                       state.steps + active), None

    def run(state: RLState, n_steps: int) -> RLState:
        return jax.lax.scan(step, state, None, length=n_steps)[0]

    return RLTrainer(init, run, agent, env)
