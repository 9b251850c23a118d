r"""BLUR networks: multi-state neurons, k-channel synapses, and one inner-loop step (spec blur.md §1–§4).

Every neuron carries k states; every synapse k channels (or one shared, "single-state"). Every
sending layer below the top gets a bias unit whose k states are all 1. Arrays are stored
channel-first, so that every product is a batched matmul over a leading channel axis (XLA:CPU is
much faster with the batch axis leading), and inside the sweeps the examples are the innermost
axis, so that every elementwise pass (tanh, normalisation) runs over full vectors of examples
rather than over a few units (toy meta-step, 20 hidden units: 15.3 → 10.8 ms): states ``A_ℓ``
(k, n_ℓ, B) inside the sweeps (:func:`forward` returns them as (k, B, n_ℓ)), forward synapses ``F_ℓ``
(kc, n_{ℓ−1}+1, n_ℓ) and, for asymmetric networks, backward ``K_ℓ`` (kc, n_ℓ, n_{ℓ−1}+1); a symmetric
network uses ``K ≡ Fᵀ``. The equations below index as the spec does (``A[b,i,c]``, ``F[i,j,c]``).
For k ≤ :data:`FUSED_MAX_K` the sweeps evaluate the same sums through transient combined weights
(``ν[c,d]·F[i,j,c]`` as one (k·n_out) × (k·n_in) matrix); the stored synapses are unchanged. A
normalised layer with a narrow input (the 2-D tasks' first layer, :func:`_narrow`) folds its forward
normalisation into those combined weights, with the statistics from the input's mean and covariance
(:func:`_normalized_affine`): the same numbers, one product and one activation pass (toy meta-step
with the reference's work: 4.7 → 4.2 ms; 5 differentiated tasks: 8.9 → 6.9 ms; interleaved medians,
2026-11-24).

One step on a batch ``(X, Y)`` (:func:`inner_step`):

1. reset every neuron to 0 (``reset_neurons``), clamp ``A_0[:, :, 1] = X`` (other states 0);
2. forward, ℓ = 1 … L: ``Z[b,j,c] = Σ_i F[i,j,c] Σ_d ν[c,d] Ā_{ℓ−1}[b,i,d]``,
   ``A_ℓ ← φ^fwd(N^fwd(f·A_ℓ + η·Z))`` (N: per-channel normalisation over batch and units, hidden
   layers only, when ``normalize``);
3. read the logits ``O = A_L[:, :, 1]``;
4. feedback into output state 2: ``"target"`` (±1 one-hot, states ≥ 3 zeroed) or the loss gradient
   w.r.t. the output pre-activation (``"mse_grad"``: ``O − onehot`` for a linear output;
   ``"ce_grad"``: ``softmax(O) − onehot``), for the golden tests;
5. backward, ℓ = L−1 … 1: ``M[b,i,c] = Σ_j K[j,i,c] Σ_d μ[c,d] A_{ℓ+1}[b,j,d]`` (the bias
   receives nothing), then ``additive``: ``A ← φ^bwd(N^bwd(f·A + η·M))``; ``multiplicative``:
   ``A ← φ^bwd(f·A ⊙ M)``; ``multiplicative_second_state``: state 1 ``φ^bwd(f·A¹)``, states
   c ≥ 2 ``φ^bwd(f·A^c·M^c)``;
6. synapses, every layer: ``H[i,j,c] = red_b[(Σ_e P[b,i,e] ν̃[e,c])(Σ_d μ̃[c,d] A_ℓ[b,j,d])]``
   with P the sender after the backward sweep (or its forward copy, ``hebb_pre="forward"``),
   ``F ← f̃F + η̃H − |η̃||ω|·O`` with the Oja term ``O[i,j,c] = F[i,j,c] Σ_r F[r,j,c]²`` (spec D5a,
   when ``oja``); asymmetric K learns the mirrored rule. ``red_b`` is the batch mean (default) or
   sum (the reference).

Synapse normalisation (spec D6, ``synapse_norm``; off by default): the forward and backward sweeps
read ``w'_ij = ρ·w_ij / sqrt(Σ_{i'} w_{i'j}² + 1e−9)``, each receiving unit's column normalised over
its senders (bias included) per channel, with ρ the genome's ``rho``; the stored synapses and the
Hebbian/Oja update are unchanged. A symmetric network uses the normalised ``F`` both ways (``K ≡
F'ᵀ``); an asymmetric network's ``K`` is normalised over the same index, the lower layer's units
and bias, so that both directions see the same geometry [choice: the paper does not say].

Synapse saturation (spec D7, ``saturation``; off by default) is the paper's form: after the update
(Oja term included) every stored synapse becomes ``α·tanh(w/α)`` with α the genome's ``alpha``
(non-zero), so ``|w| < |α|``. The reference code's ``exp_update`` alternative is not implemented: the
spec leaves its ``ε`` and ``s`` undefined.

Not implemented yet: the ``supervised_every`` and ``forward_synapse_update`` modes.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Sequence

import jax
import jax.numpy as jnp

from plastix.blur.genome import Genome
from plastix.types import Array

BACKWARD_MODES = ("additive", "multiplicative", "multiplicative_second_state")
FEEDBACKS = ("target", "mse_grad", "ce_grad")
REDUCTIONS = ("mean", "sum")


def _per_state(first: Callable, second: Callable) -> Callable:
    """A backprop-mode activation: ``first`` on state 1, ``second`` on state 2, identity beyond."""

    def act(x):
        out = x.at[0].set(first(x[0]))  # states lead: x is (k, B, n)
        return out.at[1].set(second(x[1])) if x.shape[0] > 1 else out

    return act


def _dsigmoid(x):
    s = jax.nn.sigmoid(x)
    return s * (1 - s)


ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "tanh": jnp.tanh,
    "relu_tanh": lambda x: jax.nn.relu(jnp.tanh(x)),  # the reference's hidden default
    "sigmoid": jax.nn.sigmoid,
    "relu": jax.nn.relu,
    "identity": lambda x: x,
    # backprop mode: (s(x¹), s′(x²))
    "sigmoid_bp": _per_state(jax.nn.sigmoid, _dsigmoid),
    "tanh_bp": _per_state(jnp.tanh, lambda x: 1 - jnp.tanh(x) ** 2),
    "identity_bp": _per_state(lambda x: x, jnp.ones_like),
}


@dataclasses.dataclass(frozen=True)
class BlurNet:
    """Structure and options of a BLUR network (the genome is separate)."""

    sizes: tuple[int, ...]  # (n_0, hidden…, n_L)
    k: int = 2
    symmetric: bool = True
    single_state: bool = False
    backward_mode: str = "additive"
    hidden_fwd: str = "tanh"
    hidden_bwd: str = "tanh"
    output_fwd: str = "tanh"
    normalize: bool = True
    oja: bool = True
    feedback: str = "target"
    reduction: str = "mean"
    hebb_pre: str = "backward"
    init_scale: str = "fan_in"  # uniform[−1, 1]/sqrt(n_in + 1) | "unit": uniform[−1, 1]
    synapse_norm: bool = False  # spec D6: sweeps read ρ·w/‖w_{·j}‖ (over senders, bias included)
    saturation: bool = False  # spec D7: stored synapses w ← α·tanh(w/α) after every update

    def validate(self) -> "BlurNet":
        if len(self.sizes) < 2 or any(n < 1 for n in self.sizes):
            raise ValueError(f"sizes {self.sizes}: need an input and an output layer, every size ≥ 1")
        if self.k < 2:
            raise ValueError(f"k={self.k}: BLUR needs ≥ 2 states (state 2 carries the feedback)")
        for field, allowed in (("backward_mode", BACKWARD_MODES), ("feedback", FEEDBACKS), ("reduction", REDUCTIONS),
                               ("hebb_pre", ("backward", "forward")), ("init_scale", ("fan_in", "unit")),
                               ("hidden_fwd", ACTIVATIONS), ("hidden_bwd", ACTIVATIONS), ("output_fwd", ACTIVATIONS)):
            if getattr(self, field) not in allowed:
                raise ValueError(f"{field}={getattr(self, field)!r}; allowed: {', '.join(allowed)}")
        return self

    @property
    def channels(self) -> int:
        return 1 if self.single_state else self.k


def backprop_config(sizes: Sequence[int], hidden: str = "sigmoid_bp", output: str = "identity_bp",
                    feedback: str = "mse_grad", reduction: str = "sum") -> BlurNet:
    """The network settings under which :func:`~plastix.blur.genome.backprop_genome` is SGD (§3.1)."""
    return BlurNet(tuple(sizes), k=2, symmetric=True, single_state=True, backward_mode="multiplicative_second_state",
                   hidden_fwd=hidden, hidden_bwd="identity", output_fwd=output, normalize=False, oja=False,
                   feedback=feedback, reduction=reduction)


def init_synapses(key: Array, net: BlurNet, dtype=jnp.float32) -> list[dict]:
    """Fresh synapses: uniform[−1, 1] × scale (spec D2), one dict per layer with ``F`` (and ``K``)."""
    out = []
    for l, (n_in, n_out) in enumerate(zip(net.sizes[:-1], net.sizes[1:])):
        kf, kk = jax.random.split(jax.random.fold_in(key, l))
        scale = 1.0 / jnp.sqrt(n_in + 1.0) if net.init_scale == "fan_in" else 1.0
        layer = {"F": jax.random.uniform(kf, (net.channels, n_in + 1, n_out), dtype, -1.0, 1.0) * scale}
        if not net.symmetric:
            layer["K"] = jax.random.uniform(kk, (net.channels, n_out, n_in + 1), dtype, -1.0, 1.0) * scale
        out.append(layer)
    return out


def _channels(W: Array, k: int) -> Array:
    """Single-state synapses store one channel; every state reads it."""
    return W if W.shape[0] == k else jnp.broadcast_to(W, (k,) + W.shape[1:])


def _with_bias(A: Array) -> Array:
    """(k, n, B) → (k, n + 1, B): the bias unit, all k states 1."""
    return jnp.concatenate([A, jnp.ones((A.shape[0], 1, A.shape[2]), A.dtype)], axis=1)


def _mix(m: Array, A: Array) -> Array:
    """``Σ_d m[c, d] A[d]`` over the leading state axis, as one 2-D product ``m @ A.reshape(k, −1)``.

    XLA:CPU runs this 2-D form, and its transpose in the meta-gradient (``dm = dZ @ Aᵀ``, one
    contracting axis), several times faster than a ``tensordot`` contracting the units and batch axes
    separately (isolated gradient product (4, 65·128): 117 → 10 µs; digits meta-step, k = 4:
    14.0 → 11.2 ms), and faster than two broadcast multiply-adds for k = 2 (toy meta-step:
    10.7 → 9.7 ms; medians of three interleaved runs, 2026-11-24)."""
    return (m @ A.reshape(A.shape[0], -1)).reshape(A.shape)


FUSED_MAX_K = 2
"""Networks with at most this many states compute each sweep's state mixing and synapse product as
one 2-D product of combined weights (:func:`_mixed_product`, :func:`_hebbian`). It is the same sum,
in another order: fewer, larger products, k times the multiply-adds of the per-channel product.
For k = 2 that is faster (toy meta-step with the reference's work: 5.7 → 4.1 ms; 5 differentiated
tasks: 10.0 → 7.0 ms). For k = 4 it is slower (digits meta-step: 11.2 → 18.5 ms). Medians of three
interleaved runs each, 2026-11-24."""


def _fused(net: "BlurNet") -> bool:
    return net.k <= FUSED_MAX_K


def _bias_state(m: Array) -> Array:
    """``_mix(m, ·)`` of the bias unit, whose k states are all 1: ``Σ_d m[c, d]``, shape (k,). The
    combined-weight products add the bias unit's term this way instead of appending it to the states."""
    return jnp.sum(m, axis=1)


