"""Weight Maximization: every hidden unit is rewarded by the growth of its outgoing weights.

S. Chung, *Learning by Competition of Self-Interested Reinforcement Learning Agents*, AAAI 2022
(arXiv 2010.09770); reference code ``stephen-chung-mh/weight_max`` (spec team_rules.md §6).

Output units are trained by REINFORCE on the global reward. Hidden unit ``i`` of layer ``l−1``
instead receives the first-order change of the p-norm of its outgoing weights under the raw
per-sample update of the layer above — top-down, per sample, with the weights *already updated*
by this step (the reference's order):

    R_L[b, j] = R[b]
    for l = L … 1:
        G_l[b,i,j] = E^W_l[b,i,j] · R_l[b,j]                         # raw update, no lr
        W_l ← W_l + opt_l(mean_b G_l)                                 # per-layer optimizer
        R_{l−1}[b,i] = Σ_j p |W_l[i,j]|^{p−1} sign(W_l[i,j]) G_l[b,i,j]   # post-step W_l

With eligibility traces (``trace_decay`` κ = γλ > 0, for actor–critic), ``E^W_l ← κ E^W_l +
h_{l−1} ⊗ v_l`` per sample (and ``E^b`` likewise), and the same formula applies with ``E`` the
accumulated trace, so the WM signal inherits temporal credit; :func:`plastix.rules.reset_traces` zeroes
them at episode starts. For ``E^W = h_{l−1} ⊗ v_l`` (no traces) the sum is ``p · h_{l−1,b,i} Σ_j f(W_l)_{ij} v_{l,b,j}
R_l[b,j]``, so a {0,1} unit that did not fire gets reward 0. Bias updates do not enter the signal.
Each unit reads only its own trace, its own outgoing weights and the change it caused in them:
the rule is local.

Because the signal uses post-step weights, the rule owns one optimizer per layer (as the
reference owns one Adam per parameter) and returns *updates*, not gradients; the trainer applies
them directly. ``layer_opts=None`` gives the lr → 0 form (weights before the step) returning
loss-convention gradients like every other rule — the form the bias oracle (O4) studies.

WM is biased (see ``tests/test_oracle_team_rules.py``); UWM (:mod:`plastix.rules.uwm`) fixes that.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import optax

from plastix.rules._base import Rule, score_grads
from plastix.types import Array


class WeightMaxState(NamedTuple):
    opt: tuple[Any, ...]  # one optimizer state per layer (empty when layer_opts is None)
    traces: tuple[Any, ...]  # per layer {"W": (B, n_in, n_out), "b": (B, n_out)}; () when κ = 0


def weight_norm_grad(W: Array, p: float) -> Array:
    """``∂ Σ_j |W_ij|^p / ∂W = p |W|^{p−1} sign(W)`` (elementwise)."""
    return p * jnp.abs(W) ** (p - 1) * jnp.sign(W)


def unit_reward(x: Array, v: Array, reward: Array, W: Array, p: float) -> Array:
    """Reward of the sending units: ``R_{l−1}[b,i] = Σ_j f(W)_ij · x[b,i] v[b,j] reward[b,j]``, (B, n_in)."""
    return x * ((v * reward) @ weight_norm_grad(W, p).T)


def weight_max(
    p: float = 2.0,
    layer_opts: Sequence[optax.GradientTransformation] | None = None,
    trace_decay: float = 0.0,
    batch: int = 1,
) -> Rule:
    r"""Weight Maximization (local), exactly as the reference code orders it.

    .. math::
        R_{l-1}[b,i] = \sum_j p\,|W'_{l,ij}|^{p-1}\operatorname{sign}(W'_{l,ij})\; h_{l-1,b,i}\,v_{l,b,j}\,R_l[b,j]

    with :math:`W'_l` the weights after this step's update of layer :math:`l`.

    Args:
        p: exponent of the weight norm (config key ``weight_max``; 2 in every reference config).
        layer_opts: one optax transformation per layer, applied to ``(layer_grads,)`` in loss
            convention (e.g. ``plastix.optim.make_optimizer("adam", (lr_l,))``). The rule then
            returns updates. ``None``: weights before the step, returns loss-convention gradients.
        trace_decay: κ = γλ of accumulating per-sample eligibility traces; 0 (one-step tasks) keeps
            no trace state.
        batch: batch size of the traces (κ > 0 only; 1 in the reference RL configs).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from plastix.nets import stochastic_mlp
        >>> from plastix.optim import make_optimizer
        >>> from plastix.random import hash_sampler
        >>> from plastix.rules import weight_max
        >>> net = stochastic_mlp(6, (4, 3))
        >>> params = net.init(jax.random.key(0))
        >>> rule = weight_max(layer_opts=[make_optimizer("adam", (lr,)) for lr in (1e-2, 1e-3, 1e-4)])
        >>> out, trace = net.sample(params, jnp.ones((2, 6)), jax.random.key(1), hash_sampler())
        >>> updates, state = rule.update(trace, jnp.ones(2), rule.init(params), params)
        >>> updates[0]["W"].shape
        (6, 4)

    References:
        S. Chung, AAAI 2022, arXiv:2010.09770.
    """

    def init(params) -> WeightMaxState:
        traces = ()
        if trace_decay:
            traces = tuple({"W": jnp.zeros((batch,) + lp["W"].shape, lp["W"].dtype),
                            "b": jnp.zeros((batch,) + lp["b"].shape, lp["b"].dtype)} for lp in params)
        if layer_opts is None:
            return WeightMaxState((), traces)
        if len(layer_opts) != len(params):
            raise ValueError(f"{len(layer_opts)} layer optimizers for {len(params)} layers")
        return WeightMaxState(tuple(o.init((lp,)) for o, lp in zip(layer_opts, params)), traces)

    def update(trace, signal, state: WeightMaxState, params):
        n = len(trace)
        out: list[Any] = [None] * n
        opt_states = list(state.opt)
        new_traces = list(state.traces)
        reward = jnp.broadcast_to(signal[:, None], trace[-1].v.shape)  # R_L (B, n_L)
        for l in range(n - 1, -1, -1):
            t = trace[l]
            if trace_decay:
                E = {"W": trace_decay * state.traces[l]["W"] + t.x[:, :, None] * t.v[:, None, :],  # (B, i, j)
                     "b": trace_decay * state.traces[l]["b"] + t.v}
                new_traces[l] = E
                G = E["W"] * reward[:, None, :]  # raw per-sample update (B, i, j)
                g = {"W": -G.mean(0), "b": -(E["b"] * reward).mean(0)}
            else:
                g = score_grads(t, reward)  # loss convention: −mean_b G_l
            if layer_opts is None:
                out[l], W_post = g, params[l]["W"]
            else:
                upd, opt_states[l] = layer_opts[l].update((g,), opt_states[l], (params[l],))
                out[l] = upd[0]
                W_post = params[l]["W"] + upd[0]["W"]
            if l > 0:
                W_post = jax.lax.stop_gradient(W_post)
                if trace_decay:
                    reward = jnp.einsum("ij,bij->bi", weight_norm_grad(W_post, p), G)  # R_{l−1}
                else:
                    reward = unit_reward(t.x, t.v, reward, W_post, p)  # R_{l−1}
        return tuple(out), WeightMaxState(tuple(opt_states), tuple(new_traces))

    return Rule(init, update)
