"""Multiplexer (oracle O13) and regression task definitions."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from plastix.random import hash_sampler
from plastix.tasks import address_bits, multiplexer, multiplexer_target, regression


def reference_target(bits_tuple, k):
    """Plain-Python decoding: address MSB first, then pick the data bit."""
    addr = 0
    for b in bits_tuple[:k]:
        addr = 2 * addr + b
    return bits_tuple[k + addr]


@pytest.mark.parametrize("k", [2, 3])
def test_address_decoding_on_every_input(k):
    n = k + 2**k
    z = np.array(list(itertools.product([0, 1], repeat=n)))
    got = np.asarray(multiplexer_target(jnp.asarray(z), k))
    want = np.array([reference_target(tuple(row), k) for row in z])
    np.testing.assert_array_equal(got, want)


def test_sampled_inputs_and_targets_are_consistent():
    task = multiplexer(11)
    x, y = task.sample(jax.random.key(0), 4096, hash_sampler())
    assert x.shape == (4096, 11) and set(np.unique(x).tolist()) == {-1.0, 1.0}
    z = (np.asarray(x) + 1) / 2
    want = np.array([reference_target(tuple(int(b) for b in row), 3) for row in z])
    np.testing.assert_array_equal((np.asarray(y) + 1) / 2, want)
    assert abs(z.mean() - 0.5) < 5 * np.sqrt(0.25 / z.size)


def test_random_policy_has_zero_mean_reward():
    task = multiplexer(20)
    n = 200_000
    x, y = task.sample(jax.random.key(1), n, hash_sampler())
    action = 2.0 * hash_sampler().bernoulli(jax.random.key(2), jnp.full((n,), 0.5)) - 1
    r = np.asarray(task.reward(action, y))
    assert set(np.unique(r).tolist()) == {-1.0, 1.0}
    assert abs(r.mean()) < 3 / np.sqrt(n)  # 3σ, as the spec's O13


@pytest.mark.parametrize("bits,k", [(3, 1), (6, 2), (11, 3), (20, 4), (37, 5)])
def test_address_bits(bits, k):
    assert address_bits(bits) == k


def test_bad_bits_message_names_allowed_values():
    with pytest.raises(ValueError, match=r"allowed: 3, 6, 11, 20, 37, 70"):
        address_bits(12)


def test_regression_teacher_matches_numpy():
    task = regression(8, teacher_seed=0)
    x, y = task.sample(jax.random.key(3), 64, hash_sampler())
    rng = np.random.default_rng(0)
    A1, A2 = rng.standard_normal((8, 8)), rng.standard_normal((8, 1))
    want = np.maximum(np.maximum(np.asarray(x, np.float64) @ A1, 0) @ A2, 0)[:, 0]
    np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-4)
    assert np.all(np.asarray(y) >= 0)
    np.testing.assert_allclose(task.reward(y + 2.0, y), -4.0 * np.ones(64), rtol=1e-6)
