"""Maze agents: plastic RNNs with evolved plasticity rules, and non-plastic RNN/GRU/LSTM baselines.

Every agent is a frozen dataclass with the same pure interface (spec ``plasticity_maze.md`` §2–3, §7):

* ``init_genome(key) -> dict``: the evolved tensors, N(0, 0.05²), keyed by the reference's tensor
  names. JAX flattens a dict in sorted key order, which is the reference's flat-vector order, so
  ``ravel_pytree(genome)`` is the reference's flat genotype (checked against the released one).
* ``init_state(genome) -> state``: the task reset: ``h = 0``, plastic weights 0 (trace rule:
  ``W_x`` = its evolved value), trace 0.
* ``step(genome, state, x, active) -> (o, state)``: one network step (``active`` False: a masked
  step that leaves the state exactly as it was) in the reference's exact order
  (§2.5): [pre-modulator] → ``h_t = tanh(W_h h_{t−1} + W_x x_t + b)`` → [post-modulator] →
  ``o_t = W_o h_t + b_o`` → plastic update of ``W_h`` (pre ``h_{t−1}``) and ``W_x`` (pre ``x_t``).

Plasticity rules (``ΔW = κ·m·(A⊙y uᵀ + B⊙y 1ᵀ + C⊙1 uᵀ + D)``):

* ``"decomposed"`` (type 3, the paper's): ``A = a_post a_preᵀ`` etc., 4(p + q) numbers per matrix,
  applied in the factored form ``(a_post⊙y)(a_pre⊙u)ᵀ + (b_post⊙y)b_preᵀ + c_post(c_pre⊙u)ᵀ +
  d_post d_preᵀ``; κ = 0.20 with a modulator, **1.0 without** (the reference's constants).
* ``"abcd"`` (type 1): full ``A, B, C, D``; κ = 0.05 with or without a modulator.
* ``"trace"`` (type 2): only ``W_h`` is plastic, ``E ← η y uᵀ + (1−η) E``, ``W ← clip(W + α m E,
  −5, 5)`` with α = 0.001 and η = softsign(η̃ + 10)/2 + 1/2; ``W_x`` is a static evolved matrix.

**Accumulated form** (default for the decomposed rule, exact): because every coefficient matrix is
rank one, ``W(t) = Σ_s κ m_s R(y_s, u_s)`` collapses to ``G + (b_post⊙Y) b_preᵀ + c_post
(c_pre⊙U)ᵀ + S d_post d_preᵀ`` with the Hebbian term ``G = Σ κ m (a_post⊙y)(a_pre⊙u)ᵀ``, ``Y = Σ κ m
y``, ``U = Σ κ m u`` and ``S = Σ κ m``. The agent carries ``G`` (the A-part of ``W``) and the vectors and computes ``W v`` from them: a rank-one update and one mat-vec per
step instead of a rank-four update, about 3× fewer flops. ``form="materialised"`` carries ``W`` itself as the reference does; both give the same numbers
(test P3) and :meth:`PlasticRNN.weights` materialises ``W`` from either.

Modulation: ``"post"`` ``m = σ(W_m h_t + b_m)`` (the released genotype's), ``"pre"`` ``m = σ(U x_t
+ c) + σ(V h_{t−1} + d)``, ``"none"`` (m = 1, the unmodulated κ). ``m[0]`` gates ``W_h``, ``m[1]``
gates ``W_x``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from plastix.types import Array

__all__ = ["PlasticRNN", "RecurrentNet", "PlasticState", "RecurrentState", "RULES", "MODULATIONS", "CELLS",
           "make_agent", "AGENTS", "n_params", "flat_genome", "unflat_genome", "policy"]

RULES = ("decomposed", "abcd", "trace")
MODULATIONS = ("none", "pre", "post")
CELLS = ("rnn", "gru", "lstm")
_LETTERS = "ABCD"


def _sigmoid(z):
    return jax.nn.sigmoid(z)


class PlasticState(NamedTuple):
    h: Array  # (n,) hidden state
    mem: dict  # the plastic memory; its entries depend on the rule and form (see PlasticRNN)


class RecurrentState(NamedTuple):
    h: Array
    c: Array  # LSTM cell state ((0,) for RNN/GRU)


def _readout(key, n, n_out, scale):
    k1, k2 = jax.random.split(key)
    return {"FC_1/W": scale * jax.random.normal(k1, (n_out, n)), "FC_1/b": scale * jax.random.normal(k2, (n_out,))}


@dataclass(frozen=True)
class PlasticRNN:
    """A tanh RNN whose recurrent and input weights are fast weights changed by an evolved rule."""

    rule: str = "decomposed"
    modulation: str = "post"
    hidden: int = 64
    n_in: int = 15
    n_out: int = 5
    kappa_mod: float | None = None  # None: the reference's constant for the rule (0.20 / 0.05 / 0.001)
    kappa_nomod: float | None = None  # None: 1.0 (decomposed), 0.05 (abcd), 0.001 (trace)
    trace_clip: float = 5.0
    init_scale: float = 0.05
    block: int = 32  # lifetimes per cache block in evaluate (fastest on the 2-core test machine)
    form: str = "accumulated"  # decomposed rule: "accumulated" (fast, exact) or "materialised" (the reference's)

    def __post_init__(self):
        if self.rule not in RULES:
            raise ValueError(f"unknown plasticity rule {self.rule!r}; allowed: {', '.join(RULES)}")
        if self.modulation not in MODULATIONS:
            raise ValueError(f"unknown modulation {self.modulation!r}; allowed: {', '.join(MODULATIONS)}")
        if min(self.hidden, self.n_in, self.n_out) < 1:
            raise ValueError(f"sizes must be ≥ 1, got hidden={self.hidden} n_in={self.n_in} n_out={self.n_out}")
        if self.form not in ("accumulated", "materialised"):
            raise ValueError(f"unknown form {self.form!r}; allowed: accumulated, materialised")

    @property
    def kappa(self) -> float:
        """The factor of the rule actually used (modulated or not)."""
        default_mod, default_nomod = {"decomposed": (0.20, 1.0), "abcd": (0.05, 0.05),
                                      "trace": (0.001, 0.001)}[self.rule]
        if self.modulation == "none":
            return default_nomod if self.kappa_nomod is None else self.kappa_nomod
        return default_mod if self.kappa_mod is None else self.kappa_mod

    def shapes(self) -> dict[str, tuple[int, ...]]:
        n, q = self.hidden, self.n_in
        s: dict[str, tuple[int, ...]] = {"FC_1/W": (self.n_out, n), "FC_1/b": (self.n_out,), "PRNN_1//b": (n,)}
        if self.modulation == "post":
            s |= {"FC_M/W": (2, n), "FC_M/b": (2,)}
        elif self.modulation == "pre":  # reference naming trap: FC_Mh reads x, FC_Mx reads h
            s |= {"FC_Mh/W": (2, q), "FC_Mh/b": (2,), "FC_Mx/W": (2, n), "FC_Mx/b": (2,)}
        for name, pre in (("h", n), ("x", q)):
            if self.rule == "decomposed":
                for L in _LETTERS:
                    s[f"PRNN_1/hebbian_{name}//W_{L}x"] = (pre,)
                    s[f"PRNN_1/hebbian_{name}//W_{L}y"] = (n,)
            elif self.rule == "abcd":
                for L in _LETTERS:
                    s[f"PRNN_1/hebbian_{name}//W_{L}"] = (n, pre)
            else:
                s[f"PRNN_1/hebbian_{name}//eta"] = (1,)
        if self.rule == "trace":
            s["PRNN_1/W_x"] = (n, q)
        return s

    def init_genome(self, key) -> dict[str, Array]:
        shapes = self.shapes()
        keys = jax.random.split(key, len(shapes))
        return {k: self.init_scale * jax.random.normal(kk, shp) for kk, (k, shp) in zip(keys, sorted(shapes.items()))}

    def init_state(self, genome, dtype=jnp.float32) -> PlasticState:
        """The task reset: ``h = 0`` and zero plastic memory."""
        n, q = self.hidden, self.n_in
        z = lambda *s: jnp.zeros(s, dtype)  # noqa: E731
        if self.rule == "trace":
            mem = {"W_h": z(n, n), "E_h": z(n, n)}
        elif self.accumulated:
            mem = {"G_h": z(n, n), "Y_h": z(n), "U_h": z(n), "S_h": z(), "G_x": z(n, q), "Y_x": z(n), "U_x": z(q),
                   "S_x": z()}
        else:
            mem = {"W_h": z(n, n), "W_x": z(n, q)}
        return PlasticState(z(n), mem)

    @property
    def accumulated(self) -> bool:
        return self.rule == "decomposed" and self.form == "accumulated"

    def modulator(self, g, x, h_prev, h) -> Array:
        if self.modulation == "post":
            return _sigmoid(g["FC_M/W"] @ h + g["FC_M/b"])
        if self.modulation == "pre":
            return _sigmoid(g["FC_Mh/W"] @ x + g["FC_Mh/b"]) + _sigmoid(g["FC_Mx/W"] @ h_prev + g["FC_Mx/b"])
        return jnp.ones(2, h.dtype)

    def _factors(self, g, name):
        p = f"PRNN_1/hebbian_{name}//W_"
        return [(g[p + L + "y"], g[p + L + "x"]) for L in _LETTERS]

    def delta(self, g, name: str, y, u) -> Array:
        """The rule's increment ``R(y, u)`` for matrix ``name`` ∈ {h, x}, before κ·m."""
        if self.rule == "decomposed":
            (ap, aq), (bp, bq), (cp, cq), (dp, dq) = self._factors(g, name)
            return jnp.outer(ap * y, aq * u) + jnp.outer(bp * y, bq) + jnp.outer(cp, cq * u) + jnp.outer(dp, dq)
        p = f"PRNN_1/hebbian_{name}//W_"
        return g[p + "A"] * jnp.outer(y, u) + g[p + "B"] * y[:, None] + g[p + "C"] * u[None, :] + g[p + "D"]

    def weights(self, g, state: PlasticState) -> tuple[Array, Array]:
        """The plastic matrices ``(W_h, W_x)`` (materialised from the accumulators if need be)."""
        mem = state.mem
        if self.rule == "trace":
            return mem["W_h"], jnp.asarray(g["PRNN_1/W_x"], mem["W_h"].dtype)
        if not self.accumulated:
            return mem["W_h"], mem["W_x"]
        out = []
        for name in "hx":
            _, (bp, bq), (cp, cq), (dp, dq) = self._factors(g, name)
            G, Y, U, S = (mem[f"{k}_{name}"] for k in "GYUS")
            out.append(G + jnp.outer(bp * Y, bq) + jnp.outer(cp, cq * U) + S * jnp.outer(dp, dq))
        return tuple(out)

    def _drive(self, g, mem, name, u):
        """``W u`` for the accumulated decomposed form, without materialising ``W``."""
        _, (bp, bq), (cp, cq), (dp, dq) = self._factors(g, name)
        G, Y, U, S = (mem[f"{k}_{name}"] for k in "GYUS")
        return G @ u + bp * Y * (bq @ u) + cp * ((cq * U) @ u) + dp * (S * (dq @ u))

    def step(self, g, state: PlasticState, x, active=True) -> tuple[Array, PlasticState]:
        """One step; with ``active`` False the state is returned unchanged (a masked step)."""
        h_prev, mem = state.h, state.mem
        if self.accumulated:
            drive = self._drive(g, mem, "h", h_prev) + self._drive(g, mem, "x", x)
        else:
            w_h, w_x = self.weights(g, state)
            drive = w_h @ h_prev + w_x @ x
        h = jnp.tanh(drive + g["PRNN_1//b"])
        m = self.modulator(g, x, h_prev, h)
        o = g["FC_1/W"] @ h + g["FC_1/b"]
        km = jnp.where(active, self.kappa * m, 0.0)  # a masked step adds exactly nothing
        if self.rule == "trace":
            eta_t = g["PRNN_1/hebbian_h//eta"][0] + 10.0
            eta = 0.5 * eta_t / (jnp.abs(eta_t) + 1.0) + 0.5
            e_h = jnp.where(active, eta * jnp.outer(h, h_prev) + (1.0 - eta) * mem["E_h"], mem["E_h"])
            w_h = jnp.clip(mem["W_h"] + km[0] * e_h, -self.trace_clip, self.trace_clip)
            new = {"W_h": w_h, "E_h": e_h}
        elif self.accumulated:
            new = {}
            for k, name, u in ((km[0], "h", h_prev), (km[1], "x", x)):
                (ap, aq), *_ = self._factors(g, name)
                new |= {f"G_{name}": mem[f"G_{name}"] + jnp.outer(k * ap * h, aq * u), f"Y_{name}": mem[f"Y_{name}"] + k * h,
                        f"U_{name}": mem[f"U_{name}"] + k * u, f"S_{name}": mem[f"S_{name}"] + k}
        else:
            new = {"W_h": mem["W_h"] + km[0] * self.delta(g, "h", h, h_prev),
                   "W_x": mem["W_x"] + km[1] * self.delta(g, "x", h, x)}
        return o, PlasticState(jnp.where(active, h, h_prev), new)


