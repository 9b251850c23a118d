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


def test_supervised_upper_bound_is_the_cross_entropy_gradient_of_the_correct_action():
    """backprop_supervised = the NumPy delta recursion with the *correct* action and R = 1 (oracle); the
    sampled action (what the REINFORCE-output baseline sees) gives another gradient (negative control)."""
    from plastix.rules import backprop_supervised

    with jax.enable_x64(True):
        net = deterministic_mlp(5, (4, 3), 1, activation="tanh", tau=1.5)
        params = net.init(jax.random.key(0), jnp.float64)
        x = jax.random.normal(jax.random.key(1), (16, 5), jnp.float64)
        out, trace = net.sample(params, x, jax.random.key(2), hash_sampler())
        y = jnp.where(jax.random.bernoulli(jax.random.key(3), 0.5, (16,)), 1.0, -1.0)  # correct actions ±1
        rule = backprop_supervised(net)
        grads, _ = rule.update(trace, y, rule.init(params), params)
        want = numpy_backprop(params, x, ((y + 1) / 2)[:, None], np.ones(16), 1.5)
        sampled = numpy_backprop(params, x, out, np.ones(16), 1.5)
        assert rule.wants_target
        for g, w in zip(grads, want):
            np.testing.assert_allclose(g["W"], w["W"], rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(g["b"], w["b"], rtol=1e-10, atol=1e-12)
        assert not np.allclose(want[0]["W"], sampled[0]["W"], atol=1e-6)


def test_supervised_softmax_and_gaussian_outputs():
    """Two-way softmax: −log π(correct outcome), checked against optax's cross-entropy; Gaussian: the squared
    error (y − μ)²/(2σ²) — each by ``jax.grad`` of the written-out loss."""
    import optax

    from plastix.rules import backprop_supervised

    with jax.enable_x64(True):
        x = jax.random.normal(jax.random.key(1), (12, 5), jnp.float64)
        y = jnp.where(jax.random.bernoulli(jax.random.key(3), 0.5, (12,)), 1.0, -1.0)
        for output, target, loss in (
            ("softmax", y, lambda u: optax.softmax_cross_entropy_with_integer_labels(u, ((y + 1) / 2).astype(int))),
            ("gaussian", 0.3 * y, lambda u: (0.3 * y - u[:, 0]) ** 2 / (2 * 0.5)),
        ):
            n_out = 2 if output == "softmax" else 1
            net = deterministic_mlp(5, (4,), n_out, activation="tanh", output=output, sigma2=0.5)
            params = net.init(jax.random.key(0), jnp.float64)
            _, trace = net.sample(params, x, jax.random.key(2), hash_sampler())
            rule = backprop_supervised(net, action="sign" if output == "softmax" else "real")
            grads, _ = rule.update(trace, target, (), params)

            def written(p):
                h = jnp.tanh(x @ p[0]["W"] + p[0]["b"][None, :])
                return jnp.mean(loss(h @ p[1]["W"] + p[1]["b"][None, :]))

            want = jax.grad(written)(params)
            for g, w in zip(jax.tree.leaves(grads), jax.tree.leaves(want)):
                np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


def test_reinforce_output_stalls_where_the_supervised_bound_does_not():
    """The finding behind the bound: a REINFORCE output saturated to p ∈ {0, 1} in float32 has p(1 − p) = 0,
    so backprop's gradient on the patterns it gets wrong is exactly zero; the supervised one is not."""
    from plastix.rules import backprop_supervised

    net = deterministic_mlp(3, (4,), 1, activation="tanh")
    params = net.init(jax.random.key(0))
    params = (params[0], {"W": jnp.full((4, 1), 40.0), "b": jnp.array([200.0])})  # p = 1 in float32
    x = jnp.ones((4, 3))
    _, trace = net.sample(params, x, jax.random.key(1), hash_sampler())
    assert np.all(np.asarray(trace[-1].h) == 1)  # always acts +1
    wrong = -jnp.ones(4)  # the correct action is −1: reward −1 on every sample
    g_rl, _ = backprop(net).update(trace, -jnp.ones(4), backprop(net).init(params), params)
    g_sup, _ = backprop_supervised(net).update(trace, wrong, (), params)
    assert all(np.all(np.asarray(g) == 0) for g in jax.tree.leaves(g_rl))
    assert np.abs(np.asarray(g_sup[1]["b"])).max() > 0.5
