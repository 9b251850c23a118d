"""Exact backprop baseline: a deterministic network trained by ``jax.grad``. NON-LOCAL.

The network has deterministic hidden layers and a stochastic output layer (the policy). The
output samples an action and receives the same broadcast reward as every team rule, so the
baseline sees the same information; hidden weights get the *exact* gradient of the surrogate

    J(θ) = mean_b[(R_b − β) · log π(a_b | x_b; θ)],

back-propagated through the hidden layers. This is the "backprop" baseline of the team papers
(Chung 2021, 2022): REINFORCE at the output, exact backprop below. Backpropagation is a
non-local quantity (each hidden weight reads error signals from all layers above); that is the
point of comparison, not a property of the local rules.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from plastix.nets import Bernoulli, Network, Softmax
from plastix.rules._base import Rule
from plastix.rules._baseline import BaselineState, make_baseline
from plastix.types import Array


class BackpropState(NamedTuple):
    baseline: BaselineState  # running/learned reward baseline


def backprop(net: Network, baseline: str = "none", baseline_rate: float = 0.01, critic_lr: float = 1e-3) -> Rule:
    r"""Exact gradient of the REINFORCE surrogate through deterministic hidden layers (non-local).

    .. math:: g = -\nabla_\theta \frac{1}{B}\sum_b (R_b - \beta)\,\log \pi(a_b \mid x_b; \theta)

    Args:
        net: the network (deterministic hidden layers, stochastic output), used to recompute
            ``log π`` under ``jax.grad``.
        baseline, baseline_rate, critic_lr: as for :func:`~plastix.rules.reinforce`.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from plastix.nets import deterministic_mlp
        >>> from plastix.random import hash_sampler
        >>> from plastix.rules import backprop
        >>> net = deterministic_mlp(6, (4,))
        >>> params = net.init(jax.random.key(0))
        >>> rule = backprop(net)
        >>> out, trace = net.sample(params, jnp.ones((8, 6)), jax.random.key(1), hash_sampler())
        >>> grads, _ = rule.update(trace, jnp.ones(8), rule.init(params), params)
        >>> grads[1]["W"].shape
        (4, 1)
    """
    base_init, centre = make_baseline(baseline, baseline_rate, critic_lr)

    def init(params) -> BackpropState:
        return BackpropState(base_init(params))

    def update(trace, signal, state: BackpropState, params):
        x = trace[0].x  # (B, n_in) the network input
        hs = tuple(layer.h for layer in trace)  # sampled output (hidden values are recomputed)
        centred, bstate = centre(state.baseline, x, signal)
        centred = jax.lax.stop_gradient(centred)

        def surrogate(p):
            return -jnp.mean(centred * net.log_prob(p, x, hs))

        return jax.grad(surrogate)(params), BackpropState(bstate)

    return Rule(init, update)


def target_value(layer, y: Array, action: str) -> Array:
    """The output layer's stored value for the correct action ``y`` (B,): the sample a perfect policy draws.

    ``action="sign"``: ``y ∈ {−1, +1}`` as a Bernoulli unit's 0/1 (or ±1) value, or a two-way softmax's
    one-hot outcome; ``action="real"``: ``y`` itself as the Gaussian unit's value.
    """
    if action == "real":
        return y[:, None]
    if isinstance(layer, Softmax):
        return jax.nn.one_hot(((y + 1) / 2).astype(jnp.int32), layer.n, dtype=y.dtype)
    if isinstance(layer, Bernoulli):
        return ((y + 1) / 2 if layer.values == "01" else y)[:, None]
    raise ValueError(f"no correct-action value for a {type(layer).__name__} output and a {action!r} action")


def backprop_supervised(net: Network, action: str = "sign") -> Rule:
    r"""Supervised upper bound: exact cross-entropy on the task's *correct* action. NON-LOCAL, NOT RL.

    .. math:: g = -\nabla_\theta \frac{1}{B}\sum_b \log \pi(a^*_b \mid x_b; \theta)

    The same deterministic network as :func:`backprop`, but the signal is the task's target ``y``
    (``Rule.wants_target``), not the reward: every sample says which action was right, so the output
    never stalls where a REINFORCE output saturates (p(1 − p) = 0 in float32 gives
    :func:`backprop` an exactly zero gradient on the patterns it gets wrong). For a Gaussian output
    (``action="real"``) the loss is the squared error ``(y − μ)²/(2σ²)``. This is a ceiling for the
    comparison tables of tasks that define a correct action, not a reinforcement-learning baseline.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from plastix.nets import deterministic_mlp
        >>> from plastix.random import hash_sampler
        >>> from plastix.rules import backprop_supervised
        >>> net = deterministic_mlp(6, (4,))
        >>> params = net.init(jax.random.key(0))
        >>> rule = backprop_supervised(net)
        >>> out, trace = net.sample(params, jnp.ones((8, 6)), jax.random.key(1), hash_sampler())
        >>> grads, _ = rule.update(trace, jnp.ones(8), rule.init(params), params)
        >>> grads[1]["W"].shape
        (4, 1)
    """
    if action not in ("sign", "real"):
        raise ValueError(f"backprop_supervised needs a task with a correct action (sign or real), got {action!r}")

    def init(params) -> tuple:
        return ()

    def update(trace, target, state, params):
        x = trace[0].x  # (B, n_in) the network input
        hs = tuple(layer.h for layer in trace[:-1]) + (target_value(net.output, target, action),)

        def loss(p):
            return -jnp.mean(net.log_prob(p, x, hs))

        return jax.grad(loss)(params), state

    return Rule(init, update, wants_target=True)
