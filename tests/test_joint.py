"""Oracles of whole-network sampling (plastix.nets.joint; spec team_rules.md §9.4), each with a
negative control that must fail.

A network of 3 inputs, two hidden layers of 2 units and 2 actions has 32 states, so every
expectation is a sum: over states (the stationary Boltzmann distribution), over pairs of states (the
negative phase), or over trajectories (the K-sweep sampler, the recurrent steps). The probabilities
come from a slow reference written here from the energy and the conditionals of the spec, not from
the module's own sampling code; gradients of the exact expected reward come from ``jax.grad``.
"""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from plastix.nets import Bernoulli, Softmax
from plastix.nets.joint import JointNetwork
from plastix.random import hash_sampler
from plastix.rules import score_grads
from plastix.teams.oracles import max_relative_error

X = np.array([1.0, -1.0, 0.5])
REWARD = np.array([1.0, 2.5])  # R(a): a mean far from 0, so an uncentred rule is visibly biased
TAU = 1.3


def _net(**kw) -> JointNetwork:
    return JointNetwork(3, (Bernoulli(2, tau=TAU), Bernoulli(2, tau=TAU), Softmax(2, tau=TAU)), **kw)


def _params(net: JointNetwork, seed: int, scale: float = 1.0):
    leaves, tree = jax.tree.flatten(net.init(jax.random.key(0), jnp.float64))
    keys = jax.random.split(jax.random.key(seed), len(leaves))
    return jax.tree.unflatten(tree, [scale * jax.random.normal(k, p.shape, jnp.float64) for k, p in zip(keys, leaves)])


def _bits(n):
    return np.array(list(itertools.product((0.0, 1.0), repeat=n)))


H = _bits(2)  # the 4 values of a 2-unit hidden layer
A = np.eye(2)  # the 2 one-hot actions
IDX = np.array([(i1, i2, ia) for i1 in range(4) for i2 in range(4) for ia in range(2)])  # the 32 states


def _values(idx):
    """The layers' values (h1, h2, a) of states given by their indices, ``idx`` (..., 3)."""
    return jnp.asarray(H[idx[..., 0]]), jnp.asarray(H[idx[..., 1]]), jnp.asarray(A[idx[..., 2]])


def _energy_table(params):
    """E[i1, i2, ia] = E(h1, h2, a; x), written from the spec."""
    w, h, a = params, jnp.asarray(H), jnp.asarray(A)
    e1 = h @ (jnp.asarray(X) @ w[0]["W"] + w[0]["b"])  # (4,)
    e12 = h @ w[1]["W"] @ h.T  # (4, 4)
    e2a = h @ w[2]["W"] @ a.T  # (4, 2)
    return -(e1[:, None, None] + e12[:, :, None] + e2a[None] + (h @ w[1]["b"])[None, :, None]
             + (a @ w[2]["b"])[None, None, :])


def _boltzmann(params):
    return jax.nn.softmax(-_energy_table(params).reshape(-1) / TAU)


# ---- the slow reference of the samplers: conditionals from the energy, by enumeration ----------------
def _gibbs_kernels(params, tau):
    """P(h1', a' | h2) [i1, i2, ia] and P(h2' | h1, a) [i1, i2, ia], each ∝ exp(−E/τ) over its block."""
    logit = -_energy_table(params) / tau
    odd = jnp.exp(logit - jax.scipy.special.logsumexp(logit, axis=(0, 2), keepdims=True))
    even = jnp.exp(logit - jax.scipy.special.logsumexp(logit, axis=1, keepdims=True))
    return odd, even


def _bern(u, h):  # Π_i Bern(h_i | σ(u_i)) along the last axis
    return jnp.prod(jnp.where(h > 0, jax.nn.sigmoid(u), jax.nn.sigmoid(-u)), -1)


