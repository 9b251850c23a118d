r"""COPI — constrained parameter inference (Ahmad, Schrader & van Gerven, TMLR 2023), and its baselines.

Implemented from the equations of spec copi.md §3–§6 only (the reference code is not open source).
Notation: batch of N samples, rows = samples; per layer the trace holds the decorrelated input
``X`` (N × d_in) and the pre-activation ``A`` (N × d_out); ``⟨·⟩`` is the batch mean;
``q = ⟨x ⊙ x⟩`` the per-input second moment.

**Top-down perturbations** (the credit signal, §3). Output: ``δ_L = λ (t − a_L) ⊙ f′(a_L)``
(``output_fprime=True`` keeps the reference's f′ on the linear output; ``False`` drops it).
Hidden layers, one of

* ``"bp"`` — BP-aligned: ``Δ_l = f′(A_l) ⊙ (Δ_{l+1} W_{l+1} R_{l+1})``, back through both W and R.
  **Non-local**: it reads the transposes of the layer above's W and R. It equals ``−λ ∂L̃/∂a_l``
  with ``L̃ = ⟨Σ_k ½ f′(a_{L,k}) (t_k − a_{L,k})²⟩`` (:func:`surrogate_loss`).
* ``"fa"`` — feedback alignment: ``Δ_l = f′(A_l) ⊙ (Δ_{l+1} B_{l+1}ᵀ)`` with fixed random B
  (drawn once, held in the rule state, never learned); R is ignored on the way down.

The perturbed state of a layer is ``z = a + δ``.

**Weight rules** (§4), returned in loss convention (``W ← W − η g``, so ``optax.sgd(η)`` applies
the paper's ascent step ``ΔW = −η g``):

* ``"copi"`` — ``ΔW = η [⟨z xᵀ⟩ − W diag(q)]``: every term is local to the synapse j → i
  (pre-activity x_j, the perturbed post-state z_i and the weight itself);
* ``"bp"`` — ``ΔW = η ⟨δ xᵀ⟩`` (BP with decorrelation, or BP + Adam when R ≡ I). With
  BP-aligned δ this is exactly SGD with rate ηλ on L̃ (§6).

**Decorrelation** (§5): ``C = ⟨x xᵀ⟩ − diag(q)`` (raw second moments, diagonal removed) and
``ΔR = −η C R`` (``"cr"``, default) or ``ΔR = −η R C`` (``"rc"``, the "bio" order). Computed
without forming C or any d × d × d product (:func:`decorrelation_grad`)::

    C R = Xᵀ(X R)/N − diag(q) R          R C = (R Xᵀ) X / N − R diag(q)

O(N d²) per layer and batch instead of O(d³); :func:`decorrelation_grad_naive` forms C and is the
test oracle.

The rule follows the project contract: ``update(trace, signal, state, params) -> (grads, state)``
with ``signal`` the one-hot target batch (N, n_out) and ``grads = {"W": …, "R": …}``.
"""

from __future__ import annotations

from typing import Sequence

import jax.numpy as jnp

from plastix.nets.decorrelated import CopiTrace, init_feedback, leaky_relu_grad
from plastix.rules._base import Rule
from plastix.types import Array

WEIGHT_RULES = ("copi", "bp")
PERTURBATIONS = ("bp", "fa")
DECORRELATIONS = ("none", "cr", "rc")


def surrogate_loss(a_L: Array, t: Array, slope: float = 0.1, output_fprime: bool = True) -> Array:
    """``L̃ = ⟨Σ_k ½ f′(a_{L,k}) (t_k − a_{L,k})²⟩`` (f′ held constant: it is piecewise constant)."""
    w = leaky_relu_grad(a_L, slope) if output_fprime else jnp.ones_like(a_L)
    return jnp.mean(jnp.sum(0.5 * w * (t - a_L) ** 2, axis=-1))


def output_perturbation(a_L: Array, t: Array, lam: float, slope: float = 0.1, output_fprime: bool = True) -> Array:
    """``δ_L = λ (t − a_L) ⊙ f′(a_L)`` (or without f′)."""
    err = lam * (t - a_L)
    return err * leaky_relu_grad(a_L, slope) if output_fprime else err


def hidden_perturbations(trace: Sequence[CopiTrace], params: dict, delta_L: Array, slope: float = 0.1,
                         feedback: Sequence[Array] | None = None) -> tuple[Array, ...]:
    """Every layer's δ, top down. ``feedback=None``: BP-aligned through W and R (non-local);
    otherwise feedback alignment through the fixed ``feedback`` matrices (R ignored)."""
    Ws, Rs = params["W"], params["R"]
    deltas = [delta_L]
    for l in range(len(trace) - 2, -1, -1):  # layer l's δ from layer l+1's
        d = deltas[0]
        if feedback is None:
            back = d @ Ws[l + 1]
            if Rs is not None:
                back = back @ Rs[l + 1]
        else:
            back = d @ feedback[l].T
        deltas.insert(0, leaky_relu_grad(trace[l].a, slope) * back)
    return tuple(deltas)


