"""Oracles O8 and O10 and the Gibbs samplers of the lateral layers (spec team_rules.md §9, §13).

Exact expectations enumerate every state (Boltzmann) or every trajectory (recurrent layer, chain
rule) in float64. The probabilities of trajectories come from an independent slow reference
written here with explicit loops, so the layers' own ``log_prob`` is checked too.
"""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from plastix.nets import Bernoulli, Boltzmann, Network, Recurrent
from plastix.teams.oracles import (enumerate_configurations, exact_gradient, expected_reward, expected_update,
                             gaussian_params, max_relative_error, monte_carlo_update)
from plastix.random import hash_sampler
from plastix.rules import Rule, reinforce, score_grads


def reward_table(out):  # R̄(a) + 1: a reward whose mean is far from 0
    return 2 * out[:, 0] - 1 + 1.0


def _centred(net, params, x):
    """R − E[R | x] with the exact conditional mean (the ideal critic)."""
    mean = expected_reward(net, params, x, reward_table)
    return lambda out: reward_table(out) - mean


def _hidden(tree):
    return tree[:1]


# ---- O8: Boltzmann machine, negative phase cancels with the true conditional mean ----------------
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_o8_negative_phase_cancels_with_centred_reward(seed):
    with jax.enable_x64(True):
        net = Network(3, (Boltzmann(4, tau=1.5), Bernoulli(1)))
        params = gaussian_params(net, jax.random.key(seed), jnp.float64)
        x = jnp.array([1.0, -1.0, 0.5])
        full = Network(3, (Boltzmann(4, tau=1.5, eligibility="negative"), Bernoulli(1)))

        @jax.jit
        def updates(params):
            return (exact_gradient(net, params, x, reward_table),
                    expected_update(reinforce(), net, params, x, _centred(net, params, x)),
                    expected_update(reinforce(), full, params, x, reward_table),
                    expected_update(reinforce(), net, params, x, reward_table))

        exact, hebb_centred, negative, raw = updates(params)
        assert float(jnp.max(jnp.abs(exact[0]["U"]))) > 1e-3  # the lateral gradient is not trivially 0
        assert max_relative_error(hebb_centred, exact) < 1e-8
        # the full REINFORCE form (negative phase, exact moments) needs no centring
        assert max_relative_error(negative, exact) < 1e-8
        # negative control: the negative-phase-free rule with the raw reward is biased
        assert max_relative_error(_hidden(raw), _hidden(exact)) > 0.1


def test_lateral_gradient_keeps_u_symmetric_with_zero_diagonal():
    with jax.enable_x64(True):
        net = Network(3, (Boltzmann(4), Bernoulli(1)))
        params = gaussian_params(net, jax.random.key(0), jnp.float64)
        g = expected_update(reinforce(), net, params, jnp.ones(3), reward_table)[0]["U"]
        np.testing.assert_allclose(g, g.T, atol=1e-14)
        assert float(jnp.max(jnp.abs(jnp.diag(g)))) == 0.0


# ---- O10: recurrent layer and the chain rule, exact enumeration over trajectories ----------------
def _bern_logp(h, p):
    return np.log(p) if h == 1 else np.log(1 - p)


def _sig(z):
    return 1 / (1 + np.exp(-z))


def _reference_recurrent_logp(params, x, traj, n, T, tau):
    """Slow loop: log P(h¹..h^T | x) of the recurrent layer."""
    W, b, U = (np.asarray(params[k]) for k in ("W", "b", "U"))
    h, total = np.zeros(n), 0.0
    for t in range(T):
        new = traj[t * n:(t + 1) * n]
        for i in range(n):
            z = x @ W[:, i] + b[i] + sum(h[j] * U[j, i] for j in range(n) if j != i)
            total += _bern_logp(new[i], _sig(z / tau))
        h = new
    return total


def _reference_chain_logp(params, x, traj, n, K, tau):
    """Slow loop: log P(trajectory) of feed-forward init + K fixed-order sequential sweeps."""
    W, b, U = (np.asarray(params[k]) for k in ("W", "b", "U"))
    J = (U + U.T) / 2
    h = np.array(traj[:n], float)
    total = sum(_bern_logp(h[i], _sig((x @ W[:, i] + b[i]) / tau)) for i in range(n))
    for s, i in enumerate(itertools.chain.from_iterable([range(n)] * K)):
        z = x @ W[:, i] + b[i] + sum(J[i, j] * h[j] for j in range(n) if j != i)
        new = traj[n + s]
        total += _bern_logp(new, _sig(z / tau))
        h[i] = new
    return total


