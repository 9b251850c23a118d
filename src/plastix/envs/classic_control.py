"""CartPole-v1, Acrobot-v1 and MountainCarContinuous-v0 as pure JAX functions (float32).

Written by hand rather than taken from gymnax because, for the actor–critic protocol of the team
papers, (a) gymnax reports one ``done`` for termination and time-limit truncation, which the
reference treats differently (δ = 0 on truncation), and auto-resets inside ``step``; and (b)
gymnax 1.0.1's MountainCarContinuous zeroes the velocity at the *goal* when it is negative, where
gymnasium zeroes it at the *left wall*; it also pins ``gymnasium<1.4`` and pulls in flax and
seaborn. The dynamics below follow gymnasium 1.4's implementations line by line (same
constants, integrators, wrapping, clipping and rewards); ``tests/test_envs.py`` steps each one
side by side with gymnasium from the same states and asserts equal observations, rewards,
terminations and truncations. The only difference is precision: gymnasium keeps CartPole's and
Acrobot's state in float64, plastix in float32 (one-step agreement ≈ 1e−6 relative).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax.numpy as jnp

from plastix.envs._base import Environment
from plastix.random import hash_sampler
from plastix.types import Array

_HASH = hash_sampler()


def _uniform(key, shape: tuple[int, ...], lo: float, hi: float) -> Array:
    """Reset draws by plastix's counter-based hash (raw or typed keys). JAX's threefry would put a
    loop of small kernels into every scanned step (resets are computed every step, then selected)."""
    return lo + (hi - lo) * _HASH.uniform(key, shape, jnp.float32)


class EnvState(NamedTuple):
    """The state of every classic-control environment here: physical state and episode clock."""

    s: Array  # physical state (CartPole: x, ẋ, θ, θ̇; Acrobot: θ1, θ2, θ̇1, θ̇2; MountainCar: position, velocity)
    time: Array  # () int32 steps taken in this episode


def _tick(state: EnvState, s: Array, max_steps: int, terminated: Array) -> tuple[EnvState, Array]:
    """Advance the episode clock; truncation at ``max_steps`` unless the step also terminated."""
    time = state.time + 1
    return EnvState(s, time), (time >= max_steps) & ~terminated


def _start(s: Array) -> EnvState:
    return EnvState(s, jnp.zeros((), jnp.int32))


# ---------------------------------------------------------------------------------- CartPole-v1
class CartPoleParams(NamedTuple):
    gravity: float = 9.8
    masscart: float = 1.0
    masspole: float = 0.1
    length: float = 0.5  # half the pole's length
    force_mag: float = 10.0
    tau: float = 0.02  # seconds between state updates (explicit Euler)
    theta_threshold: float = 12 * 2 * math.pi / 360
    x_threshold: float = 2.4
    max_steps: int = 500


def _cartpole_reset(key, params: CartPoleParams):
    s = _uniform(key, (4,), -0.05, 0.05)
    return s, _start(s)


def _cartpole_step(key, state: EnvState, action, params: CartPoleParams):
    x, x_dot, theta, theta_dot = state.s
    force = jnp.where(action == 1, params.force_mag, -params.force_mag)
    total_mass = params.masspole + params.masscart
    polemass_length = params.masspole * params.length
    cos, sin = jnp.cos(theta), jnp.sin(theta)
    temp = (force + polemass_length * theta_dot**2 * sin) / total_mass
    thetaacc = (params.gravity * sin - cos * temp) / (
        params.length * (4.0 / 3.0 - params.masspole * cos**2 / total_mass))
    xacc = temp - polemass_length * thetaacc * cos / total_mass
    s = jnp.stack([x + params.tau * x_dot, x_dot + params.tau * xacc,
                   theta + params.tau * theta_dot, theta_dot + params.tau * thetaacc])
    terminated = (jnp.abs(s[0]) > params.x_threshold) | (jnp.abs(s[2]) > params.theta_threshold)
    new, truncated = _tick(state, s, params.max_steps, terminated)
    return s, new, jnp.ones((), jnp.float32), terminated, truncated


def cartpole(**overrides) -> Environment:
    """CartPole-v1 (gymnasium): push a cart left (0) or right (1); reward 1 per step; 500-step limit."""
    params = CartPoleParams(**overrides)
    return Environment("CartPole-v1", 4, True, 2, 0.0, 0.0, params.max_steps, params, _cartpole_reset,
                       _cartpole_step)


# ----------------------------------------------------------------------------------- Acrobot-v1
class AcrobotParams(NamedTuple):
    dt: float = 0.2
    link_length_1: float = 1.0
    link_mass_1: float = 1.0
    link_mass_2: float = 1.0
    link_com_pos_1: float = 0.5
    link_com_pos_2: float = 0.5
    link_moi: float = 1.0
    max_vel_1: float = 4 * math.pi
    max_vel_2: float = 9 * math.pi
    max_steps: int = 500


def _acrobot_obs(s: Array) -> Array:
    return jnp.stack([jnp.cos(s[0]), jnp.sin(s[0]), jnp.cos(s[1]), jnp.sin(s[1]), s[2], s[3]])


def _acrobot_dsdt(s: Array, torque: Array, p: AcrobotParams) -> Array:
    """The "book" dynamics of gymnasium's AcrobotEnv._dsdt (g = 9.8)."""
    m1, m2, l1, lc1, lc2, i1, i2, g = (p.link_mass_1, p.link_mass_2, p.link_length_1, p.link_com_pos_1,
                                       p.link_com_pos_2, p.link_moi, p.link_moi, 9.8)
    theta1, theta2, dtheta1, dtheta2 = s
    d1 = m1 * lc1**2 + m2 * (l1**2 + lc2**2 + 2 * l1 * lc2 * jnp.cos(theta2)) + i1 + i2
    d2 = m2 * (lc2**2 + l1 * lc2 * jnp.cos(theta2)) + i2
    phi2 = m2 * lc2 * g * jnp.cos(theta1 + theta2 - math.pi / 2.0)
    phi1 = (-m2 * l1 * lc2 * dtheta2**2 * jnp.sin(theta2) - 2 * m2 * l1 * lc2 * dtheta2 * dtheta1 * jnp.sin(theta2)
            + (m1 * lc1 + m2 * l1) * g * jnp.cos(theta1 - math.pi / 2) + phi2)
    ddtheta2 = (torque + d2 / d1 * phi1 - m2 * l1 * lc2 * dtheta1**2 * jnp.sin(theta2) - phi2) / (
        m2 * lc2**2 + i2 - d2**2 / d1)
    ddtheta1 = -(d2 * ddtheta2 + phi1) / d1
    return jnp.stack([dtheta1, dtheta2, ddtheta1, ddtheta2])


