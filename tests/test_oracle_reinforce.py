"""REINFORCE is unbiased (oracle O2) — exact enumeration + jax.grad — and the check has power.

Exact: the expected update Σ_c P(c)·update(c) equals −∇E[R] to ≤ 1e−8 relative (float64) on
the spec's three oracle nets and the issue's 3 → 2 → 1 net. Monte Carlo: the mean of 100,000
single-sample updates is within 5 standard errors of the exact gradient in every component.
Negative control: REINFORCE with the uncentred eligibility ``h/τ`` instead of ``(h − p)/τ``
(biased when E[R] ≠ 0) must fail both checks.
"""

import jax
import numpy as np
import pytest

from oracle_nets import NETS, setup
from plastix.teams.oracles import exact_gradient, expected_update, max_relative_error, monte_carlo_update
from plastix.rules import Rule, reinforce

def biased_reinforce() -> Rule:
    """Negative control: eligibility x ⊗ h/τ (drops the −p term)."""
    inner = reinforce()

    def update(trace, signal, state, params):
        trace = tuple(t._replace(v=t.h) for t in trace)
        return inner.update(trace, signal, state, params)

    return Rule(inner.init, update)


@pytest.mark.parametrize("name", list(NETS))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reinforce_expected_update_is_the_exact_gradient(name, seed):
    with jax.enable_x64(True):
        net, params, x, reward = setup(name, seed)
        err = max_relative_error(expected_update(reinforce(), net, params, x, reward),
                                 exact_gradient(net, params, x, reward))
    assert err <= 1e-8, err


@pytest.mark.parametrize("name", list(NETS))
def test_negative_control_biased_rule_fails_exact_check(name):
    with jax.enable_x64(True):
        net, params, x, reward = setup(name, 0)
        err = max_relative_error(expected_update(biased_reinforce(), net, params, x, reward),
                                 exact_gradient(net, params, x, reward))
    assert err > 1e-2, err


def z_scores(rule, seed):
    with jax.enable_x64(True):
        net, params, x, reward = setup("3-2-1", seed)
        exact = exact_gradient(net, params, x, reward)
        mean, se = monte_carlo_update(rule, net, params, x, reward, jax.random.key(seed + 7), 100_000)
        return np.concatenate([np.ravel((m - e) / s) for m, e, s in
                               zip(jax.tree.leaves(mean), jax.tree.leaves(exact), jax.tree.leaves(se))])


def test_reinforce_monte_carlo_matches_within_standard_errors():
    z = z_scores(reinforce(), 0)
    # 11 components; P(max |z| > 5) < 1e-5 under the null.
    assert np.max(np.abs(z)) < 5.0, z


def test_negative_control_biased_rule_fails_monte_carlo_check():
    z = z_scores(biased_reinforce(), 0)
    assert np.max(np.abs(z)) > 5.0, z
