"""Actor–critic with a team of stochastic units as the actor (spec ``team_rules.md`` §3.2, §8.7).

The actor is any registered rule's network (REINFORCE, WM with or without traces, UWM, MAP
propagation, Boltzmann / recurrent layers, STE, backprop); the reward its units receive is the
critic's one-step TD error

    δ_t = r_t + γ·V(s_{t+1})·(1 − terminated_t) − V(s_t),     δ_t = 0 on a time-limit truncation,

applied to eligibility traces with decay γλ that are cleared when an episode ends. Per-layer
learning rates follow the reference's linear schedule ``lr(t) = lr_st + (lr_end − lr_st)·
min(t, end_t)/end_t`` over the global environment-step counter.

Per-step order (plastix's canonical order, §3.2): act on ``s_t`` (the rule's trace records the
eligibilities), step the environment, compute ``δ_t`` with the current critic, update actor and
critic. The reference's one-step weight lag and its "dummy" Adam step at episode ends are not
reproduced (effects O(lr); spec [parity]).

An :class:`Agent` is pure functions, so the JAX-environment trainer (:mod:`plastix.rl.train`)
scans them and the gymnasium adapter (:mod:`plastix.rl.gym_adapter`) calls the very same
functions from a Python loop.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

from plastix.teams.config import TrainConfig
from plastix.nets import Network
from plastix.random import Sampler, get_sampler
from plastix.rl.critics import Critic, map_prop_critic, td_critic
from plastix.rules import RULES, Rule, reset_traces, with_traces
from plastix.types import Array


class AgentState(NamedTuple):
    actor: Any  # actor params (tuple of per-layer dicts)
    actor_opt: Any  # actor optimizer state (identity for rules that own their optimizers)
    rule: Any  # actor rule state (traces live here)
    critic: Any  # critic params
    critic_opt: Any
    critic_traces: Any  # like critic params: e ← γλ_c e + G
    critic_carry: Any  # the critic's sample of the current state (see plastix.rl.critics)
    t: Array  # () int32 environment steps learnt from (drives the schedules)


class Agent(NamedTuple):
    init: Callable[..., AgentState]  # (key, first observation) -> state
    act: Callable[..., tuple[Array, Any]]  # (state, obs, key) -> (env action, actor trace)
    learn: Callable[..., tuple[AgentState, Array]]  # (state, trace, obs, r, obs', term, trunc, key) -> (state, δ);
    #      obs' is the next observation the agent will act on: after a reset when the episode ended
    reset: Callable[[AgentState], AgentState]  # clear every trace (at an episode start)
    net: Network
    critic: Critic
    rule: Rule


class _PolicyTask(NamedTuple):
    """What ``RuleSpec.options`` reads of a task: the actor is never gated (§8.7)."""

    action: str = "policy"


def schedules(start: tuple[float, ...], end: tuple[float, ...], end_t: int, n: int) -> tuple:
    """Per-layer rates: constants, or ``optax.linear_schedule(start, end, end_t)`` (the reference's)."""
    start = start * n if len(start) == 1 else start
    if not end:
        return tuple(start)
    end = end * n if len(end) == 1 else end
    return tuple(optax.linear_schedule(s, e, end_t) for s, e in zip(start, end))


def make_agent(cfg: TrainConfig, n_obs: int, discrete: bool, n_actions: int, action_low: float = -1.0,
               action_high: float = 1.0, sampler: Sampler | None = None) -> Agent:
    """The actor–critic agent of ``cfg`` for an environment with ``n_obs`` observations.

    Args:
        discrete: softmax actor over ``n_actions`` (else a Gaussian actor with ``n_actions`` = 1).
        action_low, action_high: continuous action box (``cfg.action_map`` maps the raw sample).
    """
    from plastix.teams.train import build_network, build_rule, config_optimizer

    sampler = sampler or get_sampler(cfg.sampler)
    output = cfg.output or ("softmax" if discrete else "gaussian")
    net = build_network(cfg, n_obs, n_actions, output)
    spec = RULES[cfg.rule]
    kappa = cfg.gamma * cfg.actor_lambda

    actor_rates = schedules(cfg.lr, cfg.lr_end, cfg.lr_end_t, cfg.n_layers)
    options = spec.options(cfg, _PolicyTask())
    if spec.owns_optimizer:  # Weight Maximization keeps its own per-layer traces
        options = {**options, "trace_decay": kappa}
    rule, actor_opt = build_rule(cfg, net, options, actor_rates)
    if kappa and not spec.owns_optimizer:
        rule = with_traces(rule, kappa)

    n_critic = len(cfg.critic_hidden) + 1
    if cfg.critic == "td":
        critic = td_critic(n_obs, cfg.critic_hidden, cfg.bias_init)
    else:
        sig = cfg.critic_sigma2 * n_critic if len(cfg.critic_sigma2) == 1 else cfg.critic_sigma2
        critic = map_prop_critic(n_obs, cfg.critic_hidden, sig, sampler, cfg.map_steps, cfg.map_update_adj,
                                 cfg.map_descent, cfg.gaussian_link)
    critic_opt = config_optimizer(cfg, schedules(cfg.critic_lr, cfg.critic_lr_end, cfg.lr_end_t, n_critic))
    kappa_c = cfg.gamma * cfg.critic_lambda
    span = action_high - action_low

    def init(key: Array, obs: Array) -> AgentState:
        ka, kc, ks = jax.random.split(key, 3)
        actor, cparams = net.init(ka), critic.init(kc)
        _, carry = critic.sample(cparams, obs, jax.random.key_data(ks))
        return AgentState(actor, actor_opt.init(actor), rule.init(actor), cparams, critic_opt.init(cparams),
                          jax.tree.map(jnp.zeros_like, cparams), carry, jnp.zeros((), jnp.int32))

    def act(state: AgentState, obs: Array, key: Array):
        out, trace = net.sample(state.actor, obs[None], key, sampler)
        if discrete:
            return jnp.argmax(out[0]), trace
        a = out[0]  # the raw Gaussian sample; the eligibility uses it unmapped
        if cfg.action_map == "reference":  # the MAP-prop code's a·(high − low) − low (2a + 1 on [−1, 1])
            a = a * span - action_low
        return jnp.clip(a, action_low, action_high), trace

    def learn(state: AgentState, trace, obs, reward, next_obs, terminated, truncated, key):
        v, G = critic.value_and_eligibility(state.critic, obs, key, state.critic_carry)
        v_next, carry = critic.sample(state.critic, next_obs, key)  # unused in δ when the episode ended
        r = jnp.clip(reward, -cfg.reward_clip, cfg.reward_clip) if cfg.reward_clip else reward
        delta = r + cfg.gamma * v_next * (1.0 - terminated) - v
        delta = jnp.where(truncated, 0.0, delta)  # the reference does not learn from a truncation
        grads, rule_state = rule.update(trace, delta[None], state.rule, state.actor)
        updates, aopt = actor_opt.update(grads, state.actor_opt, state.actor)
        actor = optax.apply_updates(state.actor, updates)
        e = jax.tree.map(lambda e, g: kappa_c * e + g, state.critic_traces, G)
        cupd, copt = critic_opt.update(jax.tree.map(lambda e: -e * delta, e), state.critic_opt, state.critic)
        cparams = optax.apply_updates(state.critic, cupd)
        return AgentState(actor, aopt, rule_state, cparams, copt, e, carry, state.t + 1), delta

    def reset(state: AgentState) -> AgentState:
        return state._replace(rule=reset_traces(state.rule),
                              critic_traces=jax.tree.map(jnp.zeros_like, state.critic_traces))

    return Agent(init, act, learn, reset, net, critic, rule)
