"""Exact oracles for learning rules on tiny networks (spec team_rules.md §13).

Every hidden and output configuration of a small network of discrete units is enumerated, so

    E[R] = Σ_config Π_l P(h_l | h_{l−1}) · R̄(output)

is an exact, differentiable sum: ``jax.grad`` of it is the true gradient, and a rule's expected
update is ``Σ_config P(config) · update(config)``. Later rules (Weight Maximization, UWM, STE,
Boltzmann machines) reuse these helpers; run them in float64 (``jax.enable_x64``).

Example:
    >>> import jax, jax.numpy as jnp
    >>> from plastix.nets import stochastic_mlp
    >>> from plastix.teams.oracles import exact_gradient, expected_update, gaussian_params, max_relative_error
    >>> from plastix.rules import reinforce
    >>> with jax.enable_x64(True):
    ...     net = stochastic_mlp(3, (2,), 1)
    ...     params = gaussian_params(net, jax.random.key(0), jnp.float64)
    ...     x = jnp.array([1.0, -1.0, 1.0])
    ...     reward = lambda out: 2 * out[:, 0] - 1
    ...     err = max_relative_error(expected_update(reinforce(), net, params, x, reward),
    ...                              exact_gradient(net, params, x, reward))
    >>> bool(err < 1e-10)
    True
"""

from __future__ import annotations

import itertools
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from plastix.nets import Boltzmann, Deterministic, Network, Recurrent
from plastix.random import Sampler, hash_sampler
from plastix.rules import Rule
from plastix.types import Array, Params, PRNGKey

RewardFn = Callable[[Array], Array]  # output sample (C, n_L) -> reward (C,)


class Configurations(NamedTuple):
    """Every joint configuration of a network's stochastic layers for one input."""

    x: Array  # (C, n_in) the input repeated per configuration
    hs: tuple[Array, ...]  # one (C, n_l) array per layer (deterministic layers: placeholder zeros)


def enumerate_configurations(net: Network, x: Array) -> Configurations:
    """All ``C = Π_l |support_l|`` configurations of ``net``'s layers for the single input ``x``."""
    supports = []
    for layer in net.layers:
        if isinstance(layer, Deterministic):
            supports.append(np.zeros((1, layer.n)))
        elif hasattr(layer, "support"):
            supports.append(np.asarray(layer.support()))
        else:
            raise ValueError(f"{type(layer).__name__} units have no finite support to enumerate")
    combos = list(itertools.product(*[range(len(s)) for s in supports]))
    if len(combos) > 2**16:
        raise ValueError(f"{len(combos)} configurations; enumeration is for tiny networks")
    x = jnp.asarray(x)
    hs = tuple(jnp.asarray(s[[c[i] for c in combos]], x.dtype) for i, s in enumerate(supports))
    return Configurations(jnp.broadcast_to(x, (len(combos), x.shape[-1])), hs)


def config_log_probs(net: Network, params: Params, conf: Configurations) -> Array:
    """log P(configuration | x), (C,)."""
    return net.log_prob(params, conf.x, conf.hs)


def expected_reward(net: Network, params: Params, x: Array, reward_fn: RewardFn) -> Array:
    """Exact ``E[R | x]`` by enumeration (differentiable in ``params``)."""
    conf = enumerate_configurations(net, x)
    p = jnp.exp(config_log_probs(net, params, conf))
    return jnp.sum(p * reward_fn(conf.hs[-1]))


def exact_gradient(net: Network, params: Params, x: Array, reward_fn: RewardFn) -> Params:
    """The true gradient in loss convention, ``−∇_θ E[R | x]``."""
    return jax.grad(lambda p: -expected_reward(net, p, x, reward_fn))(params)


def expected_update(
    rule: Rule, net: Network, params: Params, x: Array, reward_fn: RewardFn, state=None
) -> Params:
    """A rule's exact expected update ``Σ_c P(c)·update(trace_c, R_c)`` (each config a batch of 1)."""
    conf = enumerate_configurations(net, x)
    p = jnp.exp(config_log_probs(net, params, conf))
    reward = reward_fn(conf.hs[-1])
    state = rule.init(params) if state is None else state

    def one(xc, hs, r):
        trace = net.trace(params, xc[None], tuple(h[None] for h in hs))
        return rule.update(trace, r[None], state, params)[0]

    per_config = jax.vmap(one)(conf.x, conf.hs, reward)
    return jax.tree.map(lambda u: jnp.tensordot(p, u, axes=1), per_config)


def monte_carlo_update(
    rule: Rule, net: Network, params: Params, x: Array, reward_fn: RewardFn, key: PRNGKey, n: int,
    sampler: Sampler | None = None, state=None,
) -> tuple[Params, Params]:
    """Mean and standard error of ``n`` independent single-sample updates at input ``x``."""
    sampler = sampler or hash_sampler()
    state = rule.init(params) if state is None else state
    xs = jnp.broadcast_to(jnp.asarray(x), (n, x.shape[-1]))
    out, trace = net.sample(params, xs, key, sampler)
    reward = reward_fn(out)

    def one(tr, r):
        return rule.update(jax.tree.map(lambda a: a[None], tr), r[None], state, params)[0]

    ups = jax.vmap(one)(trace, reward)
    mean = jax.tree.map(lambda u: u.mean(0), ups)
    se = jax.tree.map(lambda u: u.std(0, ddof=1) / np.sqrt(n), ups)
    return mean, se


def gaussian_params(net: Network, key: PRNGKey, dtype=jnp.float32, w_std: float = 1.0, b_std: float = 0.5):
    """Test parameters: weights N(0, w_std²), biases N(0, b_std²) (the spec's oracle networks).

    Lateral layers also get ``U`` ~ N(0, w_std²) with zero diagonal (symmetric for Boltzmann).
    """
    keys = jax.random.split(key, 2 * len(net.layers))
    params = []
    for i, (layer, n_in, n_out) in enumerate(zip(net.layers, net.sizes[:-1], net.sizes[1:])):
        p = {"W": w_std * jax.random.normal(keys[2 * i], (n_in, n_out), dtype),
             "b": b_std * jax.random.normal(keys[2 * i + 1], (n_out,), dtype)}
        if isinstance(layer, (Boltzmann, Recurrent)):
            U = w_std * jax.random.normal(jax.random.fold_in(key, 1000 + i), (n_out, n_out), dtype)
            U = (U + U.T) / np.sqrt(2) if isinstance(layer, Boltzmann) else U
            p["U"] = U * (1 - jnp.eye(n_out, dtype=dtype))
        params.append(p)
    return tuple(params)


def max_relative_error(a: Params, b: Params) -> float:
    """``max |a − b| / max |b|`` over all leaves."""
    diff = max(float(jnp.max(jnp.abs(u - v))) for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)))
    scale = max(float(jnp.max(jnp.abs(v))) for v in jax.tree.leaves(b))
    return diff / scale


def cosine(a: Params, b: Params) -> float:
    """Cosine between two update trees (the alignment diagnostic)."""
    va = jnp.concatenate([jnp.ravel(u) for u in jax.tree.leaves(a)])
    vb = jnp.concatenate([jnp.ravel(u) for u in jax.tree.leaves(b)])
    return float(va @ vb / (jnp.linalg.norm(va) * jnp.linalg.norm(vb)))
