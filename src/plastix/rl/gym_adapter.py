"""Any gymnasium environment (LunarLander with Box2D in particular) for the team-rule agents.

The environment runs on the host, in Python; the agent is the very same pure functions as on the
JAX environments (:func:`plastix.rl.agent.make_agent`), vmapped over seeds. A chunk of steps is one
jitted ``lax.scan``: each step acts for every seed, calls the host once through
``jax.experimental.io_callback`` (ordered) to step every seed's gymnasium environment — resetting
those whose episode ended and recording their returns — and learns. Correct rather than fast: the
host call and the Box2D steps dominate. Seeds are independent gymnasium instances reset with
integer seeds derived from the run's keys, so a run is reproducible (CPU). Time limits come from
gymnasium's ``TimeLimit`` wrapper; ``truncated`` is honoured (δ = 0) unless the step also
terminates. Host environments cannot be checkpointed mid-episode, so such runs do not resume.
"""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import io_callback

from plastix.teams.config import TrainConfig
from plastix.envs import ENVS
from plastix.random import get_sampler
from plastix.rl.agent import make_agent
from plastix.rl.train import where_tree


class MissingDependencyError(RuntimeError):
    """gymnasium (or an environment's extra, e.g. Box2D) is not installed."""


class GymState(NamedTuple):
    agent: Any  # AgentState stacked over seeds (JAX arrays)
    keys: Any  # (S, 2) raw run keys
    obs: Any  # (S, n_obs) the observation each seed acts on next
    steps: Any  # (S,) int32 environment steps taken (recorded episodes only)
    host: Any  # _Host: the gymnasium environments and the episode records
    returns: np.ndarray  # (S, episodes) views of the host records (for the runner)
    lengths: np.ndarray
    episode: np.ndarray  # (S,) finished episodes


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


class _Host:
    """The host side: one gymnasium environment per seed and the per-episode records."""

    def __init__(self, gym_id: str, env_seeds, n_episodes: int, discrete: bool):
        self.envs = [make_env(gym_id) for _ in env_seeds]
        self.first = np.stack([np.asarray(e.reset(seed=int(s))[0], np.float32).reshape(-1)
                               for e, s in zip(self.envs, env_seeds)])
        S = len(self.envs)
        self.discrete, self.n_episodes = discrete, n_episodes
        self.returns, self.lengths = np.zeros((S, n_episodes)), np.zeros((S, n_episodes), np.int64)
        self.episode = np.zeros(S, np.int64)
        self.ep_return, self.ep_length = np.zeros(S), np.zeros(S, np.int64)

    def step(self, actions, obs):
        """Step every unfinished seed; returns (next obs to act on, reward, terminated, truncated, active)."""
        actions, next_obs = np.asarray(actions), np.array(obs, np.float32)
        S = len(self.envs)
        rewards, term, trunc = np.zeros(S, np.float32), np.zeros(S, bool), np.zeros(S, bool)
        active = self.episode < self.n_episodes
        for s in np.flatnonzero(active):
            a = int(actions[s]) if self.discrete else actions[s].astype(np.float32)
            o, r, te, tr, _ = self.envs[s].step(a)
            next_obs[s], rewards[s], term[s], trunc[s] = np.asarray(o, np.float32).reshape(-1), r, te, tr and not te
            self.ep_return[s] += r
            self.ep_length[s] += 1
            if te or tr:
                self.returns[s, self.episode[s]], self.lengths[s, self.episode[s]] = self.ep_return[s], self.ep_length[s]
                self.episode[s] += 1
                self.ep_return[s], self.ep_length[s] = 0.0, 0
                next_obs[s] = np.asarray(self.envs[s].reset()[0], np.float32).reshape(-1)  # what it sees next
        return next_obs, rewards, term, trunc, active


def make_gym_train(cfg: TrainConfig) -> GymTrainer:
    """A trainer for ``cfg`` on the gymnasium environment registered as ``cfg.task``."""
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
    S = cfg.seeds

    def chunk(host: _Host, agents, keys, obs, steps, n: int):
        out_shapes = (jax.ShapeDtypeStruct((S, n_obs), jnp.float32), jax.ShapeDtypeStruct((S,), jnp.float32),
                      jax.ShapeDtypeStruct((S,), jnp.bool_), jax.ShapeDtypeStruct((S,), jnp.bool_),
                      jax.ShapeDtypeStruct((S,), jnp.bool_))

        def one(carry, _):
            agents, obs, steps = carry
            k = jax.vmap(lambda key, t: sampler.split(sampler.fold_in(key, t), 4))(keys, steps)
            actions, traces = jax.vmap(agent.act)(agents, obs, k[:, 0])
            next_obs, rewards, term, trunc, active = io_callback(host.step, out_shapes, actions, obs, ordered=True)

            def learn(state, trace, o, r, o2, te, tr, act, key):
                new, _ = agent.learn(state, trace, o, r, o2, te, tr, key)
                new = where_tree(te | tr, agent.reset(new), new)
                return where_tree(act, new, state)

            agents = jax.vmap(learn)(agents, traces, obs, rewards, next_obs, term, trunc, active, k[:, 2])
            return (agents, next_obs, steps + active), None

        return jax.lax.scan(one, (agents, obs, steps), None, length=n)[0]

    def init(keys) -> GymState:
        split = jax.vmap(lambda k: jax.random.split(k, 3))(keys)
        env_seeds = np.asarray(jax.random.key_data(split[:, 1]))[:, 0].astype(np.int64)
        host = _Host(spec.gym_id, env_seeds, cfg.episodes, discrete)
        obs = jnp.asarray(host.first)
        agents = jax.vmap(agent.init)(split[:, 0], obs)
        run_chunk = jax.jit(lambda a, k, o, t, n: chunk(host, a, k, o, t, n), static_argnums=4)
        host.run_chunk = run_chunk
        return GymState(agents, jax.random.key_data(split[:, 2]), obs, jnp.zeros(S, jnp.int32), host,
                        host.returns, host.lengths, host.episode)

    def run(state: GymState, n_steps: int) -> GymState:
        host = state.host
        if (host.episode >= cfg.episodes).all():
            return state
        agents, obs, steps = host.run_chunk(state.agent, state.keys, state.obs, state.steps, n_steps)
        return GymState(agents, state.keys, obs, steps, host, host.returns, host.lengths, host.episode.copy())

    return GymTrainer(init, run)