def _wrap(x: Array, lo: float, hi: float) -> Array:
    """gymnasium's ``wrap``: subtract/add the period until ``lo ≤ x ≤ hi``."""
    diff = hi - lo
    x = jnp.where(x > hi, x - diff * jnp.ceil((x - hi) / diff), x)
    return jnp.where(x < lo, x + diff * jnp.ceil((lo - x) / diff), x)


def _acrobot_reset(key, params: AcrobotParams):
    s = _uniform(key, (4,), -0.1, 0.1)
    return _acrobot_obs(s), _start(s)


def _acrobot_step(key, state: EnvState, action, params: AcrobotParams):
    torque = jnp.asarray(action, jnp.float32) - 1.0  # actions 0, 1, 2 -> torque −1, 0, +1
    s, dt = state.s, params.dt
    k1 = _acrobot_dsdt(s, torque, params)  # one classical RK4 step over [0, dt]
    k2 = _acrobot_dsdt(s + dt / 2 * k1, torque, params)
    k3 = _acrobot_dsdt(s + dt / 2 * k2, torque, params)
    k4 = _acrobot_dsdt(s + dt * k3, torque, params)
    ns = s + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
    ns = jnp.stack([_wrap(ns[0], -math.pi, math.pi), _wrap(ns[1], -math.pi, math.pi),
                    jnp.clip(ns[2], -params.max_vel_1, params.max_vel_1),
                    jnp.clip(ns[3], -params.max_vel_2, params.max_vel_2)])
    terminated = -jnp.cos(ns[0]) - jnp.cos(ns[1] + ns[0]) > 1.0
    new, truncated = _tick(state, ns, params.max_steps, terminated)
    reward = jnp.where(terminated, 0.0, -1.0).astype(jnp.float32)
    return _acrobot_obs(ns), new, reward, terminated, truncated


def acrobot(**overrides) -> Environment:
    """Acrobot-v1 (gymnasium): torque −1/0/+1 on the second joint; −1 per step until the tip is high; 500-step limit."""
    params = AcrobotParams(**overrides)
    return Environment("Acrobot-v1", 6, True, 3, 0.0, 0.0, params.max_steps, params, _acrobot_reset, _acrobot_step)


# --------------------------------------------------------------------- MountainCarContinuous-v0
class MountainCarParams(NamedTuple):
    min_action: float = -1.0
    max_action: float = 1.0
    min_position: float = -1.2
    max_position: float = 0.6
    max_speed: float = 0.07
    goal_position: float = 0.45
    goal_velocity: float = 0.0
    power: float = 0.0015
    max_steps: int = 999


def _mountain_car_reset(key, params: MountainCarParams):
    position = _uniform(key, (), -0.6, -0.4)
    s = jnp.stack([position, jnp.zeros((), jnp.float32)])
    return s, _start(s)


def _mountain_car_step(key, state: EnvState, action, params: MountainCarParams):
    a = jnp.reshape(jnp.asarray(action, jnp.float32), (-1,))[0]
    position, velocity = state.s
    force = jnp.clip(a, params.min_action, params.max_action)
    velocity = jnp.clip(velocity + force * params.power - 0.0025 * jnp.cos(3 * position),
                        -params.max_speed, params.max_speed)
    position = jnp.clip(position + velocity, params.min_position, params.max_position)
    velocity = jnp.where((position == params.min_position) & (velocity < 0), 0.0, velocity)  # the left wall
    terminated = (position >= params.goal_position) & (velocity >= params.goal_velocity)
    reward = jnp.where(terminated, 100.0, 0.0) - 0.1 * a**2  # the *unclipped* action is penalised
    s = jnp.stack([position, velocity])
    new, truncated = _tick(state, s, params.max_steps, terminated)
    return s, new, reward.astype(jnp.float32), terminated, truncated


def mountain_car_continuous(**overrides) -> Environment:
    """MountainCarContinuous-v0 (gymnasium): force in [−1, 1]; −0.1·a² per step, +100 at the goal; 999-step limit."""
    params = MountainCarParams(**overrides)
    return Environment("MountainCarContinuous-v0", 2, False, 1, params.min_action, params.max_action,
                       params.max_steps, params, _mountain_car_reset, _mountain_car_step)
