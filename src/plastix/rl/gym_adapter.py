"""Any gymnasium environment (LunarLander with Box2D in particular) for the team-rule agents.

The environment runs on the host, in Python; the agent is the very same pure functions as on the
JAX environments (:func:`plastix.rl.agent.make_agent`), jitted and vmapped over seeds, called
once to act and once to learn per step. Correct, not fast: one gymnasium ``step`` per seed per
step from a Python loop. Seeds are independent gymnasium instances reset with integer seeds
derived from the run's keys, so a run is reproducible (CPU). Time limits come from gymnasium's
``TimeLimit`` wrapper; ``truncated`` is honoured (δ = 0) unless the step also terminates.
"""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from plastix.config import TrainConfig
from plastix.envs import ENVS
from plastix.random import get_sampler
from plastix.rl.agent import make_agent
from plastix.rl.train import where_tree


class MissingDependencyError(RuntimeError):
    """gymnasium (or an environment's extra, e.g. Box2D) is not installed."""


class GymState(NamedTuple):
    agent: Any  # AgentState stacked over seeds (JAX arrays)
    keys: Any  # (S, 2) raw run keys
    envs: list  # one gymnasium environment per seed
    obs: np.ndarray  # (S, n_obs)
    returns: np.ndarray  # (S, episodes)
    lengths: np.ndarray  # (S, episodes)
    episode: np.ndarray  # (S,) finished episodes
    ep_return: np.ndarray  # (S,)
    ep_length: np.ndarray  # (S,)
    steps: np.ndarray  # (S,)


class GymTrainer(NamedTuple):
    init: Any  # keys (S,) -> GymState
    run: Any  # (GymState, n_steps) -> GymState


def make_env(gym_id: str):
    """``gymnasium.make(gym_id)`` with a clear error if gymnasium or Box2D is missing."""
    try:
        import gymnasium
    except ImportError:
        raise MissingDependencyError("the gymnasium adapter needs gymnasium: pip install 'plastix[rl]'") from None
    try:
        with warnings.catch_warnings():  # Box2D's SWIG module warns on import; as an error it would crash
            warnings.simplefilter("ignore", DeprecationWarning)
            return gymnasium.make(gym_id)
    except gymnasium.error.DependencyNotInstalled as e:
        raise MissingDependencyError(f"{gym_id} needs an extra dependency ({e}); pip install 'plastix[rl]'") from None


def make_gym_train(cfg: TrainConfig) -> GymTrainer:
    """A host-loop trainer for ``cfg`` on the gymnasium environment registered as ``cfg.task``."""
    cfg.validate()
    spec = ENVS[cfg.task]
    probe = make_env(spec.gym_id)
    space = probe.action_space
    discrete = hasattr(space, "n")
    n_obs = int(np.prod(probe.observation_space.shape))
    n_actions = int(space.n) if discrete else int(np.prod(space.shape))
    low = 0.0 if discrete else float(np.min(space.low))
    high = 0.0 if discrete else float(np.max(space.high))
    probe.close()
    sampler = get_sampler(cfg.sampler)
    agent = make_agent(cfg, n_obs, discrete, n_actions, low, high, sampler)
    n_ep = cfg.episodes

    def step_keys(key, t):
        return sampler.split(sampler.fold_in(key, t), 4)

    @jax.jit
    @jax.vmap
    def act(state, key, t, obs):
        k = step_keys(key, t)
        return agent.act(state, obs, k[0])

    @jax.jit
    @jax.vmap
    def learn(state, trace, key, t, obs, reward, next_obs, term, trunc, active):
        k = step_keys(key, t)
        new, _ = agent.learn(state, trace, obs, reward, next_obs, term, trunc, k[2])
        new = where_tree(term | trunc, agent.reset(new), new)
        return where_tree(active, new, state)

    def init(keys) -> GymState:
        split = jax.vmap(lambda k: jax.random.split(k, 3))(keys)
        agents = jax.vmap(agent.init)(split[:, 0])
        env_seeds = np.asarray(jax.random.key_data(split[:, 1]))[:, 0].astype(np.int64)
        envs, obs = [], []
        for seed in env_seeds:
            env = make_env(spec.gym_id)
            o, _ = env.reset(seed=int(seed))
            envs.append(env)
            obs.append(np.asarray(o, np.float32).reshape(-1))
        S = len(envs)
        return GymState(agents, jax.random.key_data(split[:, 2]), envs, np.stack(obs), np.zeros((S, n_ep)),
                        np.zeros((S, n_ep), np.int64), np.zeros(S, np.int64), np.zeros(S), np.zeros(S, np.int64),
                        np.zeros(S, np.int64))

    def run(state: GymState, n_steps: int) -> GymState:
        agents, obs = state.agent, state.obs.copy()
        returns, lengths = state.returns.copy(), state.lengths.copy()
        episode, ep_return, ep_length, steps = (state.episode.copy(), state.ep_return.copy(), state.ep_length.copy(),
                                                state.steps.copy())
        for _ in range(n_steps):
            active = episode < n_ep
            if not active.any():
                break
            actions, traces = act(agents, state.keys, jnp.asarray(steps, jnp.int32), jnp.asarray(obs))
            actions = np.asarray(actions)
            next_obs, rewards = obs.copy(), np.zeros(len(obs), np.float32)
            term, trunc = np.zeros(len(obs), bool), np.zeros(len(obs), bool)
            for s, env in enumerate(state.envs):
                if not active[s]:
                    continue
                a = int(actions[s]) if discrete else actions[s].astype(np.float32)
                o, r, te, tr, _ = env.step(a)
                next_obs[s], rewards[s], term[s], trunc[s] = np.asarray(o, np.float32).reshape(-1), r, te, tr and not te
            agents = learn(agents, traces, state.keys, jnp.asarray(steps, jnp.int32), jnp.asarray(obs),
                           jnp.asarray(rewards), jnp.asarray(next_obs), jnp.asarray(term), jnp.asarray(trunc),
                           jnp.asarray(active))
            ep_return += np.where(active, rewards, 0.0)
            ep_length += active
            steps += active
            for s in np.flatnonzero(active & (term | trunc)):
                returns[s, episode[s]], lengths[s, episode[s]] = ep_return[s], ep_length[s]
                episode[s] += 1
                ep_return[s], ep_length[s] = 0.0, 0
                next_obs[s] = np.asarray(state.envs[s].reset()[0], np.float32).reshape(-1)
            obs = next_obs
        return GymState(agents, state.keys, state.envs, obs, returns, lengths, episode, ep_return, ep_length, steps)

    return GymTrainer(init, run)