def second_moment(x: Array) -> Array:
    """``q = ⟨x ⊙ x⟩`` over the batch."""
    return jnp.mean(x * x, axis=0)


def copi_weight_grad(tr: CopiTrace, delta: Array, W: Array) -> Array:
    """Loss-convention COPI gradient ``−(⟨z xᵀ⟩ − W diag q)`` with ``z = a + δ``."""
    n = tr.x.shape[0]
    z = tr.a + delta
    return W * second_moment(tr.x)[None, :] - (z.T @ tr.x) / n


def bp_weight_grad(tr: CopiTrace, delta: Array) -> Array:
    """Loss-convention BP gradient ``−⟨δ xᵀ⟩``."""
    return -(delta.T @ tr.x) / tr.x.shape[0]


def decorrelation_grad(x: Array, R: Array, order: str = "cr") -> Array:
    """``C R`` (order ``"cr"``) or ``R C`` (``"rc"``) in O(N d²), never forming C (spec §5)."""
    n = x.shape[0]
    q = second_moment(x)
    if order == "cr":
        return x.T @ (x @ R) / n - q[:, None] * R
    if order == "rc":
        return (R @ x.T) @ x / n - R * q[None, :]
    raise ValueError(f"unknown decorrelation order {order!r}; allowed: cr, rc")


def decorrelation_grad_naive(x: Array, R: Array, order: str = "cr", keep_diagonal: bool = False) -> Array:
    """Reference form: build ``C = XᵀX/N − diag(q)`` then multiply (O(d³)); the test oracle.
    ``keep_diagonal=True`` is the negative control (C with its diagonal left in)."""
    n = x.shape[0]
    C = x.T @ x / n
    if not keep_diagonal:
        C = C - jnp.diag(jnp.diag(C))
    return C @ R if order == "cr" else R @ C


def copi(sizes: Sequence[int], weight_rule: str = "copi", perturbation: str = "bp", decorrelation: str = "cr",
         loss_multiplier: float = 1000.0, slope: float = 0.1, output_fprime: bool = True,
         feedback_key: Array | None = None) -> Rule:
    """The COPI family as one rule.

    Args:
        sizes: layer sizes ``(d_0, …, d_L)`` (needed for the FA feedback matrices).
        weight_rule: ``"copi"`` or ``"bp"``.
        perturbation: hidden perturbation, ``"bp"`` (BP-aligned, non-local) or ``"fa"``.
        decorrelation: ``"none"`` (R ≡ I, no R grads), ``"cr"`` or ``"rc"``.
        loss_multiplier: λ, scales the output error.
        slope: leaky-ReLU slope of f and f′.
        output_fprime: apply f′ to the output error (the reference does).
        feedback_key: key of the fixed FA matrices (required for ``"fa"``).

    ``update(trace, targets, state, params) -> ({"W": grads, "R": grads or None}, state)``; the
    state is ``{"B": feedback matrices}`` for FA and ``{}`` otherwise.
    """
    if weight_rule not in WEIGHT_RULES:
        raise ValueError(f"unknown weight rule {weight_rule!r}; allowed: {', '.join(WEIGHT_RULES)}")
    if perturbation not in PERTURBATIONS:
        raise ValueError(f"unknown perturbation {perturbation!r}; allowed: {', '.join(PERTURBATIONS)}")
    if decorrelation not in DECORRELATIONS:
        raise ValueError(f"unknown decorrelation {decorrelation!r}; allowed: {', '.join(DECORRELATIONS)}")
    if perturbation == "fa" and feedback_key is None:
        raise ValueError("perturbation='fa' needs feedback_key for its fixed random matrices")

    def init(params):
        if perturbation != "fa":
            return {}
        return {"B": init_feedback(feedback_key, sizes, params["W"][0].dtype)}

    def update(trace, targets, state, params):
        delta_L = output_perturbation(trace[-1].a, targets, loss_multiplier, slope, output_fprime)
        deltas = hidden_perturbations(trace, params, delta_L, slope, state.get("B"))
        if weight_rule == "copi":
            gW = tuple(copi_weight_grad(tr, d, W) for tr, d, W in zip(trace, deltas, params["W"]))
        else:
            gW = tuple(bp_weight_grad(tr, d) for tr, d in zip(trace, deltas))
        gR = None
        if decorrelation != "none" and params["R"] is not None:
            gR = tuple(decorrelation_grad(tr.x, R, decorrelation) for tr, R in zip(trace, params["R"]))
        return {"W": gW, "R": gR}, state

    return Rule(init, update, wants_target=True)