def _combined(m: Array, W: Array) -> Array:
    """The combined weights ``m[c, d]·W[c, j, i]`` as a (k·J) × (k·I) matrix, rows (c, j), columns (d, i)."""
    k, J, I = W.shape
    return (m[:, None, :, None] * W[:, :, None, :]).reshape(k * J, k * I)


def _mixed_product(m: Array, W: Array, A: Array) -> Array:
    """``Σ_{d,i} m[c, d] W[c, j, i] A[d, i, b]``, shape (k, J, B), as one 2-D product of the combined
    (k·J) × (k·I) weights with ``A`` as (k·I) × B."""
    k, J, I = W.shape
    return (_combined(m, W) @ A.reshape(k * I, -1)).reshape(k, J, -1)


def _narrow(k: int, n_in: int, n_out: int) -> bool:
    """Whether a layer's input is narrow enough for :func:`_normalized_affine`: its (k·n_in)² input
    covariance is no bigger than one state vector of the layer's units over one example, k·n_out."""
    return (k * n_in) ** 2 <= k * n_out


def _normalized_affine(Wm: Array, b: Array, S: Array, gamma: Array, beta: Array) -> Array:
    """``N(Z)`` (:func:`_normalize`) of the affine map ``Z[c, j, ·] = Wm[(c, j), :] @ S + b[c, j]``, with the
    normalisation folded into the weights: one product and no pass over ``Z`` for its statistics.

    Per channel c, over units j and examples: mean ``m = mean_j μ_j`` with ``μ_j = w_j·s̄ + b_j``, and
    variance ``v = mean_j w_jᵀ C w_j + mean_j (μ_j − m)²`` (within-unit plus between-unit parts), from the
    input's mean ``s̄`` and population covariance ``C``; then ``N(Z) = (r·Wm) S + r·(b − m) + β`` with
    ``r = γ/sqrt(v + 1e−5)``. The same numbers as :func:`_normalize` up to rounding."""
    k, J = b.shape
    kI, B = S.shape
    mean = jnp.mean(S, axis=1)
    Sc = S - mean[:, None]
    C = (Sc @ Sc.T) / B
    W = Wm.reshape(k, J, kI)
    mu = W @ mean + b  # (k, J)
    m = jnp.mean(mu, axis=1)
    v = jnp.mean(jnp.einsum("cji,il,cjl->cj", W, C, W), axis=1) + jnp.mean((mu - m[:, None]) ** 2, axis=1)
    r = gamma * jax.lax.rsqrt(v + 1e-5)
    shift = r[:, None] * (b - m[:, None]) + beta[:, None]
    return ((r[:, None, None] * W).reshape(k * J, kI) @ S + shift.reshape(k * J, 1)).reshape(k, J, B)


