"""Unit types: score identity E[v] = 0 (oracle O1), eligibility = ∂ log P/∂u, shapes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from plastix.nets import Bernoulli, Gaussian, Softmax
from plastix.random import hash_sampler

DISCRETE = [Bernoulli(3, tau=1.0), Bernoulli(3, tau=2.0, values="pm1"), Softmax(4, tau=1.5)]


def layer_params(layer, n_in, key, dtype=jnp.float64):
    k1, k2 = jax.random.split(key)
    return {"W": jax.random.normal(k1, (n_in, layer.n), dtype),
            "b": 0.5 * jax.random.normal(k2, (layer.n,), dtype)}


@pytest.mark.parametrize("layer", DISCRETE, ids=lambda l: type(l).__name__ + getattr(l, "values", ""))
def test_score_identity_exact(layer):
    with jax.enable_x64(True):
        params = layer_params(layer, 2, jax.random.key(0))
        x = jnp.array([[0.3, -1.2]])
        support = jnp.asarray(layer.support(), jnp.float64)  # (C, n)
        xs = jnp.broadcast_to(x, (support.shape[0], 2))
        p = jnp.exp(layer.log_prob(params, xs, support))
        assert abs(float(p.sum()) - 1) < 1e-12
        v = layer.trace(params, xs, support).v
        assert float(jnp.max(jnp.abs(p @ v))) <= 1e-12


@pytest.mark.parametrize("layer", DISCRETE + [Gaussian(3, sigma2=0.3, link="softplus"), Gaussian(2, link="identity")],
                         ids=lambda l: type(l).__name__ + str(getattr(l, "values", getattr(l, "link", ""))))
def test_eligibility_is_grad_of_log_prob(layer):
    with jax.enable_x64(True):
        params = layer_params(layer, 2, jax.random.key(1))
        x = jax.random.normal(jax.random.key(2), (5, 2), jnp.float64)
        t = layer.sample(params, x, jax.random.key(3), hash_sampler())
        g = jax.grad(lambda u: layer.log_prob_u(u, t.h).sum())(t.u)
        np.testing.assert_allclose(t.v, g, rtol=1e-10, atol=1e-12)


def test_gaussian_score_identity_monte_carlo():
    layer = Gaussian(2, sigma2=0.5, link="softplus")
    n = 200_000
    with jax.enable_x64(True):
        params = layer_params(layer, 2, jax.random.key(4))
        x = jnp.broadcast_to(jnp.array([[0.7, -0.4]]), (n, 2))
        v = np.asarray(layer.sample(params, x, jax.random.key(5), hash_sampler()).v)
    z = v.mean(0) / (v.std(0, ddof=1) / np.sqrt(n))
    assert np.all(np.abs(z) < 4), z  # within 4 standard errors


def test_bernoulli_pm1_values_and_mean():
    layer = Bernoulli(4, tau=2.0, values="pm1")
    params = layer_params(layer, 3, jax.random.key(6), jnp.float32)
    t = layer.sample(params, jnp.ones((1000, 3)), jax.random.key(7), hash_sampler())
    assert set(np.unique(np.asarray(t.h)).tolist()) <= {-1.0, 1.0}
    np.testing.assert_allclose(t.mean, 2 * jax.nn.sigmoid(t.u / 2.0) - 1, rtol=1e-6)
