"""The backprop baseline equals a slow NumPy delta-recursion reference; the check has power."""

import jax
import jax.numpy as jnp
import numpy as np

from plastix.nets import deterministic_mlp
from plastix.random import hash_sampler
from plastix.rules import backprop


def numpy_backprop(params, x, a, R, tau):
    """Loss-convention gradient of −mean_b R_b log π(a_b|x_b), tanh hidden, Bernoulli output."""
    Ws = [np.asarray(p["W"], np.float64) for p in params]
    bs = [np.asarray(p["b"], np.float64) for p in params]
    hs, us = [np.asarray(x, np.float64)], []
    for W, b in zip(Ws[:-1], bs[:-1]):
        us.append(hs[-1] @ W + b)
        hs.append(np.tanh(us[-1]))
    p = 1 / (1 + np.exp(-(hs[-1] @ Ws[-1] + bs[-1]) / tau))
    delta = (np.asarray(a) - p) / tau * np.asarray(R)[:, None]  # d(R log π)/du_L
    grads = [None] * len(Ws)
    B = x.shape[0]
    for layer in range(len(Ws) - 1, -1, -1):
        grads[layer] = {"W": -hs[layer].T @ delta / B, "b": -delta.mean(0)}
        if layer > 0:
            delta = (delta @ Ws[layer].T) * (1 - np.tanh(us[layer - 1]) ** 2)
    return grads


def test_backprop_rule_matches_numpy_reference():
    with jax.enable_x64(True):
        net = deterministic_mlp(5, (4, 3), 1, activation="tanh", tau=1.5)
        params = net.init(jax.random.key(0), jnp.float64)
        x = jax.random.normal(jax.random.key(1), (16, 5), jnp.float64)
        out, trace = net.sample(params, x, jax.random.key(2), hash_sampler())
        R = jax.random.normal(jax.random.key(3), (16,), jnp.float64)
        rule = backprop(net)
        grads, _ = rule.update(trace, R, rule.init(params), params)
        want = numpy_backprop(params, x, out, R, 1.5)
        for g, w in zip(grads, want):
            np.testing.assert_allclose(g["W"], w["W"], rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(g["b"], w["b"], rtol=1e-10, atol=1e-12)
        # negative control: flipping the reward sign must break agreement
        bad, _ = rule.update(trace, -R, rule.init(params), params)
        assert not np.allclose(bad[0]["W"], want[0]["W"], rtol=1e-3)


def test_backprop_reads_hidden_values_from_params_not_trace():
    """Hidden values are recomputed under jax.grad: corrupting them in the trace changes nothing."""
    net = deterministic_mlp(3, (4,), 1)
    params = net.init(jax.random.key(0))
    x = jnp.ones((8, 3))
    out, trace = net.sample(params, x, jax.random.key(1), hash_sampler())
    rule = backprop(net)
    g1, _ = rule.update(trace, jnp.ones(8), rule.init(params), params)
    corrupted = (trace[0]._replace(h=trace[0].h * 0 + 7.0), trace[1])
    g2, _ = rule.update(corrupted, jnp.ones(8), rule.init(params), params)
    for a, b in zip(jax.tree.leaves(g1), jax.tree.leaves(g2)):
        np.testing.assert_array_equal(a, b)