def _hebbian(g: Genome, pre: Array, post: Array, bias: str) -> Array:
    """``Σ_b (Σ_e ν̃[e, c] pre[e, i, b]) (Σ_d μ̃[c, d] post[d, j, b])`` with the bias unit on the ``bias``
    side, from one 2-D product over the batch of all state pairs ``G[e, i, d, j]``."""
    k, I, B = pre.shape
    J = post.shape[1]
    G = (pre.reshape(k * I, B) @ post.reshape(k * J, B).T).reshape(k, I, k, J)
    C = g.nu_t.T[:, :, None] * g.mu_t[:, None, :]  # C[c, e, d] = ν̃[e, c] μ̃[c, d]
    H = jnp.einsum("ced,eidj->cij", C, G)
    if bias == "pre":  # the bias sender: all states 1
        row = _bias_state(g.nu_t.T)[:, None] * (g.mu_t @ jnp.sum(post, 2))
        return jnp.concatenate([H, row[:, None, :]], axis=1)
    col = _bias_state(g.mu_t)[:, None] * (g.nu_t.T @ jnp.sum(pre, 2))
    return jnp.concatenate([H, col[:, :, None]], axis=2)


def _normalize(x: Array, gamma: Array, beta: Array) -> Array:
    """Per state channel over (batch, units): ``(x − mean)/sqrt(var + 1e−5)·γ_c + β_c`` (spec D1)."""
    m = jnp.mean(x, axis=(1, 2), keepdims=True)
    v = jnp.var(x, axis=(1, 2), keepdims=True)
    return (x - m) / jnp.sqrt(v + 1e-5) * gamma[:, None, None] + beta[:, None, None]