def _ff_prob(params, i1, i2, ia, tau):
    """The feed-forward sample's probability: each layer from the one below, no top-down input."""
    h, a = jnp.asarray(H), jnp.asarray(A)
    u1 = (jnp.asarray(X) @ params[0]["W"] + params[0]["b"]) / tau
    u2 = (h[i1] @ params[1]["W"] + params[1]["b"][None]) / tau
    u3 = (h[i2] @ params[2]["W"] + params[2]["b"][None]) / tau
    return _bern(u1[None], h[i1]) * _bern(u2, h[i2]) * jnp.take_along_axis(jax.nn.softmax(u3), ia[:, None], 1)[:, 0]


def _gibbs_prob(params, traj, cs):
    """P(trajectory) of the block Gibbs sampler; ``traj`` (N, K + 1, 3) state indices."""
    i1, i2, ia = traj[:, 0].T
    p = _ff_prob(params, i1, i2, ia, TAU * cs[0])
    for k in range(1, traj.shape[1]):
        odd, even = _gibbs_kernels(params, TAU * cs[k])
        (j1, j2, ja), (prev1, _, prev_a) = traj[:, k].T, traj[:, k - 1].T
        p = p * even[prev1, j2, prev_a] * odd[j1, j2, ja]  # h2 given (h1, a), then (h1, a) given h2: action last
    return p


def _sync_prob(params, traj, cs):
    """recurrent_feedback: every layer at step k from the step k − 1 state, B feedback from above."""
    h, a, w = jnp.asarray(H), jnp.asarray(A), params
    i1, i2, ia = traj[:, 0].T
    p = _ff_prob(params, i1, i2, ia, TAU * cs[0])
    for k in range(1, traj.shape[1]):
        (p1, p2, pa), (j1, j2, ja), tau = traj[:, k - 1].T, traj[:, k].T, TAU * cs[k]
        u1 = ((jnp.asarray(X) @ w[0]["W"] + w[0]["b"])[None] + h[p2] @ w[0]["B"]) / tau
        u2 = (h[p1] @ w[1]["W"] + w[1]["b"][None] + a[pa] @ w[1]["B"]) / tau
        u3 = (h[p2] @ w[2]["W"] + w[2]["b"][None]) / tau
        p = p * _bern(u1, h[j1]) * _bern(u2, h[j2]) * jnp.take_along_axis(jax.nn.softmax(u3), ja[:, None], 1)[:, 0]
    return p


def _weighted_update(trace, weights, signal):
    """Σ_i weights_i · signal_i · eligibility_i as loss-convention grads (score_grads averages)."""
    n = weights.shape[0]
    return tuple(score_grads(t, n * weights * signal) for t in trace)


def _as_loss(grad):
    return jax.tree.map(lambda g: -g, grad)


# ---- the sampler: exp(−E)/Z after enough sweeps -----------------------------------------------------
def _empirical(net, params, n=200_000, key=3):
    x = jnp.broadcast_to(jnp.asarray(X, jnp.float32), (n, 3))
    p32 = jax.tree.map(lambda a: a.astype(jnp.float32), params)
    states, _ = jax.jit(lambda k: net.trajectory(p32, x, k, hash_sampler()))(jax.random.key(key))
    h1, h2, a = (np.asarray(v) for v in states[-1])
    index = (h1 @ [2, 1]) * 8 + (h2 @ [2, 1]) * 2 + a @ [0, 1]
    return np.bincount(index.astype(int), minlength=32) / n


class NoTopDown(JointNetwork):
    """Negative control: block Gibbs without the input from the layer above."""

    def _logits(self, params, l, below, above):
        return below @ params[l]["W"] + params[l]["b"][None]


