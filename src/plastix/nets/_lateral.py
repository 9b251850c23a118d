"""Hidden layers with lateral connections: a Boltzmann machine and a recurrent layer.

Coordinated exploration (Chung 2023, P1; spec ``team_rules.md`` §9). Only P1's abstract is
available, so both layers and their eligibilities are **reconstructions** [recon]; the math that
makes each one correct is stated with it and checked by exact enumeration in
``tests/test_oracle_lateral.py`` (oracles O8, O10).

Boltzmann machine (:class:`Boltzmann`), units ``h ∈ {0,1}^n`` conditioned on the input ``x``::

    P(h | x) ∝ exp((u·h + ½ hᵀ J h)/τ),   u = x W + b,   J = sym(U) with zero diagonal

``U`` is a free (n, n) parameter; the layer reads ``J = (U + Uᵀ)/2`` with the diagonal zeroed,
so every gradient below is exact with respect to ``U`` as stored (half the derivative for the
tied pair ``U_ij = U_ji``). Sampling starts from the feed-forward sample ``Bern(σ(u/τ))`` (or the
previous state, ``init_from="previous"``) and runs ``sweeps`` sweeps of one of two exact
samplers, both leaving ``P(h | x)`` invariant:

* ``gibbs="sequential"``: random-scan Gibbs, every sweep visits the units one at a time in a fresh
  random order (or ``order="fixed"``); ``n`` dependent updates per sweep.
* ``gibbs="parallel"`` (default): an auxiliary-Gaussian block Gibbs sampler (the Gaussian-integral
  trick; cf. Martens & Sutskever 2010, Zhang et al. 2012) that updates all units at once.
  With ``A = J/τ + diag(d)`` positive definite (``d_i = Σ_j |J_ij|/τ + jitter``, Gershgorin), the
  joint ``P(h, z) ∝ exp(u·h/τ − d·h/2 + ½hᵀAh)·N(z; A h, A)`` has ``P(h|x)`` as its
  h-marginal (since ``h_i² = h_i``), ``z | h ~ N(Ah, A)`` and ``h | z ~ Bern(σ(u/τ − d/2 + z))``
  factorises. One sweep is therefore ``h ← Bern(σ(u/τ − d/2 + h A + η))``, ``η ~ N(0, A)``: one
  matrix product, like a feed-forward pass. It mixes more slowly per sweep than sequential
  Gibbs when ``J`` is large (``d`` acts as self-coupling), and needs one Cholesky factor of
  ``A`` per parameter update. Written by hand: no maintained JAX library samples Boltzmann
  machines.

Eligibilities (``eligibility=``), with ``φ(h) = (x ⊗ h, h, ½ h hᵀ)`` the sufficient statistics:

* ``"hebbian"`` (default, negative-phase-free): ``v = h/τ``, ``lateral = ½ h hᵀ/τ`` (zero
  diagonal). With a reward centred by ``b(x)``, ``E[(R − b(x)) φ(h)] = τ∇E[R] +
  E[(E[R|x] − b(x)) E[φ|x]]``: the negative phase cancels exactly in expectation when
  ``b(x) = E[R | x]`` and otherwise leaves a bias that shrinks as the critic improves.
* ``"negative"``: the full REINFORCE score ``(φ(h) − E[φ|x])/τ``, the negative phase estimated
  from a second, independent chain (exact by enumeration in :meth:`Boltzmann.trace`, the
  oracle path).
* ``"chain"`` (sequential sampler only): every single Gibbs update is an agent; the score of the
  whole K-sweep trajectory, ``Σ_updates (h_i − p_i)·ψ_i/τ`` plus the feed-forward sample's, is the
  exact gradient of ``E[R]`` under the sampler actually used (finite K), for any baseline.

Caveats [recon]: with finite sweeps the hebbian and negative rules follow the gradient of the
stationary model, not of the K-sweep sampler; in a stack of BM layers exact cancellation needs a
baseline of each layer's own input (plastix uses one BM hidden layer).

Recurrent layer (:class:`Recurrent`, no symmetry): ``h⁰ = 0`` and
``h^{t+1} ~ Bern(σ((x W + hᵗ U' + b)/τ))`` for ``t < T``, ``U' = U`` with zero diagonal; the
output is ``h^T``. Every unit at every step is an agent; the exact score of the trajectory is
``v = Σ_t (h^{t+1} − p^{t+1})/τ`` and ``lateral_ji = Σ_t hᵗ_j (h^{t+1}_i − p^{t+1}_i)/τ``.

Trajectory-valued layers (``Recurrent`` and ``Boltzmann(eligibility="chain")``) store the whole
trajectory as their enumerable value (``support``, ``log_prob``, ``trace``) and pass its last
state upward (``value``), so the exact oracles of :mod:`plastix.teams.oracles` apply unchanged.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np

from plastix.nets._layers import LayerTrace, _Layer, all_bits, glorot_init
from plastix.random import Sampler
from plastix.types import Array, PRNGKey

LateralInit = Literal["glorot", "zeros"]


def _bern_logp(h: Array, logit: Array) -> Array:
    """log Bern(h | σ(logit)), elementwise."""
    return -jax.nn.softplus(-(2 * h - 1) * logit)


def _off_diagonal(n: int, dtype) -> Array:
    """(1, n, n) mask zeroing the diagonal of a batch of (n, n) matrices."""
    return (1 - jnp.eye(n, dtype=dtype))[None]


def _lateral_params(key: PRNGKey, n: int, init: LateralInit, symmetric: bool, dtype) -> Array:
    if init == "zeros":
        return jnp.zeros((n, n), dtype)
    U = glorot_init(key, n, n, "zeros", dtype)["W"]
    U = (U + U.T) / 2 if symmetric else U
    return U * (1 - jnp.eye(n, dtype=dtype))


@dataclasses.dataclass(frozen=True)
class _LateralLayer(_Layer):
    tau: float = 1.0
    lateral_init: LateralInit = "glorot"

    def init(self, key: PRNGKey, n_in: int, dtype=jnp.float32) -> dict:
        k1, k2 = jax.random.split(key)
        params = glorot_init(k1, n_in, self.n, self.bias_init, dtype)
        params["U"] = _lateral_params(k2, self.n, self.lateral_init, isinstance(self, Boltzmann), dtype)
        return params

    def _logits(self, params: dict, x: Array) -> tuple[Array, Array]:
        u = self.preact(params, x)
        return u, u / self.tau

    def value(self, h: Array) -> Array:
        """The last state: the whole value for a state, the final n entries of a trajectory."""
        return h[:, -self.n :]

    def log_prob_u(self, u, h):  # pragma: no cover - lateral layers need their couplings
        raise TypeError(f"{type(self).__name__}.log_prob needs the layer's params; use log_prob(params, x, h)")


@dataclasses.dataclass(frozen=True)
class Boltzmann(_LateralLayer):
    """A Boltzmann-machine hidden layer conditioned on its input [recon] (see module docstring).

    Attributes:
        n: units. tau: temperature (divides the whole energy).
        sweeps: Gibbs sweeps after the initial state (P1's value is unknown; 10 [choice]).
        init_from: ``"forward"`` (feed-forward sample, [choice]) or ``"previous"`` (the state the
            layer ended in at the previous step: persistent chains; the trainer carries it and
            starts from all units off).
        gibbs: ``"parallel"`` (auxiliary-Gaussian block Gibbs) or ``"sequential"`` (random scan).
        order: visiting order of sequential sweeps, ``"random"`` (fresh each sweep) or ``"fixed"``.
        eligibility: ``"hebbian"`` (negative-phase-free), ``"negative"`` or ``"chain"``.
        lateral_init: ``"glorot"`` (symmetrised Glorot-uniform, zero diagonal) or ``"zeros"``.
        jitter: added to the Gershgorin diagonal of the parallel sampler's ``A``.
    """

    sweeps: int = 10
    init_from: Literal["forward", "previous"] = "forward"
    gibbs: Literal["parallel", "sequential"] = "parallel"
    order: Literal["random", "fixed"] = "random"
    eligibility: Literal["hebbian", "negative", "chain"] = "hebbian"
    jitter: float = 1e-3

    def __post_init__(self):
        if self.eligibility == "chain" and self.gibbs != "sequential":
            raise ValueError("eligibility 'chain' scores every single Gibbs update; it needs gibbs='sequential'")
        if self.sweeps < 0:
            raise ValueError(f"sweeps must be ≥ 0, got {self.sweeps}")

    @property
    def stateful(self) -> bool:
        return self.init_from == "previous"

    @property
    def trajectory(self) -> bool:
        return self.eligibility == "chain"

    def coupling(self, params: dict) -> Array:
        """``J/τ``: the symmetrised lateral weights with zero diagonal, divided by τ."""
        U = params["U"]
        return (U + U.T) / 2 * (1 - jnp.eye(self.n, dtype=U.dtype)) / self.tau

    # ---- samplers --------------------------------------------------------------------------
    def _order(self, key, sampler: Sampler) -> np.ndarray | Array:
        if self.order == "fixed":
            return np.tile(np.arange(self.n), self.sweeps)
        return jnp.argsort(sampler.uniform(key, (self.sweeps, self.n)), axis=-1).reshape(-1)

    def _sequential(self, a, J, h, order, draws, forced: bool):
        """Visit units in ``order`` ((S,) indices); ``draws`` (S, B): uniforms, or forced values.

        Returns the final state, Σ (h_i − p_i) per unit, E_ij = Σ (h_i − p_i) h_j over i's
        updates, and Σ log P(update).
        """
        field = a + h @ J  # (B, n) logits given the current state

        def visit(carry, inp):
            h, field, v, E, logp = carry
            i, d = inp
            logit = field[:, i]
            p = jax.nn.sigmoid(logit)
            new = d if forced else (d < p).astype(h.dtype)
            dv = new - p
            field = field + (new - h[:, i])[:, None] * J[i][None, :]
            if self.eligibility == "chain":
                E = E.at[:, i, :].add(dv[:, None] * h)
            h = h.at[:, i].set(new)
            return (h, field, v.at[:, i].add(dv), E, logp + _bern_logp(new, logit)), None

        B = h.shape[0]
        E = jnp.zeros((B, self.n, self.n), h.dtype) if self.eligibility == "chain" else jnp.zeros((), h.dtype)
        init = (h, field, jnp.zeros_like(h), E, jnp.zeros((B,), h.dtype))
        (h, _, v, E, logp), _ = jax.lax.scan(visit, init, (jnp.asarray(order), draws))
        return h, v, E, logp

    def _parallel(self, a, J, h, key, sampler: Sampler):
        """``sweeps`` auxiliary-Gaussian block-Gibbs sweeps (exact; see the module docstring)."""
        d = jnp.sum(jnp.abs(J), axis=1) + self.jitter
        A = J + jnp.diag(d)
        chol = jnp.linalg.cholesky(A)
        k_eta, k_u = sampler.split(key, 2)
        shape = (self.sweeps,) + h.shape
        eta = sampler.normal(k_eta, shape, h.dtype) @ chol.T  # (K, B, n) ~ N(0, A)
        xi = sampler.uniform(k_u, shape, h.dtype)
        shift = a - d[None, :] / 2

        def sweep(h, inp):
            eta_k, xi_k = inp
            return (xi_k < jax.nn.sigmoid(shift + h @ A + eta_k)).astype(h.dtype), None

        h, _ = jax.lax.scan(sweep, h, (eta, xi))
        return h

    def _chain(self, params, x, key, sampler, previous):
        """One chain: initial state, then the sweeps. Returns (u, final h, v, E)."""
        u, a = self._logits(params, x)
        J = self.coupling(params)
        k0, k_order, k_draw = sampler.split(key, 3)
        if previous is None:
            p0 = jax.nn.sigmoid(a)
            h = sampler.bernoulli(k0, p0).astype(a.dtype)
            v0 = h - p0
        else:
            h, v0 = jax.lax.stop_gradient(previous.astype(a.dtype)), jnp.zeros_like(a)
        if self.sweeps == 0:
            return u, h, v0, jnp.zeros((x.shape[0], self.n, self.n), a.dtype)
        if self.gibbs == "parallel":
            return u, self._parallel(a, J, h, k_draw, sampler), v0, None
        order = self._order(k_order, sampler)
        draws = sampler.uniform(k_draw, (order.shape[0], x.shape[0]), a.dtype)
        h, v, E, _ = self._sequential(a, J, h, order, draws, forced=False)
        return u, h, v0 + v, E

    # ---- layer API -------------------------------------------------------------------------
    def sample(self, params: dict, x: Array, key: PRNGKey, sampler: Sampler, previous: Array | None = None):
        k1, k2 = sampler.split(key, 2)
        u, h, v, E = self._chain(params, x, k1, sampler, previous)
        mean = jax.nn.sigmoid(u / self.tau + h @ self.coupling(params))
        if self.eligibility == "chain":
            return LayerTrace(x, u, mean, h, v / self.tau, self._sym(E))
        hebb, hebb_l = h, self._outer(h)
        if self.eligibility == "negative":  # negative phase from an independent chain
            _, h2, _, _ = self._chain(params, x, k2, sampler, None)
            hebb, hebb_l = hebb - h2, hebb_l - self._outer(h2)
        return LayerTrace(x, u, mean, h, hebb / self.tau, hebb_l / self.tau)

    def _outer(self, h: Array) -> Array:
        return 0.5 * h[:, :, None] * h[:, None, :] * _off_diagonal(self.n, h.dtype)

    def _sym(self, E: Array) -> Array:
        return 0.5 * (E + jnp.swapaxes(E, 1, 2)) * _off_diagonal(self.n, E.dtype) / self.tau

    def _exact_moments(self, params: dict, x: Array) -> tuple[Array, Array, Array]:
        """Exact ``log Z``, ``E[h]`` and ``E[½ h hᵀ]`` by enumerating the 2^n states (n ≤ 16)."""
        if self.n > 16:
            raise ValueError(f"exact Boltzmann moments enumerate 2^n states; n = {self.n} > 16")
        S = jnp.asarray(all_bits(self.n), x.dtype)  # (M, n)
        _, a = self._logits(params, x)
        J = self.coupling(params)
        log_w = a @ S.T + 0.5 * jnp.einsum("mi,ij,mj->m", S, J, S)[None, :]  # (B, M)
        log_z = jax.nn.logsumexp(log_w, axis=-1)
        w = jnp.exp(log_w - log_z[:, None])
        return log_z, w @ S, jnp.einsum("bm,mi,mj->bij", w, S, S) * 0.5 * _off_diagonal(self.n, x.dtype)

    def trace(self, params: dict, x: Array, h: Array) -> LayerTrace:
        """The trace for a given state (or, ``eligibility="chain"``, a fixed-order trajectory)."""
        u, a = self._logits(params, x)
        J = self.coupling(params)
        if self.eligibility == "chain":
            v, E, _, final = self._forced_chain(a, J, h)
            mean = jax.nn.sigmoid(a + final @ J)
            return LayerTrace(x, u, mean, final, v / self.tau, self._sym(E))
        mean = jax.nn.sigmoid(a + h @ J)
        v, lat = h, self._outer(h)
        if self.eligibility == "negative":
            _, m1, m2 = self._exact_moments(params, x)
            v, lat = v - m1, lat - m2
        return LayerTrace(x, u, mean, h, v / self.tau, lat / self.tau)

    def _forced_chain(self, a, J, traj):
        if self.order != "fixed" or self.init_from != "forward":
            raise ValueError("a forced trajectory needs order='fixed' and init_from='forward'")
        h0, rest = traj[:, : self.n], traj[:, self.n :]
        p0 = jax.nn.sigmoid(a)
        order = np.tile(np.arange(self.n), self.sweeps)
        final, v, E, logp = self._sequential(a, J, h0, order, rest.T, forced=True)
        return h0 - p0 + v, E, _bern_logp(h0, a).sum(-1) + logp, final

    def log_prob(self, params: dict, x: Array, h: Array) -> Array:
        """Exact ``log P(h | x)`` of the stationary machine, or of a trajectory (``"chain"``)."""
        _, a = self._logits(params, x)
        J = self.coupling(params)
        if self.eligibility == "chain":
            return self._forced_chain(a, J, h)[2]
        log_z, _, _ = self._exact_moments(params, x)
        return (h * a).sum(-1) + 0.5 * jnp.einsum("bi,ij,bj->b", h, J, h) - log_z

    def support(self) -> np.ndarray:
        """All states (2^n, n), or all fixed-order trajectories (``"chain"``)."""
        return all_bits(self.n * (self.sweeps + 1) if self.trajectory else self.n)


@dataclasses.dataclass(frozen=True)
class Recurrent(_LateralLayer):
    """A recurrent stochastic hidden layer (no symmetry), ``steps`` synchronous steps [recon].

    Attributes:
        n: units. tau: temperature. steps: recurrent steps ``T`` (5 [choice]); the output is
        ``h^T`` and ``h^1`` is the feed-forward sample.
        lateral_init: ``"glorot"`` (Glorot-uniform, zero diagonal) or ``"zeros"``.
    """

    steps: int = 5
    trajectory = True

    def __post_init__(self):
        if self.steps < 1:
            raise ValueError(f"steps must be ≥ 1, got {self.steps}")

    def _run(self, params, x, draws, forced: bool):
        """``draws`` (T, B, n): uniforms, or the forced trajectory. Returns h^T, v, E, logp, p^T."""
        u, a = self._logits(params, x)
        U = params["U"] * (1 - jnp.eye(self.n, dtype=a.dtype)) / self.tau
        h = jnp.zeros_like(a)
        v, E, logp, p = jnp.zeros_like(a), jnp.zeros(a.shape + (self.n,), a.dtype), 0.0, None
        for t in range(self.steps):  # T is small: unrolled
            logit = a + h @ U
            p = jax.nn.sigmoid(logit)
            new = draws[t] if forced else (draws[t] < p).astype(a.dtype)
            E = E + h[:, :, None] * (new - p)[:, None, :]  # E_ji = h_j (new_i − p_i)
            v = v + new - p
            logp = logp + _bern_logp(new, logit).sum(-1)
            h = new
        return u, h, v, E * _off_diagonal(self.n, a.dtype), logp, p

    def sample(self, params: dict, x: Array, key: PRNGKey, sampler: Sampler) -> LayerTrace:
        draws = sampler.uniform(key, (self.steps,) + (x.shape[0], self.n), x.dtype)
        u, h, v, E, _, p = self._run(params, x, draws, forced=False)
        return LayerTrace(x, u, p, h, v / self.tau, E / self.tau)

    def _split(self, traj: Array) -> Array:
        return jnp.moveaxis(traj.reshape(traj.shape[0], self.steps, self.n), 1, 0)

    def trace(self, params: dict, x: Array, h: Array) -> LayerTrace:
        u, hT, v, E, _, p = self._run(params, x, self._split(h), forced=True)
        return LayerTrace(x, u, p, hT, v / self.tau, E / self.tau)

    def log_prob(self, params: dict, x: Array, h: Array) -> Array:
        return self._run(params, x, self._split(h), forced=True)[4]

    def support(self) -> np.ndarray:
        """All trajectories (h¹, …, h^T), (2^{nT}, nT)."""
        return all_bits(self.n * self.steps)
