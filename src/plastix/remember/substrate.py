"""Gregor-style plastic substrate (spec ``remember.md`` §2, **[recon]**): neurons and synapses
carrying small state vectors, updated online by two shared meta-networks.

The paper (Gregor 2020, arXiv 2003.03124) states the design — small state vectors for every
activation and weight, one update function for all neurons and one for all synapses, neuron types
as learned embeddings, local updates, meta-training for remembering by truncated backprop — but not
its equations. Everything here is the spec's reconstruction and is called "Gregor-style", never the
paper's method. One tick, all neurons then all synapses, synchronously:

* message  ``m_ij = B(w_ij, s_i)`` (bilinear; option ``lowrank``: ``(P_w w_ij) ⊙ (P_s s_i)``);
* aggregate ``M_j = Σ_{i→j} m_ij / sqrt(indeg j)``;
* neuron  ``s_j ← GRU(s_j; [M_j, ξ_j, e_type(j)])`` (option ``mlp``: ``tanh(s_j + MLP(s_j, x))``);
* synapse ``[Δ, γ] = MLP_32(w_ij, s_i, s_j, e_i, e_j)``, ``w ← (1−σ(γ)) w + σ(γ) tanh(Δ)``
  using the neuron states after this tick's update (option ``fw_products``: the MLP's hidden layer
  also adds ``A(s_i, e_i) ⊙ C(s_j, e_j)``, a multiplicative pre × post term);
* read-out ``ŷ_j = r·s_j + r_b`` on output neurons.

Synapse states are stored densely as ``(senders n, receivers R, d_w)`` where the receivers are the
hidden and output neurons (input neurons have no incoming edge); non-edges are masked. The first layer of the
synapse MLP is split into its per-pair part (``w_ij``) and per-neuron parts (``s_i, e_i`` and
``s_j, e_j``), which is the same function at a fraction of the cost.

``synapse`` selects the synapse rule: ``learned`` (the meta-learned ``F_w``), ``hebbian`` (spec
§6.1-3: ``d_w = 1``, ``w ← λ w + η s_i[0] s_j[0]`` with only λ, η learned) or ``frozen`` (the
§6.1-5 ablation: ``F_w`` off, random fixed synapse states).
"""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["SubstrateConfig", "Substrate", "State", "make_substrate"]

SYNAPSES = ("learned", "hebbian", "frozen")
MESSAGES = ("bilinear", "lowrank")
NEURONS = ("gru", "mlp")


@dataclasses.dataclass(frozen=True)
class SubstrateConfig:
    """Sizes and design choices of the substrate (spec §2.1 [choice] defaults)."""

    n_hid: int = 32
    d_a: int = 8
    d_w: int = 4
    d_e: int = 8
    ticks: int = 3
    """Ticks per input frame K. The spec's [choice] is 2, but a cue needs 3 ticks to reach the output
    (input neuron ← ξ, hidden ← input's message, output ← hidden's message), so with K = 2 a read
    frame's output cannot depend on its own cue; plastix defaults to 3."""
    types: int = 1
    """Number of hidden neuron types T (the paper's "network type" axis)."""
    io_types: bool = True
    """Give every input and every output neuron a type (embedding) of its own [choice]. With one input
    and one output type (the spec's §2.1 list) the network is equivariant under permutations of the
    input neurons and of the output neurons, and the synapse noise is exchangeable, so output j cannot
    know which input carried value bit j: recall stays at symmetric statistics (majority votes:
    0.55–0.59 training bit accuracy after 1,400–3,600 meta-steps, measured). Sensory and motor neurons with identities remove that symmetry."""
    p_conn: float = 1.0
    """Probability that each allowed edge exists (fixed by ``conn_seed``)."""
    conn_seed: int = 0
    message: str = "bilinear"
    neuron: str = "gru"
    synapse: str = "learned"
    embeddings: bool = True
    """Learned type embeddings (False: the ablation with all embeddings fixed at zero)."""
    fw_hidden: int = 32
    fw_products: bool = False
    """Give F_w's hidden layer multiplicative pre × post terms [choice, beyond the spec]:
    ``tanh(W_w w_ij + P(s_i, e_i) + Q(s_j, e_j) + A(s_i, e_i) ⊙ C(s_j, e_j))``. The additive first
    layer has to build a Hebbian product out of its tanh; here it is one elementwise product per pair
    and hidden unit (still local: the synapse sees only its own state and its two neurons)."""
    gate_bias: float = -4.0
    """Initial bias of the synapse gate γ: σ(−4) ≈ 0.018 per tick, so synapse states persist over a window
    at initialisation [choice]."""
    init_noise: float = 0.1
    """Initial synapse states w̄ + init_noise · ε, ε ~ N(0, I) drawn per stream."""

    def validate(self) -> "SubstrateConfig":
        from plastix.validation import ConfigError, at_least, choice, require

        choice("synapse", self.synapse, SYNAPSES)
        choice("message", self.message, MESSAGES)
        choice("neuron", self.neuron, NEURONS)
        for f in ("n_hid", "d_a", "d_w", "d_e", "ticks", "types", "fw_hidden"):
            at_least(f, getattr(self, f), 1)
        if self.synapse == "hebbian" and self.d_w != 1:
            raise ConfigError("d_w", f"{self.d_w}; the fixed Hebbian synapse has d_w = 1")
        require("p_conn", 0.0 < self.p_conn <= 1.0, "in (0, 1]", self.p_conn)
        if self.types > self.n_hid:
            raise ConfigError("types", f"{self.types}; allowed: 1 to n_hid = {self.n_hid}")
        return self


