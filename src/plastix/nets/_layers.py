"""Layers of stochastic (and deterministic) units, each returning a trace of local quantities.

A layer maps its input ``x`` (B, n_in) to a pre-activation ``u = x W + b`` (B, n) and then to a
sample ``h``. The :class:`LayerTrace` it returns holds everything a *local* learning rule may
read about the layer: its input, pre-activation, mean, sample, and the unit eligibility

    v = ∂ log P(h | x) / ∂u            so that   ∂ log P(h | x)/∂W = x ⊗ v,  ∂/∂b = v.

Unit types (spec ``team_rules.md`` §2):

=================  ===========================  ==================  ==========================
layer              sample                        mean                eligibility ``v``
=================  ===========================  ==================  ==========================
Bernoulli "01"     h ~ Bern(p), p = σ(u/τ)       p                   (h − p)/τ
Bernoulli "pm1"    h = 2β − 1, β ~ Bern(p)       2p − 1              (β − p)/τ  (exact score)
Softmax            A ~ Cat(softmax(u/τ)), 1-hot  π                   (A − π)/τ
Gaussian           H = g(u) + σ ε                g(u)                (H − μ) g'(u)/σ²
Deterministic      h = g(u)                      g(u)                0 (trained by backprop)
=================  ===========================  ==================  ==========================

The temperature divides the whole pre-activation, bias included, as the reference code does.
Initialisation follows the reference (Glorot-uniform ``W``; biases ``U(−1e−3, 1e−3)``, or zero).
"""

from __future__ import annotations

import dataclasses
from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from plastix.random import Sampler
from plastix.types import Array, PRNGKey

Link = Literal["identity", "softplus", "relu", "sigmoid", "tanh"]
BiasInit = Literal["uniform", "zeros"]


class LayerTrace(NamedTuple):
    """Local quantities of one layer for one batch."""

    x: Array  # (B, n_in) the layer's input
    u: Array  # (B, n) pre-activation x W + b (before the temperature)
    mean: Array  # (B, n) p, π or μ
    h: Array  # (B, n) the sampled value (one-hot for softmax; g(u) if deterministic)
    v: Array  # (B, n) unit eligibility ∂ log P(h|x)/∂u (zeros if deterministic)
    lateral: Array | None = None  # (B, n, n) eligibility of lateral weights U (lateral layers only)
    elig: dict | None = None  # per-sample eligibility of each parameter where it is not x ⊗ v (whole-trajectory
    #   scores, plastix.nets.joint): a matrix's as factor pairs [(left (B, m), right (B, n)), …] whose per-sample
    #   outer products sum to it, a bias's as [(B, n), …] summed


def _link(name: str, u: Array) -> Array:
    return {
        "identity": lambda z: z,
        "softplus": jax.nn.softplus,
        "relu": jax.nn.relu,
        "sigmoid": jax.nn.sigmoid,
        "tanh": jnp.tanh,
    }[name](u)


def _link_grad(name: str, u: Array) -> Array:
    return {
        "identity": lambda z: jnp.ones_like(z),
        "softplus": jax.nn.sigmoid,
        "relu": lambda z: (z >= 0).astype(z.dtype),
        "sigmoid": lambda z: jax.nn.sigmoid(z) * (1 - jax.nn.sigmoid(z)),
        "tanh": lambda z: 1 - jnp.tanh(z) ** 2,
    }[name](u)


def all_bits(m: int) -> np.ndarray:
    """All 2^m binary vectors of length m, (2^m, m), most significant first."""
    return (np.arange(2**m)[:, None] >> np.arange(m)[::-1]) & 1


def link_and_grad(name: str, u: Array) -> tuple[Array, Array]:
    """``(g(u), g'(u))``; for softplus both from one ``exp`` (the hot path of Gaussian layers)."""
    if name == "softplus":  # float32-accurate for every u; ~2× faster on CPU than logaddexp + logistic
        clipped = jnp.minimum(u, 40.0)
        e = jnp.exp(clipped)
        return jnp.log1p(e) + (u - clipped), e / (1 + e)
    return _link(name, u), _link_grad(name, u)


def glorot_init(key: PRNGKey, n_in: int, n_out: int, bias: BiasInit, dtype=jnp.float32) -> dict:
    """Glorot-uniform ``W`` (n_in, n_out); bias ``U(±1e−3)`` ("uniform") or zero."""
    kw, kb = jax.random.split(key)
    a = float(np.sqrt(6.0 / (n_in + n_out)))
    W = jax.random.uniform(kw, (n_in, n_out), dtype, -a, a)
    if bias == "uniform":
        b = jax.random.uniform(kb, (n_out,), dtype, -1e-3, 1e-3)
    else:
        b = jnp.zeros((n_out,), dtype)
    return {"W": W, "b": b}