@dataclass(frozen=True)
class RecurrentNet:
    """Non-plastic RNN / GRU / LSTM baseline with the same read-out and policy (evolved weights)."""

    cell: str = "lstm"
    hidden: int = 64
    n_in: int = 15
    n_out: int = 5
    init_scale: float = 0.05
    block: int = 0  # lifetimes per cache block (each carries its own copy of the weights); 0: 16 LSTM/GRU, 32 RNN

    def __post_init__(self):
        if self.cell not in CELLS:
            raise ValueError(f"unknown recurrent cell {self.cell!r}; allowed: {', '.join(CELLS)}")
        if not self.block:
            object.__setattr__(self, "block", 32 if self.cell == "rnn" else 16)

    def shapes(self) -> dict[str, tuple[int, ...]]:
        n, z = self.hidden, self.hidden + self.n_in
        s: dict[str, tuple[int, ...]] = {"FC_1/W": (self.n_out, n), "FC_1/b": (self.n_out,)}
        if self.cell == "rnn":
            s |= {"RNN_1/W": (n, z), "RNN_1/b": (n,)}
        elif self.cell == "lstm":
            s |= {"LSTM_1/W": (4 * n, z), "LSTM_1/b": (4 * n,)}
        else:
            for gate in "rzn":
                s |= {f"GRU_1/W_{gate}": (n, z), f"GRU_1/b_{gate}": (n,)}
        return s

    init_genome = PlasticRNN.init_genome

    def init_state(self, genome, dtype=jnp.float32) -> RecurrentState:
        n = self.hidden
        return RecurrentState(jnp.zeros(n, dtype), jnp.zeros(n if self.cell == "lstm" else 0, dtype))

    def step(self, g, state: RecurrentState, x, active=True) -> tuple[Array, RecurrentState]:
        """One step; with ``active`` False the state is returned unchanged (a masked step)."""
        xh = jnp.concatenate([x, state.h])  # [x_t; h_{t−1}]
        if self.cell == "rnn":
            h, c = jnp.tanh(g["RNN_1/W"] @ xh + g["RNN_1/b"]), state.c
        elif self.cell == "lstm":
            gi, ii, ff, oo = jnp.split(g["LSTM_1/W"] @ xh + g["LSTM_1/b"], 4)
            c = _sigmoid(ff) * state.c + _sigmoid(ii) * jnp.tanh(gi)
            h = _sigmoid(oo) * jnp.tanh(c)
        else:
            z = _sigmoid(g["GRU_1/W_z"] @ xh + g["GRU_1/b_z"])
            r = _sigmoid(g["GRU_1/W_r"] @ xh + g["GRU_1/b_r"])
            nn = jnp.tanh(g["GRU_1/W_n"] @ jnp.concatenate([x, r * state.h]) + g["GRU_1/b_n"])
            h, c = (1.0 - z) * nn + z * state.h, state.c
        return g["FC_1/W"] @ h + g["FC_1/b"], RecurrentState(jnp.where(active, h, state.h),
                                                             jnp.where(active, c, state.c))