@pytest.mark.parametrize("seed", [0, 1])
def test_block_gibbs_reaches_the_boltzmann_distribution(seed):
    """After 20 sweeps the sampler's distribution over (h1, h2, a) is exp(−E/τ)/Z: total variation
    < 0.01 with 200,000 samples (sampling noise ≈ 0.003); without top-down input it is not (> 0.05).
    The exact K-sweep distribution (the reference chain's transition matrix) converges too."""
    with jax.enable_x64(True):
        net = _net(sweeps=20)
        params = _params(net, seed)
        target = np.asarray(_boltzmann(params))
        tv = 0.5 * np.abs(_empirical(net, params) - target).sum()
        tv_no = 0.5 * np.abs(_empirical(NoTopDown(**vars(net)), params) - target).sum()
        # the reference chain, exactly: the distribution after 20 sweeps from the feed-forward sample
        i1, i2, ia = IDX.T
        p0 = _ff_prob(params, i1, i2, ia, TAU)
        odd, even = _gibbs_kernels(params, TAU)
        # T[s, t] = P(h2_t | h1_s, a_s) · P(h1_t, a_t | h2_t)
        T = even[i1[:, None], i2[None, :], ia[:, None]] * odd[i1, i2, ia][None, :]
        p20 = np.asarray(p0 @ jnp.linalg.matrix_power(T, 20))
        assert np.allclose(np.asarray(T).sum(1), 1, atol=1e-12)
        assert 0.5 * np.abs(p20 - target).sum() < 1e-3
        assert tv < 0.01, tv
        assert tv_no > 0.05, tv_no


# ---- hebbian: the negative phase cancels with b(x) = E[R | x] ---------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hebbian_centred_expected_update_is_the_exact_gradient(seed):
    with jax.enable_x64(True):
        net = _net(sweeps=5)
        params = _params(net, seed)
        prob = _boltzmann(params)
        states = _values(IDX)
        x = jnp.broadcast_to(jnp.asarray(X), (32, 3))
        reward = jnp.asarray(REWARD)[IDX[:, 2]]
        mean = prob @ reward
        # the network's own energy is the spec's
        np.testing.assert_allclose(net.energy(params, x, states), _energy_table(params).reshape(-1), rtol=1e-12)
        trace = net.trace_of(params, x, (states,), None)
        centred = _weighted_update(trace, prob, reward - mean)
        raw = _weighted_update(trace, prob, reward)
        exact = _as_loss(jax.grad(lambda p: _boltzmann(p) @ reward)(params))
        assert float(jnp.max(jnp.abs(exact[0]["W"]))) > 1e-4  # the first layer's gradient is not trivially 0
        assert max_relative_error(centred, exact) < 1e-8
        assert max_relative_error(raw[:2], exact[:2]) > 0.1  # negative control: uncentred, the hidden layers are off


def test_negative_phase_from_a_second_chain_needs_no_baseline():
    """(φ(s) − φ(s'))/τ with s, s' independent stationary samples: expected update = exact gradient,
    with the raw reward; negative control: the same without the second chain (hebbian, raw) is off."""
    with jax.enable_x64(True):
        net = _net(sweeps=5, eligibility="negative")
        params = _params(net, 4)
        prob = _boltzmann(params)
        i, j = (a.ravel() for a in np.indices((32, 32)))  # every pair of states
        first, second = _values(IDX[i]), _values(IDX[j])
        weights = prob[i] * prob[j]
        reward = jnp.asarray(REWARD)[IDX[i, 2]]
        x = jnp.broadcast_to(jnp.asarray(X), (len(i), 3))
        negative = _weighted_update(net.trace_of(params, x, (first,), None, second), weights, reward)
        hebbian = _weighted_update(_net(sweeps=5).trace_of(params, x, (first,), None), weights, reward)
        exact = _as_loss(jax.grad(lambda p: _boltzmann(p) @ jnp.asarray(REWARD)[IDX[:, 2]])(params))
        assert max_relative_error(negative, exact) < 1e-8
        assert max_relative_error(hebbian, exact) > 0.1


# ---- chain and recurrent_feedback: exact scores of the trajectories -------------------------------
def _chain_check(net, params, prob_fn):
    idx = IDX[np.array(list(itertools.product(range(32), repeat=net.sweeps + 1)))]  # (N, K + 1, 3): every trajectory
    cs = net.multipliers()
    forced = tuple(_values(idx[:, k]) for k in range(net.sweeps + 1))
    x = jnp.broadcast_to(jnp.asarray(X), (len(idx), 3))
    _, elig = net.trajectory(params, x, None, None, forced=forced, score=True)
    trace = net.trace_of(params, x, forced, elig)
    reward = jnp.asarray(REWARD)[idx[:, -1, 2]]
    probs = prob_fn(params, idx, cs)
    assert abs(float(probs.sum()) - 1) < 1e-10
    baseline = 0.7  # any constant: the exact score's expectation is 0
    update = _weighted_update(trace, probs, reward - baseline)
    exact = _as_loss(jax.grad(lambda p: prob_fn(p, idx, cs) @ reward)(params))
    return max_relative_error(update, exact)


