"""Environments: pure-JAX classic control (gymnax-shaped) and an adapter for any gymnasium env.

``ENVS`` is the registry the config and CLI read (``--task cartpole`` …).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

from plastix.envs._base import Environment as Environment
from plastix.envs.classic_control import acrobot as acrobot
from plastix.envs.classic_control import cartpole as cartpole
from plastix.envs.classic_control import mountain_car_continuous as mountain_car_continuous


class EnvSpec(NamedTuple):
    gym_id: str  # the gymnasium id (the adapter's, and the one the JAX version reproduces)
    build: Callable[[], Environment] | None  # pure-JAX version, or None: gymnasium adapter only
    discrete: bool  # discrete (softmax actor) or continuous (Gaussian actor) actions
    description: str


ENVS: dict[str, EnvSpec] = {
    "cartpole": EnvSpec("CartPole-v1", cartpole, True, "CartPole-v1, pure JAX (2 actions, 500-step limit)"),
    "acrobot": EnvSpec("Acrobot-v1", acrobot, True, "Acrobot-v1, pure JAX (3 actions, 500-step limit)"),
    "mountaincar-continuous": EnvSpec("MountainCarContinuous-v0", mountain_car_continuous, False,
                                      "MountainCarContinuous-v0, pure JAX (1 real action, 999-step limit)"),
    "lunarlander": EnvSpec("LunarLander-v3", None, True,
                           "LunarLander (gymnasium + Box2D through the host adapter; v3 = the reference's v2 "
                           "with gymnasium's bug fixes); 4 actions, 1000-step limit"),
}