@dataclass(frozen=True)
class RandomWalk:
    """The random-policy baseline of ``plastix eval-maze --policy random``: every step a uniformly random
    move, whatever the observation. Its "genome" is the constant output (four equal logits, and a
    greedy gate of ½tanh(−30) + ½ = 0 in float32, so :func:`policy` always samples the uniform softmax);
    it has no state and learns nothing, so its success rate is what blind wandering scores."""

    block: int = 32

    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {"logits": (5,)}

    def genome(self) -> dict[str, Array]:
        return {"logits": jnp.array([0.0, 0.0, 0.0, 0.0, -30.0])}

    def init_state(self, genome, dtype=jnp.float32) -> Array:
        return jnp.zeros(0, dtype)

    def step(self, g, state: Array, x, active=True) -> tuple[Array, Array]:
        return g["logits"], state


# name -> constructor: every rule × modulation cell, and the non-plastic baselines
AGENTS: dict[str, Any] = {
    **{f"{'decprnn' if r == 'decomposed' else r}-{m}": (lambda r=r, m=m, **kw: PlasticRNN(r, m, **kw))
       for r in RULES for m in MODULATIONS},
    **{c: (lambda c=c, **kw: RecurrentNet(c, **kw)) for c in CELLS},
}


def make_agent(name: str, **kw):
    """Agent by registry name (``decprnn-post`` is the paper's); raises ``ValueError`` listing them."""
    if name not in AGENTS:
        raise ValueError(f"unknown maze agent {name!r}; allowed: {', '.join(AGENTS)}")
    return AGENTS[name](**kw)