@dataclasses.dataclass(frozen=True)
class _Layer:
    """Shared structure: ``n`` units, reference initialisation, affine pre-activation."""

    n: int
    bias_init: BiasInit = "uniform"

    def init(self, key: PRNGKey, n_in: int, dtype=jnp.float32) -> dict:
        return glorot_init(key, n_in, self.n, self.bias_init, dtype)

    @staticmethod
    def preact(params: dict, x: Array) -> Array:
        return x @ params["W"] + params["b"][None, :]  # (B, n)

    def sample(self, params: dict, x: Array, key: PRNGKey, sampler: Sampler) -> LayerTrace:
        u = self.preact(params, x)
        return self._trace(x, u, self._draw(u, key, sampler))

    def trace(self, params: dict, x: Array, h: Array) -> LayerTrace:
        """The trace for given values ``h`` (used by oracles and forced-value rules)."""
        return self._trace(x, self.preact(params, x), h)

    def log_prob(self, params: dict, x: Array, h: Array) -> Array:
        """log P(h | x) per sample, (B,)."""
        return self.log_prob_u(self.preact(params, x), h)

    def value(self, h: Array) -> Array:
        """The layer's output (what the next layer reads) for a stored value ``h``."""
        return h


@dataclasses.dataclass(frozen=True)
class Bernoulli(_Layer):
    """Bernoulli-logistic units with values {0, 1} (``values="01"``) or ±1 (``"pm1"``).

    ``p = σ(u/τ)``. For ±1 units the eligibility is the exact score ``(β − p)/τ``.
    """

    tau: float = 1.0
    values: Literal["01", "pm1"] = "01"

    def _draw(self, u, key, sampler):
        beta = sampler.bernoulli(key, jax.nn.sigmoid(u / self.tau)).astype(u.dtype)
        return beta if self.values == "01" else 2 * beta - 1

    def _beta(self, h):
        return h if self.values == "01" else (h + 1) / 2

    def _trace(self, x, u, h):
        p = jax.nn.sigmoid(u / self.tau)
        mean = p if self.values == "01" else 2 * p - 1
        return LayerTrace(x, u, mean, h, (self._beta(h) - p) / self.tau)

    def log_prob_u(self, u, h):
        s = 2 * self._beta(h) - 1  # ±1
        return -jax.nn.softplus(-s * u / self.tau).sum(-1)

    def support(self) -> np.ndarray:
        """All 2^n values of the layer, (2^n, n)."""
        bits = all_bits(self.n)
        return bits if self.values == "01" else 2 * bits - 1

    def as_sign(self, h: Array) -> Array:
        """A single unit read as an action in {−1, +1}."""
        return (2 * h[:, 0] - 1) if self.values == "01" else h[:, 0]


@dataclasses.dataclass(frozen=True)
class Softmax(_Layer):
    """One categorical unit over ``n`` outcomes, ``π = softmax(u/τ)``; the sample is one-hot."""

    tau: float = 1.0

    def _draw(self, u, key, sampler):
        idx = sampler.categorical(key, u / self.tau)
        return jax.nn.one_hot(idx, self.n, dtype=u.dtype)

    def _trace(self, x, u, h):
        pi = jax.nn.softmax(u / self.tau, axis=-1)
        return LayerTrace(x, u, pi, h, (h - pi) / self.tau)

    def log_prob_u(self, u, h):
        return (h * jax.nn.log_softmax(u / self.tau, axis=-1)).sum(-1)

    def support(self) -> np.ndarray:
        return np.eye(self.n)

    def as_sign(self, h: Array) -> Array:
        """Outcome 0 → −1, outcome 1 → +1 (two-way softmax)."""
        return 2 * h[:, 1] - 1


@dataclasses.dataclass(frozen=True)
class Gaussian(_Layer):
    """Gaussian units ``H = g(u) + σ ε`` with fixed variance ``sigma2`` and link ``g``."""

    sigma2: float = 1.0
    link: Link = "identity"

    def _draw(self, u, key, sampler):
        mu = _link(self.link, u)
        return mu + np.sqrt(self.sigma2) * sampler.normal(key, u.shape, u.dtype)

    def _trace(self, x, u, h):
        mu, grad = link_and_grad(self.link, u)
        return LayerTrace(x, u, mu, h, (h - mu) * grad / self.sigma2)

    def log_prob_u(self, u, h):
        mu = _link(self.link, u)
        return (-((h - mu) ** 2) / (2 * self.sigma2) - 0.5 * np.log(2 * np.pi * self.sigma2)).sum(-1)

    def as_real(self, h: Array) -> Array:
        return h[:, 0]


@dataclasses.dataclass(frozen=True)
class Deterministic(_Layer):
    """Deterministic units ``h = g(u)`` (hidden layers of the backprop baseline)."""

    link: Link = "tanh"

    def _draw(self, u, key, sampler):
        return _link(self.link, u)

    def _trace(self, x, u, h):
        return LayerTrace(x, u, h, h, jnp.zeros_like(u))

    def log_prob_u(self, u, h):
        return jnp.zeros(u.shape[:-1], u.dtype)


Layer = Bernoulli | Softmax | Gaussian | Deterministic