def _synapse_norm(W: Array, rho: Array, axis: int) -> Array:
    """``ρ·W / sqrt(Σ W² + 1e−9)`` with the sum over ``axis`` (the lower layer's units and bias; D6)."""
    return rho * W * jax.lax.rsqrt(jnp.sum(W * W, axis=axis, keepdims=True) + 1e-9)


def effective(net: BlurNet, g: Genome, layer: dict) -> dict:
    """The synapses the sweeps read: ``layer`` itself, or its D6-normalised copy when ``synapse_norm``."""
    if not net.synapse_norm:
        return layer
    out = {"F": _synapse_norm(layer["F"], g.rho, axis=1)}
    if "K" in layer:
        out["K"] = _synapse_norm(layer["K"], g.rho, axis=2)
    return out


def _reads(net: BlurNet, g: Genome, syn: list[dict]) -> list[dict]:
    """Every layer's synapses as both sweeps read them (:func:`effective`), computed once per step."""
    return [effective(net, g, layer) for layer in syn]


def forward(net: BlurNet, g: Genome, syn: list[dict], x: Array) -> list[Array]:
    """The forward sweep from reset neurons: every layer's states ``[A_0 … A_L]``, each (k, B, n)."""
    return [jnp.swapaxes(A, 1, 2) for A in _sweep_up(net, g, _reads(net, g, syn), x)]


