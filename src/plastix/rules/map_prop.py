"""MAP propagation: minimise the energy over the hidden values, then learn by local REINFORCE.

Chung (NeurIPS 2021, P4), spec ``team_rules.md`` §8, reproducing ``stephen-chung-mh/map_prop``
[ref]. Hidden layers are Gaussian, ``H_l ~ N(g(u_l), σ_l²)`` (softplus link in every release);
the output is a softmax, Bernoulli or linear-Gaussian layer. Before learning, the hidden values
are moved towards their MAP estimate given the input **and the output actually emitted**, by
``steps`` synchronous gradient steps on the energy

    E(H_1..H_{L−1}) = Σ_l ‖H_l − μ_l‖²/(2σ_l²) − log P(output | H_{L−1}),

    H_l ← H_l + η_l·[(μ_l − H_l)/σ_l² + v_{l+1} W_{l+1}ᵀ],    η_l = update_adj·σ_l²,

where ``v_{l+1}`` is the next layer's unit eligibility at the current values (the output stays
frozen). Every unit then applies REINFORCE to the minimised values:
``ΔW_l ∝ mean_b[R·H*_{l−1} ⊗ v*_l]``. At a fixed point ``v*_l = g'(u_l) ⊙ (v*_{l+1} W_{l+1}ᵀ)``,
which is backprop's delta recursion for ``log P(output | x)`` through the reparameterised network
with the noise held at its MAP value (oracle O5).

Output gate (critics, regression; §8.5): every eligibility is divided by ``y − μ_L`` and the
reward is ``target − μ_L``, so the output layer receives the exact regression update and the
hidden layers the reparameterised gradient of ``−(target − μ_L)²/(2σ_L²)`` at the MAP point
(oracle O6). With ``gate=True`` the rule's signal is the *target* (``Rule.wants_target``) and
the reward ``target − μ_L`` uses the post-minimisation mean, as the reference's regression does.

Locality: the update of every unit is local REINFORCE; the minimisation phase sends each layer's
eligibility down through the transposed forward weights ``W_{l+1}ᵀ`` (symmetric feedback), as in
P4. The default step count (20) and step size (0.5σ²) are the reference's.

Monotone descent (``descent="monotone"``, plastix [choice], not in P4 or its code): the fixed step
``η_l = 0.5σ_l²`` is a stable gradient step only while the weights above a layer stay small (for a
Gaussian layer under a Gaussian one, roughly ``‖W_{l+1}‖₂² < 3σ_{l+1}²/σ_l²``, from the curvature
``1/σ_l² + ‖W_{l+1}‖₂²/σ_{l+1}²`` of the energy in ``H_l``). Once they grow past that, the 20
synchronous steps *raise* the energy, by orders of magnitude, and the eligibilities computed at
those values are noise; on 6-bit parity with equal rates in every layer this is what makes the
weights run away and accuracy collapse (docs/families/teams.md). The monotone variant takes a step
for a sample only if it does not raise that sample's energy (beyond a relative 1e-5 of round-off);
otherwise that sample stays where it is and its step size halves. Where every fixed step lowers the
energy (fresh softplus networks, oracle O7) the two are identical; the default stays the
reference's ``"fixed"``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from plastix.nets import Gaussian, Network
from plastix.rules._base import Rule, score_grads
from plastix.rules._baseline import BaselineState, make_baseline
from plastix.types import Array, Params

GATE_GUARD = 1e-12  # |y − μ_L| below this is treated as this (the reference does not guard) [choice]
DESCENTS = ("fixed", "monotone")  # the minimisation's steps: the reference's, or energy-checked [choice]
RISE_TOL = 1e-5  # monotone descent: a relative energy rise below this is round-off, not a rise [choice]


class MapPropState(NamedTuple):
    baseline: BaselineState


def _hidden_layers(net: Network) -> tuple[Gaussian, ...]:
    hidden = net.layers[:-1]
    for layer in hidden:
        if not isinstance(layer, Gaussian):
            raise ValueError(f"map_prop needs Gaussian hidden units, got {type(layer).__name__}")
    return hidden  # type: ignore[return-value]


def _check_descent(descent: str) -> None:
    if descent not in DESCENTS:
        raise ValueError(f"unknown descent {descent!r}; allowed: {', '.join(DESCENTS)}")


def _first_mean(net: Network, params: Params, x: Array, h1: Array) -> Array:
    """μ_1 = g(x W_1 + b_1): the input is fixed during the minimisation, so this is loop-invariant."""
    return net.layers[0].trace(params[0], x, h1).mean


def _settle(net: Network, params: Params, mu_first: Array, hid: tuple[Array, ...], out: Array):
    """At the hidden values ``hid`` (output frozen at ``out``): every hidden layer's mean ``μ_l`` and
    ``−∂E/∂H_l = (μ_l − H_l)/σ_l² + v_{l+1} W_{l+1}ᵀ``, with ``v_{l+1}`` from the layer above's trace."""
    above = [layer.trace(p, below, h)  # layers 2..L at the current values
             for layer, p, below, h in zip(net.layers[1:], params[1:], hid, hid[1:] + (out,))]
    means = (mu_first,) + tuple(t.mean for t in above[:-1])
    down = tuple((mu - h) / layer.sigma2 + t_up.v @ params[l + 1]["W"].T
                 for l, (h, layer, mu, t_up) in enumerate(zip(hid, _hidden_layers(net), means, above)))
    return means, down


