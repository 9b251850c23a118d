"""Reinforcement learning with team rules: actor–critic agents, critics, trainers, gymnasium adapter."""

from plastix.rl.agent import Agent as Agent
from plastix.rl.agent import AgentState as AgentState
from plastix.rl.agent import make_agent as make_agent
from plastix.rl.critics import CRITICS as CRITICS
from plastix.rl.critics import Critic as Critic
from plastix.rl.critics import map_prop_critic as map_prop_critic
from plastix.rl.critics import td_critic as td_critic
from plastix.rl.train import RLState as RLState
from plastix.rl.train import make_rl_train as make_rl_train
