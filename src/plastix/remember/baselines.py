"""Baselines on the same frames, targets and windows (spec ``remember.md`` §6.1).

* :class:`Recurrent` — LSTM or GRU trained by BPTT; memory lives only in activations.
* :class:`FastWeights` — Ba et al. 2016 (arXiv 1610.06258): ``A ← λA + η h hᵀ`` (fixed Hebbian
  plasticity, λ and η from a grid), one inner loop ``h_s = ReLU(LN(W h + C x + A h_s))``, slow
  weights trained by BPTT.
* :func:`outer_product_recall` — the non-learned key→value memory ``W ← λW + v kᵀ``, read
  ``sign(W k)``, and :func:`outer_product_error`, its analytic per-bit error
  ``Φ(−sqrt(D_k / (N−1)))`` (the R1 oracle and a capacity yardstick).

Every model has the substrate's interface: ``init(key)``, ``init_state(params, key)``,
``frame(params, state, x) -> (state, logits)`` and ``state_size()``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

from plastix.remember.task import Episode, TaskConfig

__all__ = ["Recurrent", "FastWeights", "outer_product_recall", "outer_product_error"]


def _dense(key, fan_in: int, fan_out: int) -> jax.Array:
    return jax.random.normal(key, (fan_in, fan_out)) / math.sqrt(fan_in)


class Recurrent:
    """An LSTM or GRU cell with a linear read-out, one step per frame."""

    def __init__(self, cell: str, hidden: int, n_in: int, n_out: int):
        if cell not in ("lstm", "gru"):
            raise ValueError(f"cell {cell!r}; allowed: lstm, gru")
        self.cell, self.h, self.n_in, self.n_out = cell, hidden, n_in, n_out
        self.gates = 4 if cell == "lstm" else 3

    def init(self, key: jax.Array) -> dict:
        k1, k2, k3 = jax.random.split(key, 3)
        b = jnp.zeros(self.gates * self.h)
        if self.cell == "lstm":
            b = b.at[self.h:2 * self.h].set(1.0)  # forget-gate bias 1
        return {"Wx": _dense(k1, self.n_in, self.gates * self.h), "Wh": _dense(k2, self.h, self.gates * self.h),
                "b": b, "Wo": _dense(k3, self.h, self.n_out), "bo": jnp.zeros(self.n_out)}

    def init_state(self, p: dict, key: jax.Array):
        z = jnp.zeros(self.h)
        return (z, z) if self.cell == "lstm" else z

    def frame(self, p: dict, st, x: jax.Array):
        H = self.h
        if self.cell == "lstm":
            h, c = st
            g = x @ p["Wx"] + h @ p["Wh"] + p["b"]
            i, f, o = (jax.nn.sigmoid(g[k * H:(k + 1) * H]) for k in range(3))
            c = f * c + i * jnp.tanh(g[3 * H:])
            h = o * jnp.tanh(c)
            return (h, c), h @ p["Wo"] + p["bo"]
        a, b = x @ p["Wx"] + p["b"], st @ p["Wh"]
        z, r = jax.nn.sigmoid(a[:H] + b[:H]), jax.nn.sigmoid(a[H:2 * H] + b[H:2 * H])
        h = (1 - z) * st + z * jnp.tanh(a[2 * H:] + r * b[2 * H:])
        return h, h @ p["Wo"] + p["bo"]

    def state_size(self) -> int:
        return self.h * (2 if self.cell == "lstm" else 1)


class FWState(NamedTuple):
    h: jax.Array  # (H,)
    A: jax.Array  # (H, H) fast weights


class FastWeights:
    """Ba et al. (2016) fast-weights RNN: fixed Hebbian fast matrix, slow weights trained by BPTT."""

    def __init__(self, hidden: int, n_in: int, n_out: int, lam: float = 0.95, eta: float = 0.5, inner: int = 1):
        self.h, self.n_in, self.n_out, self.lam, self.eta, self.inner = hidden, n_in, n_out, lam, eta, inner

    def init(self, key: jax.Array) -> dict:
        k2, k3 = jax.random.split(key)
        return {"W": 0.05 * jnp.eye(self.h), "C": _dense(k2, self.n_in, self.h),  # W = 0.05 I as in Ba et al.
                "b": jnp.zeros(self.h), "gain": jnp.ones(self.h), "bias": jnp.zeros(self.h),
                "Wo": _dense(k3, self.h, self.n_out), "bo": jnp.zeros(self.n_out)}

    def init_state(self, p: dict, key: jax.Array) -> FWState:
        return FWState(jnp.zeros(self.h), jnp.zeros((self.h, self.h)))

    def _ln(self, p: dict, z: jax.Array) -> jax.Array:
        mu, var = z.mean(), z.var()
        return p["gain"] * (z - mu) / jnp.sqrt(var + 1e-5) + p["bias"]

    def frame(self, p: dict, st: FWState, x: jax.Array):
        pre = st.h @ p["W"] + x @ p["C"] + p["b"]
        hs = jax.nn.relu(pre)
        for _ in range(self.inner):
            hs = jax.nn.relu(self._ln(p, pre + st.A @ hs))
        A = self.lam * st.A + self.eta * jnp.outer(hs, hs)
        return FWState(hs, A), hs @ p["Wo"] + p["bo"]

    def state_size(self) -> int:
        return self.h + self.h * self.h


def outer_product_recall(ep: Episode, cfg: TaskConfig, lam: float = 1.0) -> jax.Array:
    """Non-learned key→value memory on one episode: (T, D_v) predictions in {0, 1} at every frame.

    Write frames store ``W ← λ W + v kᵀ``; every frame reads ``sign(W k)`` with its key slot (ties
    broken towards +1). Delay and distractor frames do not write, so the recall is independent of Δ.
    """
    def step(W, f):
        k, v, wflag = f[:cfg.d_key], f[cfg.d_key:cfg.d_key + cfg.d_value], f[-2]
        W = jnp.where(wflag > 0, lam * W + jnp.outer(v, k), W)
        return W, (W @ k >= 0).astype(jnp.float32)

    return jax.lax.scan(step, jnp.zeros((cfg.d_value, cfg.d_key)), ep.frames)[1]


def outer_product_error(d_key: int, n: int) -> float:
    """Analytic per-bit error of the λ = 1 outer-product memory: Φ(−sqrt(D_k/(N−1))), 0 for N = 1."""
    if n <= 1:
        return 0.0
    return 0.5 * math.erfc(math.sqrt(d_key / (n - 1)) / math.sqrt(2.0))
