"""Whole-network sampling: hidden units drawn jointly with the action (coordinated exploration, second
reconstruction; spec ``team_rules.md`` §9.4) [recon].

The first reconstruction (:mod:`plastix.nets._lateral`) couples hidden units sideways, inside one
layer, and samples the action after that layer has settled. Here every hidden unit also feels the
layers above it, the action included, so the values a unit's Hebbian update sees are correlated
with the action that earned the reward.

**Layered Boltzmann network** (:class:`JointNetwork`, rule ``boltzmann_joint``), input ``x = h_0``
clamped, action ``a = h_L`` (one-hot for a softmax group, {0,1} for Bernoulli outputs)::

    E(h_1..h_{L-1}, a; x) = −Σ_l h_{l−1} W_l h_l − Σ_l b_l·h_l,        P(h, a | x) ∝ exp(−E/τ)

A hidden unit of layer ``l`` has the conditional ``σ((h_{l−1} W_l + h_{l+1} W_{l+1}ᵀ + b_l)/τ)``; the
action group sees only the layer below, ``softmax((h_{L−1} W_L + b_L)/τ)``. Sampling starts from the
feed-forward sample (no top-down input) and runs ``sweeps`` block Gibbs sweeps: the layers of one
parity given the others, then the others; the action belongs to the block of its parity, and that
block goes second [choice], so the emitted action — the action block after the last sweep — was
drawn after the sweep's other half (with the action block first, the last half-sweep could not
change the action). Each block update is one matrix product per neighbouring layer. All layers share one temperature τ (one Boltzmann
distribution); ``anneal = c`` multiplies it by ``c`` at the feed-forward sample, falling linearly to
1 at the last sweep [choice].

Eligibilities (``eligibility=``; every rule is local to its synapse, read from the final state and
the broadcast reward):

* ``"hebbian"`` (negative phase removed): ``ΔW_l ∝ (R − b(x))·h_{l−1} ⊗ h_l/τ``,
  ``Δb_l ∝ (R − b(x))·h_l/τ``, every layer, the action's included. ``R`` depends on the action only,
  so ``∇E[R] = E[R ∇log P(h, a | x)]`` with ``∇_{W_l} log P = (h_{l−1} ⊗ h_l − E[h_{l−1} ⊗ h_l | x])/τ``;
  with ``b(x) = E[R | x]`` the negative phase vanishes in expectation, as in §9.1. It is the gradient
  of the *stationary* model's ``E[R]``, not of the finite-``sweeps`` sampler actually used.
* ``"negative"``: the negative phase from a second, independent chain of the same length:
  ``(φ(h, a) − φ(h', a'))/τ``; needs no baseline at stationarity.
* ``"chain"``: every block update is an agent. The score of the whole trajectory — the feed-forward
  sample's plus, for every update of layer ``l``, ``h_{l−1} ⊗ (h_l − p_l)/τ`` for ``W_l`` and
  ``(h_l − p_l) ⊗ h_{l+1}/τ`` for ``W_{l+1}`` (the top-down use of the tied weights), with the
  values current at that update — is the exact gradient of ``E[R]`` under the ``sweeps``-sweep
  sampler itself, for any baseline that does not read the samples.

**Recurrent layers with untied feedback** (``feedback=True``, rule ``recurrent_feedback``): every
hidden layer ``l`` also has ``B`` (``n_{l+1} × n_l``, stored in layer ``l``'s parameters) from the
layer above. From the feed-forward sample [choice], ``sweeps`` synchronous steps
``h_l^{t+1} ~ σ((h_{l−1}^t W_l + h_{l+1}^t B + b_l)/τ)``, the action re-sampled each step from
``h_{L−1}^t``; the emitted action is the last step's. The exact per-step REINFORCE score (the
``chain`` form: ``p`` terms kept, since ``p^{t+1}`` depends on the history) is the eligibility;
``B`` learns by the same rule as ``W``.

Written by hand: no maintained JAX library samples layered Boltzmann networks. Checked by exact
enumeration in ``tests/test_joint.py`` (the sampler against ``exp(−E)/Z``, each eligibility's
expected update against ``jax.grad`` of the exact expected reward).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from plastix.nets._layers import Bernoulli, Softmax, glorot_init
from plastix.nets._network import Network
from plastix.random import Sampler
from plastix.types import Array, Params, PRNGKey

ELIGIBILITIES = ("hebbian", "negative", "chain")
State = tuple[Array, ...]  # the value of every layer, bottom to top, the action last


@dataclasses.dataclass(frozen=True)
class JointNetwork(Network):
    """Hidden layers and action sampled jointly (see the module docstring).

    Attributes:
        sweeps: block Gibbs sweeps (``feedback``: synchronous steps) after the feed-forward sample.
        eligibility: ``hebbian`` | ``negative`` | ``chain`` (``feedback`` networks: always the exact
            per-step score, ``chain``).
        anneal: temperature multiplier at the feed-forward sample, falling linearly to 1 at the last
            sweep (1 = fixed temperature).
        feedback: untied feedback matrices ``B`` and synchronous steps (``recurrent_feedback``).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from plastix.nets import Bernoulli, Softmax
        >>> from plastix.nets.joint import JointNetwork
        >>> from plastix.random import hash_sampler
        >>> net = JointNetwork(3, (Bernoulli(4), Bernoulli(3), Softmax(2)), sweeps=5)
        >>> params = net.init(jax.random.key(0))
        >>> a, trace = net.sample(params, jnp.ones((8, 3)), jax.random.key(1), hash_sampler())
        >>> a.shape, len(trace)
        ((8, 2), 3)
    """

    sweeps: int = 10
    eligibility: str = "hebbian"
    anneal: float = 1.0
    feedback: bool = False

    def __post_init__(self):
        if len(self.layers) < 2:
            raise ValueError("a joint network needs at least one hidden layer below the action")
        for layer in self.layers[:-1]:
            if not (isinstance(layer, Bernoulli) and layer.values == "01"):
                raise ValueError(f"joint sampling needs {{0,1}} Bernoulli hidden units, got {_describe(layer)}")
        if not isinstance(self.output, (Softmax, Bernoulli)) or getattr(self.output, "values", "01") != "01":
            raise ValueError(f"joint sampling needs a softmax or {{0,1}} Bernoulli action, got {_describe(self.output)}")
        if self.eligibility not in ELIGIBILITIES:
            raise ValueError(f"unknown eligibility {self.eligibility!r}; allowed: {', '.join(ELIGIBILITIES)}")
        if self.sweeps < 0:
            raise ValueError(f"sweeps must be ≥ 0, got {self.sweeps}")
        if not self.anneal > 0:
            raise ValueError(f"anneal must be > 0, got {self.anneal}")
        if not self.feedback and len({layer.tau for layer in self.layers}) > 1:
            raise ValueError("a layered Boltzmann network has one temperature; give one --tau")

    @property
    def rule(self) -> str:
        """The eligibility actually computed."""
        return "chain" if self.feedback else self.eligibility

    def init(self, key: PRNGKey, dtype=jnp.float32) -> Params:
        k_w, k_b = jax.random.split(key)
        params = super().init(k_w, dtype)
        if not self.feedback:
            return params
        keys = jax.random.split(k_b, len(self.layers) - 1)
        n = self.sizes[1:]
        return tuple({**p, "B": glorot_init(k, n[l + 1], n[l], "zeros", dtype)["W"]} if l < len(n) - 1 else p
                     for l, (p, k) in enumerate(zip(params, list(keys) + [None])))

    def multipliers(self) -> tuple[float, ...]:
        """The temperature multiplier of the feed-forward sample and of each sweep."""
        k = self.sweeps
        if k == 0:
            return (1.0,)
        return tuple(self.anneal + (1.0 - self.anneal) * i / k for i in range(k + 1))

    # -- one block update -------------------------------------------------------------------------
    def _logits(self, params: Params, l: int, below: Array, above: Array | None) -> Array:
        u = self.layers[l].preact(params[l], below)
        if above is not None:
            u = u + (above @ params[l]["B"] if self.feedback else above @ params[l + 1]["W"].T)
        return u

    def _update(self, params, l, below, above, c, key, sampler, forced):
        """Sample (or take ``forced``) layer ``l`` given its neighbours; (value, mean, τ)."""
        layer = self.layers[l]
        tau = layer.tau * c
        u = self._logits(params, l, below, above)
        if isinstance(layer, Softmax):
            mean = jax.nn.softmax(u / tau, axis=-1)
            h = forced if forced is not None else jax.nn.one_hot(sampler.categorical(key, u / tau), layer.n,
                                                                    dtype=u.dtype)
        else:
            mean = jax.nn.sigmoid(u / tau)
            h = forced if forced is not None else sampler.bernoulli(key, mean).astype(u.dtype)
        return h, mean, tau

    def _score(self, elig, l, below, above, h, mean, tau):
        """Add one block update's score to the per-sample eligibilities (kept as outer-product factors:
        the reward contracts them at the update, one matrix product per factor pair, instead of a
        (B, n_in, n) matrix per update here)."""
        d = (h - mean) / tau
        elig[l]["W"].append((below, d))
        elig[l]["b"].append(d)
        if above is not None:
            if self.feedback:
                elig[l]["B"].append((above, d))
            else:
                elig[l + 1]["W"].append((d, above))

    def _blocks(self) -> tuple[tuple[int, ...], ...]:
        """The layers updated together, in order, in one sweep."""
        n = len(self.layers)
        if self.feedback:
            return (tuple(range(n)),)  # synchronous
        with_action, other = tuple(range((n - 1) % 2, n, 2)), tuple(range(n % 2, n, 2))
        return other, with_action  # the action's block last: the emitted action has seen the whole sweep

    # -- a whole trajectory -------------------------------------------------------------------------
    def trajectory(self, params: Params, x: Array, key: PRNGKey | None, sampler: Sampler | None,
                   forced: tuple[State, ...] | None = None, score: bool = False):
        """The feed-forward sample and ``sweeps`` sweeps, as ``(states, elig)``: every state
        ``(state_0, …, state_K)`` and the per-sample score, one dict per layer (``None`` unless
        ``score``): for a matrix, the list of factor pairs ``(left (B, m), right (B, n))`` whose
        per-sample outer products sum to it; for a bias, a list of (B, n).

        Args:
            forced: the trajectory to take instead of sampling (the oracles enumerate them):
                ``(state_0, …, state_K)``, each a tuple of every layer's value.
            score: also return the trajectory's exact score (the ``chain`` eligibility).
        """
        n_layers, cs = len(self.layers), self.multipliers()
        keys = sampler.split(key, (self.sweeps + 1) * n_layers) if forced is None else [None] * (
            (self.sweeps + 1) * n_layers)
        elig = [{k: [] for k in p} for p in params] if score else None
        h, state = x, []
        for l in range(n_layers):  # the feed-forward sample: no top-down input
            f = forced[0][l] if forced is not None else None
            new, mean, tau = self._update(params, l, h, None, cs[0], keys[l], sampler, f)
            if score:
                self._score(elig, l, h, None, new, mean, tau)
            state.append(new)
            h = new
        states = [tuple(state)]
        for k in range(1, self.sweeps + 1):
            cur = list(states[-1])
            for block in self._blocks():
                old = list(cur)  # a block reads its neighbours as they are before it
                for l in block:
                    below = x if l == 0 else old[l - 1]
                    above = old[l + 1] if l < n_layers - 1 else None
                    f = forced[k][l] if forced is not None else None
                    new, mean, tau = self._update(params, l, below, above, cs[k], keys[k * n_layers + l], sampler, f)
                    if score:
                        self._score(elig, l, below, above, new, mean, tau)
                    cur[l] = new
            states.append(tuple(cur))
        return tuple(states), elig

    def trace_of(self, params: Params, x: Array, states: tuple[State, ...], elig, second: State | None = None):
        """The network's trace at the final state, with the eligibility of ``self.rule``. The last sweep
        runs at the layers' own temperature (every ``multipliers()`` ends at 1), so each layer's own
        trace gives its input, pre-activation and mean."""
        final = states[-1]
        belows = (x,) + final[:-1]
        out = []
        for l, (layer, p, below, h) in enumerate(zip(self.layers, params, belows, final)):
            t, tau = layer.trace(p, below, h), layer.tau
            if self.rule == "hebbian":
                out.append(t._replace(v=h / tau))
                continue
            if self.rule == "negative":
                below2 = x if l == 0 else second[l - 1]
                e = {"W": [(below, h / tau), (below2, -second[l] / tau)], "b": [(h - second[l]) / tau]}
            else:
                e = {k: v or [(jnp.zeros((h.shape[0], p[k].shape[0]), h.dtype), jnp.zeros((h.shape[0], p[k].shape[1]),
                                                                                            h.dtype))]
                     for k, v in elig[l].items()}  # a parameter no update used (B with 0 steps): zero
            out.append(t._replace(v=jnp.zeros_like(h), elig=e))
        return tuple(out)

    def sample(self, params: Params, x: Array, key: PRNGKey, sampler: Sampler, carry: tuple | None = None):
        """Sample hidden values and action jointly; returns the action (B, n_L) and the trace."""
        k_run, k_neg = sampler.split(key, 2)
        states, elig = self.trajectory(params, x, k_run, sampler, score=self.rule == "chain")
        second = self.trajectory(params, x, k_neg, sampler)[0][-1] if self.rule == "negative" else None
        trace = self.trace_of(params, x, states, elig, second)
        return trace[-1].h, trace

    def energy(self, params: Params, x: Array, state: State) -> Array:
        """``E(h, a; x)`` per sample (B,) (the Boltzmann network; ``feedback`` networks have none)."""
        total, below = 0.0, x
        for p, h in zip(params, state):
            total = total - jnp.sum((below @ p["W"]) * h, -1) - h @ p["b"]
            below = h
        return total

    def trace(self, params: Params, x: Array, hs: tuple[Array, ...]):
        raise TypeError("a joint network's trace depends on its whole trajectory; use trajectory() and trace_of()")

    def log_prob(self, params: Params, x: Array, hs: tuple[Array, ...]):
        raise TypeError("P(h, a | x) of a joint network is exp(−E/τ)/Z; use energy() (see tests/test_joint.py)")


def _describe(layer) -> str:
    values = getattr(layer, "values", "")
    return f"{type(layer).__name__}{f' ({values})' if values else ''}"
