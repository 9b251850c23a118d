"""Learning rules: ``Rule(init, update)`` factories returning loss-convention pseudo-gradients.

``RULES`` is the registry that drives the CLI choices and the contract tests.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

from plastix.nets import Network
from plastix.rules._base import Rule as Rule
from plastix.rules._base import score_grads as score_grads
from plastix.rules._baseline import BASELINES as BASELINES
from plastix.rules.backprop import backprop as backprop
from plastix.rules.backprop import backprop_supervised as backprop_supervised
from plastix.rules.reinforce import reinforce as reinforce
from plastix.rules.ste import SURROGATES as SURROGATES
from plastix.rules.ste import ste as ste
from plastix.rules.uwm import DENOMINATORS as DENOMINATORS
from plastix.rules.uwm import uwm as uwm
from plastix.rules.map_prop import DESCENTS as DESCENTS
from plastix.rules.map_prop import map_prop as map_prop
from plastix.rules.weight_max import weight_max as weight_max
from plastix.rules.traces import reset_traces as reset_traces
from plastix.rules.traces import with_traces as with_traces


def _reinforce(net, **options) -> Rule:
    """REINFORCE on whatever eligibility the network's trace carries (plain, lateral and joint networks
    differ only in their sampling and traces)."""
    return reinforce(**options)


def _baseline_option(cfg, task) -> dict:
    return {"baseline": cfg.baseline}


class RuleSpec(NamedTuple):
    """Registry entry: how to build a rule and which network it trains."""

    build: Callable[..., Rule]  # (net, **options) -> Rule
    network: str  # "stochastic" (hidden units sample) or "deterministic" (hidden units are g(u))
    local: bool  # False where the rule reads a non-local quantity (backprop, STE)
    description: str
    owns_optimizer: bool = False  # True: built with layer_opts=[...], update returns updates;
    #                               built without them, the rule returns loss-convention gradients
    unit: str = "bernoulli"  # default hidden units (config --unit empty)
    sign_output: str = ""  # output layer for binary-action tasks, if not the task's default
    units: tuple[str, ...] = ("bernoulli", "bernoulli_pm1", "gaussian")  # hidden units it can train
    options: Callable[..., dict] = _baseline_option  # (TrainConfig, Task) -> keyword options of build


RULES: dict[str, RuleSpec] = {
    "reinforce": RuleSpec(
        _reinforce,
        "stochastic",
        True,
        "REINFORCE, every unit an agent with the global reward (Williams 1992)",
    ),
    "backprop": RuleSpec(
        lambda net, **kw: backprop(net, **kw),
        "deterministic",
        False,
        "exact backprop through deterministic hidden layers; REINFORCE output (non-local baseline)",
    ),
    "weight_max": RuleSpec(
        lambda net, layer_opts=None, p=2.0, trace_decay=0.0, **kw: weight_max(
            p=p, layer_opts=layer_opts, trace_decay=trace_decay),
        "stochastic",
        True,
        "Weight Maximization: hidden units rewarded by the growth of their outgoing weights (Chung 2022)",
        owns_optimizer=True,
        units=("bernoulli", "bernoulli_pm1"),
        options=lambda cfg, task: {"p": cfg.wm_p},
    ),
    "uwm": RuleSpec(
        lambda net, denominator="sample", **kw: uwm(net, denominator=denominator, **kw),
        "stochastic",
        True,
        "Unbiased Weight Maximization, reconstructed counterfactual estimator (Chung 2023) [recon]",
        units=("bernoulli", "bernoulli_pm1"),
        options=lambda cfg, task: {"baseline": cfg.baseline, "denominator": cfg.uwm_denominator},
    ),
    "ste": RuleSpec(
        lambda net, surrogate="sigmoid", **kw: ste(net, surrogate=surrogate, **kw),
        "stochastic",
        False,
        "straight-through backprop through sampled Bernoulli units (non-local baseline)",
        units=("bernoulli", "bernoulli_pm1"),
        options=lambda cfg, task: {"baseline": cfg.baseline, "surrogate": cfg.ste_surrogate},
    ),
    "map_prop": RuleSpec(
        lambda net, **kw: map_prop(net, **kw),
        "stochastic",
        True,
        "MAP propagation: energy minimisation over Gaussian hidden values, then local REINFORCE "
        "(Chung 2021); the minimisation feeds eligibilities back through Wᵀ",
        unit="gaussian",
        sign_output="softmax",
        units=("gaussian",),
        options=lambda cfg, task: {"baseline": cfg.baseline, "steps": cfg.map_steps, "update_adj": cfg.map_update_adj,
                                   "descent": cfg.map_descent,
                                   "gate_output": task.action == "real"},  # the reference gates regression (§8.6)
    ),
    "boltzmann": RuleSpec(
        _reinforce,
        "boltzmann",
        True,
        "coordinated exploration: first hidden layer a Boltzmann machine, reward-modulated Hebbian "
        "rule without negative phase; centre with --baseline critic (Chung 2023) [recon]",
        units=("bernoulli",),
    ),
    "recurrent": RuleSpec(
        _reinforce,
        "recurrent",
        True,
        "coordinated exploration: first hidden layer recurrent (T steps), exact REINFORCE over the "
        "steps (Chung 2023) [recon]",
        units=("bernoulli",),
    ),
    "boltzmann_joint": RuleSpec(
        _reinforce,
        "joint",
        True,
        "coordinated exploration: hidden layers and action sampled jointly by block Gibbs sweeps over a "
        "layered Boltzmann network; reward-modulated Hebbian rule (--bm-rule hebbian | negative | chain); "
        "centre with --baseline critic (Chung 2023) [recon]",
        units=("bernoulli",),
    ),
    "recurrent_feedback": RuleSpec(
        _reinforce,
        "feedback",
        True,
        "coordinated exploration: recurrent hidden layers with untied feedback from the layer above, "
        "--recurrent-steps T synchronous steps, the action re-sampled each step; exact per-step REINFORCE "
        "(Chung 2023) [recon]",
        units=("bernoulli",),
    ),
    "backprop_supervised": RuleSpec(
        lambda net, action="sign", **kw: backprop_supervised(net, action=action),
        "deterministic",
        False,
        "supervised upper bound: cross-entropy on the correct action through the backprop network "
        "(non-local, not RL; one-step tasks only)",
        options=lambda cfg, task: {"action": task.action},
    ),
}


def make_rule(name: str, net: Network, **options) -> Rule:
    """Build the registered rule ``name`` for ``net``."""
    if name not in RULES:
        raise ValueError(f"unknown rule {name!r}; allowed: {', '.join(RULES)}")
    return RULES[name].build(net, **options)