class State(NamedTuple):
    s: jax.Array  # (n, d_a) neuron states
    w: jax.Array  # (n, R, d_w) synapse states (sender, receiver)


def _dense(key, fan_in: int, fan_out: int) -> jax.Array:
    return jax.random.normal(key, (fan_in, fan_out)) / math.sqrt(fan_in)


class Substrate:
    """The network's static structure plus ``init / init_state / tick / frame`` (pure functions).

    ``n_in`` input neurons, then ``n_hid`` hidden, then ``n_out`` output neurons. Neuron types: one per
    input neuron, T hidden types (round robin), one per output neuron (``io_types``; otherwise the
    spec's single input and single output type). Edges: input→hidden, hidden→hidden (no
    self-loops), hidden→output, output→hidden, each kept with probability ``p_conn``.
    """

    def __init__(self, cfg: SubstrateConfig, n_in: int, n_out: int):
        self.cfg, self.n_in, self.n_out = cfg.validate(), n_in, n_out
        n = n_in + cfg.n_hid + n_out
        hid = np.arange(n_in, n_in + cfg.n_hid)
        out = np.arange(n_in + cfg.n_hid, n)
        typ = np.zeros(n, np.int32)
        if cfg.io_types:
            typ[:n_in] = np.arange(n_in)
        first_hid = n_in if cfg.io_types else 1
        typ[hid] = first_hid + np.arange(cfg.n_hid) % cfg.types
        typ[out] = first_hid + cfg.types + (np.arange(n_out) if cfg.io_types else 0)
        self.n_types = int(typ.max()) + 1
        mask = np.zeros((n, n), bool)
        mask[np.ix_(np.arange(n_in), hid)] = True
        mask[np.ix_(hid, hid)] = True
        mask[np.ix_(hid, out)] = True
        mask[np.ix_(out, hid)] = True
        np.fill_diagonal(mask, False)
        if cfg.p_conn < 1.0:
            mask &= np.random.default_rng(cfg.conn_seed).random((n, n)) < cfg.p_conn
        self.n, self.types = n, typ
        self.recv = slice(n_in, n)  # the receivers: every hidden and output neuron (a static slice)
        self.mask = mask[:, n_in:]  # (n, R)
        self.indeg = np.maximum(self.mask.sum(0), 1)
        self.edges = int(mask.sum())
        self.out_idx = out

    # ---- parameters ------------------------------------------------------------------------
    def init(self, key: jax.Array) -> dict:
        c = self.cfg
        ks = jax.random.split(key, 12)
        d_x = c.d_a + 1 + c.d_e
        p = {"emb": 0.5 * jax.random.normal(ks[0], (self.n_types, c.d_e)),
             "r": _dense(ks[1], c.d_a, 1)[:, 0], "r_b": jnp.zeros(()),
             "w_bar": 0.1 * jax.random.normal(ks[2], (c.d_w,))}
        if c.message == "bilinear":
            p["B"] = jax.random.normal(ks[3], (c.d_a, c.d_w, c.d_a)) / math.sqrt(c.d_a * c.d_w)
        else:
            p["P_w"], p["P_s"] = _dense(ks[3], c.d_w, c.d_a), _dense(ks[4], c.d_a, c.d_a)
        if c.neuron == "gru":
            p["gru"] = {"Wx": _dense(ks[5], d_x, 3 * c.d_a), "Wh": _dense(ks[6], c.d_a, 3 * c.d_a),
                        "b": jnp.zeros(3 * c.d_a)}
        else:
            p["fa"] = {"W1": _dense(ks[5], c.d_a + d_x, 32), "b1": jnp.zeros(32),
                       "W2": 0.1 * _dense(ks[6], 32, c.d_a), "b2": jnp.zeros(c.d_a)}
        if c.synapse == "learned":
            h = c.fw_hidden
            p["fw"] = {"Ww": _dense(ks[7], c.d_w, h), "Wpre": _dense(ks[8], c.d_a + c.d_e, h),
                       "Wpost": _dense(ks[9], c.d_a + c.d_e, h), "b1": jnp.zeros(h),
                       "W2": _dense(ks[10], h, 2 * c.d_w), "b2": jnp.zeros(2 * c.d_w).at[c.d_w:].set(c.gate_bias)}
            if c.fw_products:
                p["fw"]["Apre"] = _dense(ks[11], c.d_a + c.d_e, h)
                p["fw"]["Cpost"] = _dense(jax.random.fold_in(ks[11], 1), c.d_a + c.d_e, h)
        elif c.synapse == "hebbian":
            p["hebb"] = {"lam": jnp.asarray(3.0), "eta": jnp.asarray(0.1)}  # λ = σ(3) ≈ 0.95
        if not c.embeddings:
            p.pop("emb")
        return p

    def _emb(self, p: dict) -> jax.Array:
        e = p["emb"] if "emb" in p else jnp.zeros((self.n_types, self.cfg.d_e))
        return e[self.types]  # (n, d_e)

    def init_state(self, p: dict, key: jax.Array) -> State:
        c = self.cfg
        eps = jax.random.normal(key, self.mask.shape + (c.d_w,))
        w = (p["w_bar"][None, None] + c.init_noise * eps) * self.mask[..., None]
        return State(jnp.zeros((self.n, c.d_a)), w)

    # ---- dynamics --------------------------------------------------------------------------
    def messages(self, p: dict, st: State) -> jax.Array:
        """Aggregated incoming messages M_j of the receivers, (R, d_a)."""
        w = st.w * self.mask[..., None]
        if self.cfg.message == "bilinear":
            P = jnp.einsum("cba,ia->icb", p["B"], st.s)  # (n, d_a, d_w)
            M = jnp.einsum("irb,icb->rc", w, P)
        else:
            M = jnp.einsum("irc,ic->rc", w @ p["P_w"], st.s @ p["P_s"])
        return M / jnp.sqrt(self.indeg)[:, None]

    def neuron_update(self, p: dict, s: jax.Array, M: jax.Array, xi: jax.Array) -> jax.Array:
        """New neuron states from (own state, aggregated messages, external input, type)."""
        Mfull = jnp.concatenate([jnp.zeros((self.n_in, s.shape[1]), s.dtype), M])
        x = jnp.concatenate([Mfull, xi[:, None], self._emb(p)], 1)
        if self.cfg.neuron == "gru":
            g = p["gru"]
            a, b = x @ g["Wx"] + g["b"][None], s @ g["Wh"]
            d = self.cfg.d_a
            z = jax.nn.sigmoid(a[:, :d] + b[:, :d])
            r = jax.nn.sigmoid(a[:, d:2 * d] + b[:, d:2 * d])
            hh = jnp.tanh(a[:, 2 * d:] + r * b[:, 2 * d:])
            return (1 - z) * s + z * hh
        f = p["fa"]
        return jnp.tanh(s + jnp.tanh(jnp.concatenate([s, x], 1) @ f["W1"] + f["b1"][None]) @ f["W2"] + f["b2"][None])

    def synapse_update(self, p: dict, w: jax.Array, s: jax.Array) -> jax.Array:
        """New synapse states from (own state, endpoint states and types)."""
        c = self.cfg
        if c.synapse == "frozen":
            return w
        if c.synapse == "hebbian":
            h = p["hebb"]
            new = jax.nn.sigmoid(h["lam"]) * w + h["eta"] * (s[:, 0][:, None] * s[self.recv, 0][None, :])[..., None]
        else:
            f = p["fw"]
            se = jnp.concatenate([s, self._emb(p)], 1)
            pre = se @ f["Wpre"]  # (n, h)
            post = se[self.recv] @ f["Wpost"] + f["b1"][None]  # (R, h)
            z = w @ f["Ww"] + pre[:, None, :] + post[None, :, :]  # (n, R, h)
            if c.fw_products:
                z = z + (se @ f["Apre"])[:, None, :] * (se[self.recv] @ f["Cpost"])[None, :, :]
            hdn = jnp.tanh(z)
            out = hdn @ f["W2"] + f["b2"][None, None]
            gate = jax.nn.sigmoid(out[..., c.d_w:])
            new = (1 - gate) * w + gate * jnp.tanh(out[..., :c.d_w])
        return jnp.where(self.mask[..., None], new, w)

    def tick(self, p: dict, st: State, xi: jax.Array) -> State:
        """One synchronous tick; ``xi`` is the (n,) external input (zero outside input neurons)."""
        s = self.neuron_update(p, st.s, self.messages(p, st), xi)
        return State(s, self.synapse_update(p, st.w, s))

    def readout(self, p: dict, st: State) -> jax.Array:
        return st.s[self.out_idx] @ p["r"] + p["r_b"]

    def frame(self, p: dict, st: State, x: jax.Array) -> tuple[State, jax.Array]:
        """Present one frame for K ticks; return the new state and the output logits (n_out,)."""
        xi = jnp.concatenate([x, jnp.zeros(self.n - self.n_in, x.dtype)])
        for _ in range(self.cfg.ticks):
            st = self.tick(p, st, xi)
        return st, self.readout(p, st)

    def state_size(self) -> int:
        """Dynamic state variables per stream: n·d_a + |E|·d_w."""
        return self.n * self.cfg.d_a + self.edges * self.cfg.d_w


def make_substrate(cfg: SubstrateConfig, n_in: int, n_out: int) -> Substrate:
    return Substrate(cfg, n_in, n_out)
