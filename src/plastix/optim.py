"""Optimisers: optax transforms with per-layer learning rates, and the reference Adam.

Every rule returns loss-convention pseudo-gradients, so any optax optimizer applies. The team
papers' configs give a different Adam step size per layer (e.g. 1e−2, 1e−3, 1e−4 for the
hidden, hidden and output layers): :func:`scale_by_layer_lr` makes that first class for params
that are a tuple of per-layer dicts (or any tuple-of-layers pytree). Each entry is a float or an
optax schedule ``step -> lr``.

The reference implementation's hand-written Adam drops its bias correction once a parameter has
had 1000 updates (spec team_rules.md §4, "quirk"): from ``t = 1000`` on ``m̂ = m, v̂ = v``, so
every step grows by ``1/sqrt(1 − 0.999^999) ≈ 1.26``. :func:`scale_by_reference_adam` reproduces
it exactly; plastix uses standard Adam by default.
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Sequence, Union

import jax
import jax.numpy as jnp
import optax

from plastix.types import Array

LearningRate = Union[float, Callable[[Array], Array]]
OPTIMIZERS = ("adam", "sgd")


class ScaleByLayerLRState(NamedTuple):
    count: Array  # () int32, number of updates so far (for schedules)


def scale_by_layer_lr(lrs: Sequence[LearningRate], leaf_lrs: dict[str, LearningRate] | None = None
                      ) -> optax.GradientTransformation:
    """Multiplies layer ``l``'s updates by ``−lr_l`` (descent). ``lrs`` has one entry per layer.

    ``leaf_lrs`` overrides the rate of named leaves in every layer, e.g. ``{"U": 1e-4}`` for the
    lateral weights of Boltzmann / recurrent layers.
    """
    lrs = tuple(lrs)
    leaf_lrs = dict(leaf_lrs or {})

    def init(params):
        if len(params) != len(lrs):
            raise ValueError(f"{len(lrs)} learning rates for {len(params)} layers")
        return ScaleByLayerLRState(jnp.zeros((), jnp.int32))

    def update(updates, state, params=None):
        out = []
        for lr, layer in zip(lrs, updates):
            rates = {k: leaf_lrs.get(k, lr) for k in layer} if isinstance(layer, dict) else None
            if rates is None:
                step = lr(state.count) if callable(lr) else lr
                out.append(jax.tree.map(lambda g, s=step: -s * g, layer))
                continue
            out.append({k: -(r(state.count) if callable(r) else r) * g for (k, g), r in
                        zip(layer.items(), rates.values())})
        return tuple(out), ScaleByLayerLRState(state.count + 1)

    return optax.GradientTransformation(init, update)


class ScaleByReferenceAdamState(NamedTuple):
    count: Array  # () int32, updates so far (one counter: every parameter updates each step)
    mu: optax.Updates  # first moment, tree like params
    nu: optax.Updates  # second moment, tree like params


def scale_by_reference_adam(
    b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8, correction_steps: int | None = 1000
) -> optax.GradientTransformation:
    r"""Adam's scaling as in the reference code, bias correction dropped from ``t = correction_steps``.

    .. math::
        m \leftarrow \beta_1 m + (1-\beta_1) g,\quad v \leftarrow \beta_2 v + (1-\beta_2) g^2,\quad
        \hat m = m / (1-\beta_1^t),\ \hat v = v/(1-\beta_2^t)\ \text{if } t < T \text{ else } m, v

    and the update is :math:`\hat m / (\sqrt{\hat v} + \epsilon)`. ``correction_steps=None``
    keeps the correction forever (standard Adam, ε outside the square root).
    """

    def init(params):
        zeros = jax.tree.map(jnp.zeros_like, params)
        return ScaleByReferenceAdamState(jnp.zeros((), jnp.int32), zeros, zeros)

    def update(updates, state, params=None):
        t = state.count + 1
        mu = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, state.mu, updates)
        nu = jax.tree.map(lambda v, g: b2 * v + (1 - b2) * g * g, state.nu, updates)
        tf = t.astype(jnp.result_type(float))
        c1, c2 = 1 - b1**tf, 1 - b2**tf
        if correction_steps is not None:
            c1 = jnp.where(t < correction_steps, c1, 1.0)
            c2 = jnp.where(t < correction_steps, c2, 1.0)
        out = jax.tree.map(lambda m, v: (m / c1) / (jnp.sqrt(v / c2) + eps), mu, nu)
        return out, ScaleByReferenceAdamState(t, mu, nu)

    return optax.GradientTransformation(init, update)


def make_optimizer(
    name: str,
    lrs: Sequence[LearningRate],
    *,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    reference_quirk: bool = False,
    leaf_lrs: dict[str, LearningRate] | None = None,
) -> optax.GradientTransformation:
    """Adam (reference settings β = 0.9/0.999, ε = 1e−8) or SGD with per-layer rates.

    Args:
        name: ``"adam"`` or ``"sgd"``.
        lrs: one learning rate (float or schedule) per layer.
        reference_quirk: Adam only; drop bias correction from t = 1000 as the reference does.
        leaf_lrs: rates of named leaves overriding their layer's (e.g. ``{"U": …}``).
    """
    if name == "adam":
        inner = (
            scale_by_reference_adam(b1, b2, eps, 1000)
            if reference_quirk
            else optax.scale_by_adam(b1=b1, b2=b2, eps=eps)
        )
        return optax.chain(inner, scale_by_layer_lr(lrs, leaf_lrs))
    if name == "sgd":
        return scale_by_layer_lr(lrs, leaf_lrs)
    raise ValueError(f"unknown optimizer {name!r}; allowed: {', '.join(OPTIMIZERS)}")


class ScaleByAdamConstantCorrectionState(NamedTuple):
    mu: optax.Updates
    nu: optax.Updates


def scale_by_adam_constant_correction(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8
                                      ) -> optax.GradientTransformation:
    r"""The COPI reference's Adam (spec copi.md §4, "scale_by_adam_reference"): the bias correction
    divides by the *constants* ``1 − β₁`` and ``1 − β₂`` instead of ``1 − β^t``:

    .. math:: m \leftarrow \beta_1 m + (1-\beta_1) g,\ v \leftarrow \beta_2 v + (1-\beta_2) g^2,\
        \text{update} = \frac{m/(1-\beta_1)}{\sqrt{v/(1-\beta_2)} + \epsilon}

    At t = 1 this is standard Adam (``g/(|g| + ε)``); for a constant gradient the step tends to
    ``10/sqrt(1000) ≈ 0.316`` of Adam's. (Not the team-rules quirk :func:`scale_by_reference_adam`.)
    Chain with ``optax.scale(-lr)``.
    """

    def init(params):
        zeros = jax.tree.map(jnp.zeros_like, params)
        return ScaleByAdamConstantCorrectionState(zeros, zeros)

    def update(updates, state, params=None):
        mu = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, state.mu, updates)
        nu = jax.tree.map(lambda v, g: b2 * v + (1 - b2) * g * g, state.nu, updates)
        out = jax.tree.map(lambda m, v: (m / (1 - b1)) / (jnp.sqrt(v / (1 - b2)) + eps), mu, nu)
        return out, ScaleByAdamConstantCorrectionState(mu, nu)

    return optax.GradientTransformation(init, update)