@pytest.mark.parametrize("kind", ["recurrent", "chain"])
def test_o10_trajectory_rules_are_exact_gradients(kind):
    n, tau = 3, 1.3
    layer = Recurrent(n, tau=tau, steps=2) if kind == "recurrent" else Boltzmann(
        n, tau=tau, sweeps=1, gibbs="sequential", order="fixed", eligibility="chain")
    with jax.enable_x64(True):
        net = Network(2, (layer, Bernoulli(1)))
        params = gaussian_params(net, jax.random.key(4), jnp.float64)
        x = jnp.array([0.7, -1.2])
        conf = enumerate_configurations(net, x)
        # the layer's log P of every trajectory agrees with the slow reference
        ref = _reference_recurrent_logp if kind == "recurrent" else _reference_chain_logp
        trajs = np.unique(np.asarray(conf.hs[0]), axis=0)
        mine = layer.log_prob(params[0], jnp.broadcast_to(x, (len(trajs), 2)), jnp.asarray(trajs))
        want = [ref(params[0], np.asarray(x), t, n, 2 if kind == "recurrent" else 1, tau) for t in trajs]
        np.testing.assert_allclose(mine, want, rtol=1e-12)
        assert abs(float(jnp.exp(mine).sum()) - 1) < 1e-12  # a distribution over trajectories
        exact, mine_update = jax.jit(lambda p: (exact_gradient(net, p, x, reward_table),
                                                expected_update(reinforce(), net, p, x, reward_table)))(params)
        assert max_relative_error(mine_update, exact) < 1e-8
        # negative control: score only the last state as if it were a feed-forward Bernoulli sample
        # (what dropping the history's p terms amounts to)
        def last_step_only(trace, signal, state, params):
            t = trace[0]
            lone = t._replace(v=(t.h - t.mean) / tau, lateral=None)
            g = [score_grads(lone, signal), score_grads(trace[1], signal)]
            g[0]["U"] = jnp.zeros_like(params[0]["U"])
            return tuple(g), state
        wrong = jax.jit(lambda p: expected_update(Rule(lambda q: (), last_step_only), net, p, x, reward_table))(params)
        assert max_relative_error(_hidden(wrong), _hidden(exact)) > 0.1


def test_o10_hebbian_rule_follows_stationary_model_not_the_k_sweep_sampler():
    """Caveat 1 of spec §9.1: after one sweep, the centred hebbian rule is not the sampler's gradient."""
    with jax.enable_x64(True):
        chain = Network(2, (Boltzmann(3, sweeps=1, gibbs="sequential", order="fixed", eligibility="chain"),
                            Bernoulli(1)))
        params = gaussian_params(chain, jax.random.key(5), jnp.float64)
        x = jnp.array([0.3, 1.0])
        stationary = Network(2, (Boltzmann(3), Bernoulli(1)))
        exact_k1, hebb = jax.jit(lambda p: (
            exact_gradient(chain, p, x, reward_table),
            expected_update(reinforce(), stationary, p, x, _centred(stationary, p, x))))(params)
        assert max_relative_error(_hidden(hebb), _hidden(exact_k1)) > 0.01


def test_chain_rule_sampled_updates_match_the_exact_gradient():
    """The sampling path (not only the forced one): Monte Carlo mean within 4 standard errors."""
    with jax.enable_x64(True):
        net = Network(2, (Boltzmann(3, sweeps=2, gibbs="sequential", order="fixed", eligibility="chain"),
                          Bernoulli(1)))
        params = gaussian_params(net, jax.random.key(6), jnp.float64, w_std=0.7)
        x = jnp.array([0.5, -0.5])
        exact, (mean, se) = jax.jit(lambda p: (
            exact_gradient(net, p, x, reward_table),
            monte_carlo_update(reinforce(), net, p, x, reward_table, jax.random.key(7), 200_000)))(params)
        for m, s, e in zip(jax.tree.leaves(mean), jax.tree.leaves(se), jax.tree.leaves(exact)):
            assert bool(jnp.all(jnp.abs(m - e) <= 4 * s + 1e-12))


# ---- Gibbs samplers: the empirical distribution of a 3-unit machine ---------------------------
def _empirical_tv(layer, params, x, key, n_samples, previous=None):
    xs = jnp.broadcast_to(x, (n_samples, x.shape[0]))
    extra = {} if previous is None else {"previous": previous}
    t = jax.jit(lambda p, k: layer.sample(p, xs, k, hash_sampler(), **extra))(params, key)
    idx = np.asarray(t.h) @ (2 ** np.arange(layer.n)[::-1])
    emp = np.bincount(idx.astype(int), minlength=2**layer.n) / n_samples
    exact = np.exp(np.asarray(layer.log_prob(params, x[None].repeat(2**layer.n, 0),
                                              jnp.asarray(layer.support(), x.dtype))))
    return 0.5 * np.abs(emp - exact).sum(), t.h


@pytest.mark.parametrize("gibbs", ["parallel", "sequential"])
def test_gibbs_samplers_reach_the_boltzmann_distribution(gibbs):
    """TV distance to the exact distribution ≤ 0.01 with 100k chains (sampling noise ~0.003)."""
    params = {"W": jnp.array([[1.0, -0.5, 0.3]]), "b": jnp.array([-0.5, 0.2, 0.1]),
              "U": jnp.array([[0.0, 2.0, -1.5], [2.0, 0.0, 1.0], [-1.5, 1.0, 0.0]])}
    x = jnp.array([0.8])
    tv, _ = _empirical_tv(Boltzmann(3, sweeps=30, gibbs=gibbs), params, x, jax.random.key(0), 100_000)
    assert tv < 0.01
    # negative control: without sweeps the feed-forward sample ignores the couplings
    tv0, _ = _empirical_tv(Boltzmann(3, sweeps=0, gibbs=gibbs), params, x, jax.random.key(0), 100_000)
    assert tv0 > 0.1
    # persistent chains: a few sweeps from the previous state keep the distribution
    layer = Boltzmann(3, sweeps=3, gibbs=gibbs, init_from="previous")
    _, h = _empirical_tv(Boltzmann(3, sweeps=30, gibbs=gibbs), params, x, jax.random.key(1), 100_000)
    tv_prev, _ = _empirical_tv(layer, params, x, jax.random.key(2), 100_000, previous=h)
    assert tv_prev < 0.01
