"""The pure-JAX environments step exactly like gymnasium's from the same states (side by side).

Each test puts gymnasium's environment into plastix's current state, steps both with the same
action and compares observation, reward, termination and truncation; trajectories come from
plastix's own resets and random actions (fixed keys), so termination events are covered. State
is re-synchronised every step (float32 here vs gymnasium's float64 for CartPole/Acrobot would
otherwise drift apart in these chaotic systems). Tolerance: 2e−5 absolute/relative on
observations (float32 rounding of one step); rewards and flags exact.
"""

from __future__ import annotations

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from plastix.envs import ENVS, acrobot, cartpole, mountain_car_continuous

TOL = 2e-5


def _gym(env_id: str):
    env = gymnasium.make(env_id)
    env.reset(seed=0)
    return env


def _step_fn(env):
    return jax.jit(lambda s, a: env.step(jax.random.key(0), s, a, env.params))


def _side_by_side(env, gym_env, n_steps: int, action_fn, seed: int = 0):
    """Roll plastix's env with random actions; at every step compare one gymnasium step from the same state."""
    step = _step_fn(env)
    key = jax.random.key(seed)
    rng = np.random.default_rng(seed)
    obs, state = env.reset(key, env.params)
    checked = {"terminated": 0, "steps": 0}
    for t in range(n_steps):
        action = action_fn(rng)
        gym_env.unwrapped.state = np.asarray(state.s, dtype=gym_env.unwrapped.state.dtype).copy()
        if hasattr(gym_env.unwrapped, "steps_beyond_terminated"):  # CartPole: a fresh, non-terminal state
            gym_env.unwrapped.steps_beyond_terminated = None
        g_obs, g_r, g_term, g_trunc, _ = gym_env.unwrapped.step(action)
        obs, state, r, term, trunc = step(state, jnp.asarray(action))
        np.testing.assert_allclose(np.asarray(obs), np.asarray(g_obs, np.float32), rtol=TOL, atol=TOL)
        assert float(r) == pytest.approx(float(g_r), abs=1e-5), (t, float(r), g_r)
        assert bool(term) == bool(g_term), t
        checked["steps"] += 1
        if bool(term) or bool(trunc):
            checked["terminated"] += bool(term)
            key, sub = jax.random.split(key)
            obs, state = env.reset(sub, env.params)
    return checked


def test_cartpole_matches_gymnasium():
    seen = _side_by_side(cartpole(), _gym("CartPole-v1"), 600, lambda rng: int(rng.integers(2)))
    assert seen["terminated"] >= 10  # random actions end many episodes: terminations are compared too


def test_acrobot_matches_gymnasium():
    seen = _side_by_side(acrobot(), _gym("Acrobot-v1"), 300, lambda rng: int(rng.integers(3)))
    assert seen["steps"] == 300


def test_acrobot_termination_matches_gymnasium():
    """States near the goal line, so both sides of the termination test are compared."""
    env, gym_env = acrobot(), _gym("Acrobot-v1")
    step = _step_fn(env)
    rng = np.random.default_rng(1)
    outcomes = []
    for _ in range(200):
        s = np.array([rng.uniform(2.4, 3.14), rng.uniform(-0.6, 0.6), rng.uniform(-2, 2), rng.uniform(-2, 2)],
                     np.float32)
        a = int(rng.integers(3))
        gym_env.unwrapped.state = s.astype(np.float64)
        g_obs, g_r, g_term, _, _ = gym_env.unwrapped.step(a)
        obs, _, r, term, _ = step(type(env.reset(jax.random.key(0), env.params)[1])(jnp.asarray(s), jnp.zeros((), jnp.int32)),
                                  jnp.asarray(a))
        np.testing.assert_allclose(np.asarray(obs), g_obs, rtol=TOL, atol=TOL)
        assert (bool(term), float(r)) == (bool(g_term), float(g_r))
        outcomes.append(bool(term))
    assert 0 < sum(outcomes) < len(outcomes)


def test_mountain_car_continuous_matches_gymnasium():
    seen = _side_by_side(mountain_car_continuous(), _gym("MountainCarContinuous-v0"), 600,
                         lambda rng: np.array([rng.uniform(-2.0, 2.0)], np.float32))  # beyond the box: clipping
    assert seen["steps"] == 600


def test_mountain_car_left_wall_and_goal_match_gymnasium():
    """The left wall stops the car (gymnax stops it at the goal instead); the goal pays +100."""
    env, gym_env = mountain_car_continuous(), _gym("MountainCarContinuous-v0")
    step = _step_fn(env)
    state_type = type(env.reset(jax.random.key(0), env.params)[1])
    for s, a in (([-1.19, -0.05], -1.0), ([0.44, 0.06], 1.0), ([0.5, -0.01], 0.5), ([-1.2, 0.0], 0.3)):
        s = np.array(s, np.float32)
        gym_env.unwrapped.state = s.copy()
        g_obs, g_r, g_term, _, _ = gym_env.unwrapped.step(np.array([a], np.float32))
        obs, _, r, term, _ = step(state_type(jnp.asarray(s), jnp.zeros((), jnp.int32)), jnp.asarray([a]))
        np.testing.assert_allclose(np.asarray(obs), g_obs, rtol=TOL, atol=TOL)
        assert bool(term) == bool(g_term) and float(r) == pytest.approx(g_r, abs=1e-4)


@pytest.mark.parametrize("name", ["cartpole", "acrobot", "mountaincar-continuous"])
def test_time_limits_and_reset_ranges_match_gymnasium(name):
    spec = ENVS[name]
    env = spec.build()
    assert env.max_steps == gymnasium.spec(spec.gym_id).max_episode_steps
    gym_env = gymnasium.make(spec.gym_id)
    assert env.n_obs == gym_env.observation_space.shape[0]
    assert env.discrete == hasattr(gym_env.action_space, "n")
    # truncation exactly at the limit, never together with termination
    _, state = env.reset(jax.random.key(0), env.params)
    state = state._replace(time=jnp.asarray(env.max_steps - 1, jnp.int32))
    action = jnp.asarray(0) if env.discrete else jnp.zeros(1)
    *_, term, trunc = env.step(jax.random.key(0), state, action, env.params)
    assert bool(trunc) != bool(term)
    # resets land in gymnasium's documented ranges
    obs = jax.vmap(lambda k: env.reset(k, env.params)[0])(jax.random.split(jax.random.key(1), 500))
    g = np.stack([gym_env.reset(seed=i)[0] for i in range(200)])
    lo, hi = g.min(0), g.max(0)
    span = np.maximum(hi - lo, 1e-6)
    assert (np.asarray(obs).min(0) >= lo - 0.05 * span - 1e-6).all() and (np.asarray(obs).max(0) <= hi + 0.05 * span + 1e-6).all()