def _energy_at(net: Network, params: Params, hid: tuple[Array, ...], means: tuple[Array, ...], out: Array) -> Array:
    """E per sample, (B,), from the hidden values and their means (:func:`_settle`)."""
    e = sum(jnp.sum((h - mu) ** 2, axis=-1) / (2 * layer.sigma2) for h, mu, layer in zip(hid, means, _hidden_layers(net)))
    return e - net.output.log_prob(params[-1], hid[-1], out)


def minimise(net: Network, params: Params, x: Array, hs: tuple[Array, ...], steps: int = 20,
             update_adj: float = 0.5, unroll: int = 1, descent: str = "fixed"):
    """Run ``steps`` synchronous energy-descent steps on the hidden values; the output is frozen.

    Args:
        hs: the values of every layer (hidden..., output) from the forward sample.
        descent: ``"fixed"`` (the reference: every step is taken) or ``"monotone"`` (a step that
            would raise a sample's energy by more than ``RISE_TOL`` relative, float round-off near
            the minimum, is not taken, and that sample's step size halves; a NaN energy counts as a
            rise).

    Returns:
        The trace of the network at the minimised hidden values (eligibilities recomputed).
    """
    _check_descent(descent)
    etas = [update_adj * layer.sigma2 for layer in _hidden_layers(net)]
    out = hs[-1]
    mu_first = _first_mean(net, params, x, hs[0])

    def step(hid, down, scale=1.0):
        return tuple(h + scale * eta * d for h, eta, d in zip(hid, etas, down))

    def fixed(hid, _):
        return step(hid, _settle(net, params, mu_first, hid, out)[1]), None

    def monotone(carry, _):
        hid, e, down, scale = carry
        new = step(hid, down, scale[:, None])
        means, down_new = _settle(net, params, mu_first, new, out)
        e_new = _energy_at(net, params, new, means, out)
        ok = e_new <= e + RISE_TOL * jnp.abs(e)  # NaN: not taken

        def keep(a, b):
            return jnp.where(ok[:, None], a, b)
        return (tuple(map(keep, new, hid)), jnp.where(ok, e_new, e), tuple(map(keep, down_new, down)),
                jnp.where(ok, scale, scale / 2)), None

    start = tuple(hs[:-1])
    if descent == "fixed":
        hid, _ = jax.lax.scan(fixed, start, None, length=steps, unroll=unroll)
    else:
        means, down = _settle(net, params, mu_first, start, out)
        e0 = _energy_at(net, params, start, means, out)
        (hid, *_), _ = jax.lax.scan(monotone, (start, e0, down, jnp.ones_like(e0)), None, length=steps, unroll=unroll)
    return net.trace(params, x, hid + (out,))


