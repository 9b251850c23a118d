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
from plastix.rules.reinforce import reinforce as reinforce


class RuleSpec(NamedTuple):
    """Registry entry: how to build a rule and which network it trains."""

    build: Callable[..., Rule]  # (net, **options) -> Rule
    network: str  # "stochastic" (hidden units sample) or "deterministic" (hidden units are g(u))
    local: bool  # False where the rule reads a non-local quantity (backprop, STE)
    description: str


RULES: dict[str, RuleSpec] = {
    "reinforce": RuleSpec(
        lambda net, **kw: reinforce(**kw),
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
}


def make_rule(name: str, net: Network, **options) -> Rule:
    """Build the registered rule ``name`` for ``net``."""
    if name not in RULES:
        raise ValueError(f"unknown rule {name!r}; allowed: {', '.join(RULES)}")
    return RULES[name].build(net, **options)