def _sweep_up(net: BlurNet, g: Genome, reads: list[dict], x: Array) -> list[Array]:
    """:func:`forward` on the synapses as the sweeps read them (:func:`effective`)."""
    A0 = jnp.zeros((net.k,) + x.T.shape, x.dtype).at[0].set(x.T)
    states = [A0]
    L = len(reads)
    for l, read in enumerate(reads):
        top = l == L - 1
        norm = net.normalize and not top
        F = _channels(read["F"], net.k)
        W, b = jnp.swapaxes(F[:, :-1], 1, 2), F[:, -1] * _bias_state(g.nu)[:, None]  # the bias unit's term
        k, J, I = W.shape
        # f·A + η·Z with A reset to 0 (neurons are reset every step, spec D12)
        if norm and _narrow(k, I, J):
            A = _normalized_affine(g.eta * _combined(g.nu, W), g.eta * b, states[-1].reshape(k * I, -1),
                                   g.gamma_fwd, g.beta_fwd)
        else:
            if _fused(net):
                Z = _mixed_product(g.nu, W, states[-1]) + b[:, :, None]
            else:
                Z = jnp.swapaxes(F, 1, 2) @ _mix(g.nu, _with_bias(states[-1]))
            A = _normalize(g.eta * Z, g.gamma_fwd, g.beta_fwd) if norm else g.eta * Z
        states.append(ACTIVATIONS[net.output_fwd if top else net.hidden_fwd](A))
    return states


def _feedback(net: BlurNet, A_L: Array, y: Array) -> Array:
    n_out = A_L.shape[1]
    onehot = jax.nn.one_hot(y, n_out, dtype=A_L.dtype, axis=0)  # (n_out, B): units lead, as in A_L
    logits = A_L[0]
    if net.feedback == "target":
        signal = 2 * onehot - 1
    elif net.feedback == "mse_grad":
        signal = logits - onehot
    else:
        signal = jax.nn.softmax(logits, axis=0) - onehot
    return A_L.at[1].set(signal).at[2:].set(0.0)