def energy(net: Network, params: Params, x: Array, hs: tuple[Array, ...]) -> Array:
    """The MAP-prop energy per sample, (B,) (oracle O7)."""
    hid, out = tuple(hs[:-1]), hs[-1]
    means, _ = _settle(net, params, _first_mean(net, params, x, hs[0]), hid, out)
    return _energy_at(net, params, hid, means, out)


def gate(trace, target: Array):
    """The output gate: eligibilities divided by ``y − μ_L``; returns (trace, ``target − μ_L``)."""
    out = trace[-1]
    d = out.h[:, 0] - out.mean[:, 0]
    d = jnp.where(jnp.abs(d) < GATE_GUARD, jnp.where(d < 0, -GATE_GUARD, GATE_GUARD), d)
    gated = tuple(t._replace(v=t.v / d[:, None]) for t in trace)
    return gated, target - out.mean[:, 0]


def map_prop(net: Network, steps: int = 20, update_adj: float = 0.5, gate_output: bool = False,
             baseline: str = "none", baseline_rate: float = 0.01, critic_lr: float = 1e-3,
             unroll: int = 1, descent: str = "fixed") -> Rule:
    r"""MAP propagation (local; minimisation uses feedback through ``Wᵀ``).

    Args:
        net: Gaussian hidden layers; softmax, Bernoulli or Gaussian output.
        steps: minimisation steps (reference 20). update_adj: step size as a fraction of σ_l²
            (reference 0.5).
        gate_output: the output gate of §8.5 (regression, critics; needs a scalar Gaussian
            output). The signal is then the target.
        baseline: reward baseline for the ungated rule (reference: none).
        unroll: ``lax.scan`` unroll of the minimisation loop (speed only).
        descent: ``"fixed"`` (reference) or ``"monotone"`` (energy-checked steps, plastix
            [choice]; see the module docstring).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from plastix.nets import stochastic_mlp
        >>> from plastix.random import hash_sampler
        >>> from plastix.rules import map_prop
        >>> net = stochastic_mlp(6, (5, 4), 2, unit="gaussian", output="softmax", sigma2=(0.3, 1.0, 1.0))
        >>> params = net.init(jax.random.key(0))
        >>> rule = map_prop(net)
        >>> out, trace = net.sample(params, jnp.ones((8, 6)), jax.random.key(1), hash_sampler())
        >>> grads, _ = rule.update(trace, jnp.ones(8), rule.init(params), params)
        >>> grads[0]["W"].shape
        (6, 5)

    References:
        S. Chung, *MAP Propagation Algorithm*, NeurIPS 2021 (arXiv 2010.07893).
    """
    _hidden_layers(net)
    _check_descent(descent)
    if gate_output and not (isinstance(net.output, Gaussian) and net.output.n == 1):
        raise ValueError("the output gate needs one Gaussian output unit (regression, critics)")
    base_init, centre = make_baseline(baseline, baseline_rate, critic_lr)

    def init(params) -> MapPropState:
        return MapPropState(base_init(params))

    def update(trace, signal, state: MapPropState, params):
        x = trace[0].x
        trace = minimise(net, params, x, tuple(t.h for t in trace), steps, update_adj, unroll, descent)
        if gate_output:
            trace, reward = gate(trace, signal)
            bstate = state.baseline
        else:
            reward, bstate = centre(state.baseline, x, signal)
        return tuple(score_grads(t, reward) for t in trace), MapPropState(bstate)

    return Rule(init, update, wants_target=gate_output)
