"""Statistics of the fast hash sampler (and sanity of the standard one).

Tolerances: every check is a z-score against its exact null distribution, |z| < 5 (two-sided
P ≈ 6e−7 per check); fixed keys make the outcome deterministic.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from plastix.random import get_sampler, hash_sampler

N = 1_000_000
Z = 5.0


def test_uniform_mean_variance_and_range():
    u = np.asarray(hash_sampler().uniform(jax.random.key(0), (N,)), np.float64)
    assert u.min() >= 0.0 and u.max() < 1.0
    assert abs(u.mean() - 0.5) / np.sqrt(1 / 12 / N) < Z
    # Var of the sample variance of U(0,1): (1/80 − 1/144)/N
    assert abs(u.var() - 1 / 12) / np.sqrt((1 / 80 - 1 / 144) / N) < Z


@pytest.mark.parametrize("p", [0.01, 0.3, 0.5, 0.9])
def test_bernoulli_frequency(p):
    b = np.asarray(hash_sampler().bernoulli(jax.random.key(1), jnp.full((N,), p)))
    assert abs(b.mean() - p) / np.sqrt(p * (1 - p) / N) < Z


def corr_z(a, b):
    a, b = np.ravel(a).astype(np.float64), np.ravel(b).astype(np.float64)
    r = np.corrcoef(a, b)[0, 1]
    return r * np.sqrt(a.size)  # ~ N(0, 1) under independence


def test_pairwise_independence_across_units():
    u = np.asarray(hash_sampler().uniform(jax.random.key(2), (N // 64, 64)))
    for shift in (1, 2, 7, 32):
        assert abs(corr_z(u[:, :-shift], u[:, shift:])) < Z, shift
    # rows too (consecutive samples of one unit)
    assert abs(corr_z(u[:-1], u[1:])) < Z


def test_independence_across_steps_and_split_keys():
    s = hash_sampler()
    key = jax.random.key_data(jax.random.key(3))
    streams = [s.uniform(s.fold_in(key, t), (N // 8,)) for t in range(4)]
    kids = s.split(s.fold_in(key, 0), 2)
    streams += [s.uniform(kids[0], (N // 8,)), s.uniform(kids[1], (N // 8,))]
    for i in range(len(streams)):
        for j in range(i + 1, len(streams)):
            assert abs(corr_z(streams[i], streams[j])) < Z, (i, j)
            # joint 2x2 table of (u < 1/2) is uniform: chi-square with 3 dof, z-style bound
            a, b = np.asarray(streams[i]) < 0.5, np.asarray(streams[j]) < 0.5
            counts = np.array([(a & b).sum(), (a & ~b).sum(), (~a & b).sum(), (~a & ~b).sum()])
            chi2 = ((counts - a.size / 4) ** 2 / (a.size / 4)).sum()
            assert chi2 < 30.0, (i, j, chi2)  # P(chi2_3 > 30) ≈ 1.4e−6


def test_different_keys_differ_same_key_repeats():
    s = hash_sampler()
    a = s.uniform(jax.random.key(4), (1000,))
    assert np.array_equal(a, s.uniform(jax.random.key(4), (1000,)))
    assert not np.array_equal(a, s.uniform(jax.random.key(5), (1000,)))


@pytest.mark.parametrize("name", ["hash", "jax"])
def test_normal_moments(name):
    z = np.asarray(get_sampler(name).normal(jax.random.key(6), (N,)), np.float64)
    assert abs(z.mean()) / np.sqrt(1 / N) < Z
    assert abs(z.var() - 1) / np.sqrt(2 / N) < Z
    assert abs((z**4).mean() - 3) / np.sqrt(96 / N) < Z  # Var(z^4) = 105 − 9 = 96


@pytest.mark.parametrize("name", ["hash", "jax"])
def test_categorical_frequencies(name):
    logits = jnp.log(jnp.array([0.2, 0.5, 0.3]))
    idx = np.asarray(get_sampler(name).categorical(jax.random.key(7), jnp.broadcast_to(logits, (N // 4, 3))))
    for k, p in enumerate([0.2, 0.5, 0.3]):
        f = (idx == k).mean()
        assert abs(f - p) / np.sqrt(p * (1 - p) / idx.size) < Z


def test_unknown_sampler_names_allowed_values():
    with pytest.raises(ValueError, match="allowed: hash, jax"):
        get_sampler("mersenne")