def _backward_update(net: BlurNet, g: Genome, A: Array, M: Array) -> Array:
    act = ACTIVATIONS[net.hidden_bwd]
    if net.backward_mode == "additive":
        x = g.f * A + g.eta * M
        if net.normalize:
            x = _normalize(x, g.gamma_bwd, g.beta_bwd)
        return act(x)
    if net.backward_mode == "multiplicative":
        return act(g.f * A * M)
    first = act(g.f * A[:1])
    rest = act(g.f * A[1:] * M[1:])
    return jnp.concatenate([first, rest], axis=0)


def _reduce(net: BlurNet, x: Array, batch: int) -> Array:
    return x if net.reduction == "sum" else x / batch


def _oja(W: Array) -> Array:
    """``W[i,j,c] · Σ_r W[r,j,c]²`` (sum over the senders, bias included; spec D5a)."""
    return W * jnp.sum(W * W, axis=1, keepdims=True)


def _plastic(net: BlurNet, g: Genome, W: Array, pre: Array, post: Array, batch: int, bias: str) -> Array:
    """``f̃W + η̃·red_b[(pre ν̃)(μ̃ post)] − |η̃||ω|·Oja(W)`` for synapses from ``pre`` units to ``post`` units;
    the bias unit is appended on the ``bias`` side ("pre" or "post")."""
    if _fused(net):
        H = _reduce(net, _hebbian(g, pre, post, bias), batch)
    else:
        if bias == "pre":
            pre = _with_bias(pre)
        else:
            post = _with_bias(post)
        pre_c = _mix(g.nu_t.T, pre)  # Σ_e pre[e] ν̃[e, c]
        post_c = _mix(g.mu_t, post)
        H = _reduce(net, pre_c @ jnp.swapaxes(post_c, 1, 2), batch)
    if net.single_state:
        H = H[:1]  # one shared value: the channel-1 update
    new = g.f_t * W + g.eta_t * H
    if net.oja:
        new = new - jnp.abs(g.eta_t) * jnp.abs(g.omega) * _oja(W)
    if net.saturation:
        new = g.alpha * jnp.tanh(new / g.alpha)
    return new


def inner_step(net: BlurNet, g: Genome, syn: list[dict], x: Array, y: Array) -> tuple[list[dict], Array]:
    """One BLUR step on ``(x, y)``: returns the new synapses and the logits of the forward pass."""
    reads = _reads(net, g, syn)  # D6-normalised once, read by both sweeps
    states = _sweep_up(net, g, reads, x)
    fwd_copy = list(states)
    logits = states[-1][0].T
    states[-1] = _feedback(net, states[-1], y)
    L = len(syn)
    for l in range(L - 1, 0, -1):  # states[l] is hidden layer l; its upper neighbour uses synapses syn[l]
        upper = states[l + 1]
        n_real = states[l].shape[1]
        if net.symmetric:
            Wb = _channels(reads[l]["F"][:, :n_real], net.k)
        else:
            Wb = jnp.swapaxes(_channels(reads[l]["K"][:, :, :n_real], net.k), 1, 2)
        if _fused(net):
            M = _mixed_product(g.mu, Wb, upper)
        else:
            M = Wb @ _mix(g.mu, upper)
        states[l] = _backward_update(net, g, states[l], M)
    batch = x.shape[0]
    new = []
    for l, layer in enumerate(syn):
        P = fwd_copy[l] if net.hebb_pre == "forward" else states[l]  # the senders; the bias unit is implied
        post = states[l + 1]
        upd = {"F": _plastic(net, g, layer["F"], P, post, batch, "pre")}
        if not net.symmetric:  # the backward synapses: sender and receiver roles swapped
            upd["K"] = _plastic(net, g, layer["K"], post, P, batch, "post")
        new.append(upd)
    return new, logits


def predict(net: BlurNet, g: Genome, syn: list[dict], x: Array) -> Array:
    """Logits of a forward-only pass (steps 1–4, no feedback, no learning)."""
    return _sweep_up(net, g, _reads(net, g, syn), x)[-1][0].T  # not forward(): it transposes every layer