class NoTopDownScore(JointNetwork):
    """Negative control: the chain score without the top-down use of the tied weights."""

    def _score(self, elig, l, below, above, h, mean, tau):
        super()._score(elig, l, below, None, h, mean, tau)


class NoP(JointNetwork):
    """Negative control: per-step REINFORCE with the p terms dropped (h instead of h − p)."""

    def _score(self, elig, l, below, above, h, mean, tau):
        super()._score(elig, l, below, above, h, jnp.zeros_like(mean), tau)


@pytest.mark.parametrize("anneal", [1.0, 2.0])
def test_chain_expected_update_is_the_gradient_under_the_k_sweep_sampler(anneal):
    """1 sweep (32² = 1,024 trajectories), fixed or annealed temperature: the expected chain update is
    the exact gradient of E[R] under the sampler actually used (not the stationary model)."""
    with jax.enable_x64(True):
        net = _net(sweeps=1, eligibility="chain", anneal=anneal)
        params = _params(net, 5)
        err = _chain_check(net, params, _gibbs_prob)
        err_no = _chain_check(NoTopDownScore(**vars(net)), params, _gibbs_prob)
        assert err < 1e-8, err
        assert err_no > 0.1, err_no


def test_recurrent_feedback_expected_update_is_the_exact_gradient():
    """Untied feedback B, 1 synchronous step after the feed-forward sample: exact per-step REINFORCE
    equals jax.grad of the enumerated E[R]; dropping the p terms fails."""
    with jax.enable_x64(True):
        net = _net(sweeps=1, feedback=True)
        params = _params(net, 6)
        assert params[0]["B"].shape == (2, 2) and "B" not in params[2]
        err = _chain_check(net, params, _sync_prob)
        err_no = _chain_check(NoP(**vars(net)), params, _sync_prob)
        assert err < 1e-8, err
        assert err_no > 0.1, err_no


def test_no_sweeps_chain_is_reinforce_on_the_feed_forward_net():
    """With 0 sweeps the chain score is every layer's REINFORCE eligibility x ⊗ (h − p)/τ of the plain
    feed-forward sample (the same draws): the joint network reduces to the team it extends."""
    from plastix.nets import Network
    from plastix.rules import reinforce

    with jax.enable_x64(True):
        net = _net(sweeps=0, eligibility="chain")
        plain = Network(3, net.layers)
        params = _params(net, 7)
        x = jnp.asarray(np.random.default_rng(0).standard_normal((16, 3)))
        signal = jnp.linspace(-1.0, 1.0, 16)
        _, joint = net.sample(params, x, jax.random.key(1), hash_sampler())
        forced = (tuple(t.h for t in joint),)
        _, elig = net.trajectory(params, x, None, None, forced=forced, score=True)
        ours = tuple(score_grads(t, signal) for t in net.trace_of(params, x, forced, elig))
        theirs = reinforce().update(plain.trace(params, x, forced[0]), signal, reinforce().init(params), params)[0]
        assert max_relative_error(ours, theirs) < 1e-10


def test_bad_networks_are_refused():
    with pytest.raises(ValueError, match="needs \\{0,1\\} Bernoulli hidden units"):
        JointNetwork(3, (Bernoulli(2, values="pm1"), Softmax(2)))
    with pytest.raises(ValueError, match="one temperature"):
        JointNetwork(3, (Bernoulli(2, tau=1.0), Softmax(2, tau=2.0)))
    with pytest.raises(ValueError, match="unknown eligibility 'x'; allowed: hebbian, negative, chain"):
        JointNetwork(3, (Bernoulli(2), Softmax(2)), eligibility="x")
    with pytest.raises(ValueError, match="at least one hidden layer"):
        JointNetwork(3, (Softmax(2),))
