"""The alignment diagnostic: how well a rule's update points along the true gradient.

This is how users judge a credit-assignment rule, so the trainer can log it as a metric
(``--alignment``) next to reward and accuracy, and the run's plot shows it:

* ``"exact"`` (small networks, multiplexer up to 11 bits): the cosine between the rule's exact
  expected update and the exact gradient of the expected reward, both averaged over *every* input
  of the task and computed by enumerating every unit configuration (:mod:`plastix.teams.oracles`), on
  the hidden layers (the output layer is plain REINFORCE in every team rule). Unbiased rules give 1.
* ``"ste"`` (any size): the cosine between the rule's batch update and the straight-through
  (STE) batch update on the same samples and rewards, hidden layers only. A cheap, noisy proxy:
  STE is itself biased, and at batch 1 single-sample noise dominates, so read it as a trend.
"""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np

from plastix.nets import Network
from plastix.teams.oracles import enumerate_configurations, expected_update
from plastix.rules import Rule
from plastix.types import Array, Params

ALIGNMENTS = ("none", "exact", "ste")
MAX_EXACT_CONFIGS = 2**13  # per input: Π_l |support_l|


def tree_cosine(a: Params, b: Params) -> Array:
    """Cosine between two update trees (traceable; 0 if either is zero)."""
    dot = sum(jnp.vdot(u, v) for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)))
    na = jnp.sqrt(sum(jnp.vdot(u, u) for u in jax.tree.leaves(a)))
    nb = jnp.sqrt(sum(jnp.vdot(v, v) for v in jax.tree.leaves(b)))
    return jnp.where(na * nb > 0, dot / jnp.maximum(na * nb, 1e-30), 0.0)


def configurations_per_input(net: Network) -> int:
    n = 1
    for layer in net.layers:
        n *= len(layer.support()) if hasattr(layer, "support") else 1
    return n


def all_multiplexer_inputs(bits: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Every input of the ``bits``-input multiplexer (±1) and its target (±1)."""
    z = np.array(list(itertools.product([0, 1], repeat=bits)))
    idx = z[:, :k] @ (2 ** np.arange(k - 1, -1, -1))
    return (2.0 * z - 1).astype(np.float32), (2.0 * z[np.arange(len(z)), k + idx] - 1).astype(np.float32)


def exact_alignment(rule: Rule, net: Network, params: Params, X: Array, Y: Array, read_action, reward) -> Array:
    """Hidden-layer cosine of E_x[E[rule update | x]] and the exact gradient −∇ E_x E[R | x]."""

    def expected_reward(p):
        def one(x, y):
            conf = enumerate_configurations(net, x)
            prob = jnp.exp(net.log_prob(p, conf.x, conf.hs))
            return jnp.sum(prob * reward(read_action(conf.hs[-1]), jnp.broadcast_to(y, prob.shape)))

        return jnp.mean(jax.vmap(one)(X, Y))

    true = jax.grad(lambda p: -expected_reward(p))(params)

    def upd(x, y):
        return expected_update(rule, net, params, x, lambda out: reward(read_action(out), jnp.broadcast_to(y, out.shape[:1])))

    mean_upd = jax.tree.map(lambda u: u.mean(0), jax.vmap(upd)(X, Y))
    return tree_cosine(mean_upd[:-1], true[:-1])