def n_params(agent) -> int:
    """Number of evolved meta-parameters."""
    return int(sum(np.prod(s) for s in agent.shapes().values()))


def flat_genome(genome) -> Array:
    """The reference's flat genotype: tensors in sorted-name order, each row-major."""
    return jnp.concatenate([jnp.ravel(genome[k]) for k in sorted(genome)])


def unflat_genome(agent, flat) -> dict[str, Array]:
    """Inverse of :func:`flat_genome` for ``agent``'s shapes (a length mismatch is an error)."""
    shapes = agent.shapes()
    total = n_params(agent)
    if flat.shape[-1] != total:
        raise ValueError(f"genotype has {flat.shape[-1]} numbers; this agent needs {total}")
    out, off = {}, 0
    for k in sorted(shapes):
        size = int(np.prod(shapes[k]))
        out[k] = flat[..., off:off + size].reshape(flat.shape[:-1] + shapes[k])
        off += size
    return out


def policy(o: Array, u_greedy: Array, u_sample: Array) -> tuple[Array, Array]:
    """Action from outputs ``o`` (5,): greedy ``argmax o[:4]`` with probability ``½tanh(o[4]) + ½``,
    otherwise the inverse-CDF sample of ``softmax(o[:4])`` at ``u_sample``. Returns ``(action, greedy)``."""
    greedy = u_greedy < 0.5 * jnp.tanh(o[4]) + 0.5
    cdf = jnp.cumsum(jax.nn.softmax(o[:4]))
    sampled = jnp.minimum(jnp.sum(cdf < u_sample), 3)
    return jnp.where(greedy, jnp.argmax(o[:4]), sampled).astype(jnp.int32), greedy
