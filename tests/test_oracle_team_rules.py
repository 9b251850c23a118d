"""Oracles for the per-unit-reward rules (spec team_rules.md §13): exact enumeration, float64.

* O3  UWM's expected update equals the exact gradient (≤ 1e−8), both denominators, every hidden
      layer, {0,1} and ±1 units, Bernoulli and softmax children.
* O4  WM (lr → 0) and STE are measurably biased on the same nets: median over nets of the
      scale-optimal relative error ``sqrt(1 − cos²)`` of the hidden-layer update > 1e−2, while
      REINFORCE/UWM hold to 1e−8. Exact expectations — no sampling noise to exceed.
* O9  STE's explicit recursion equals autodiff of ``log π(A|h)`` with ``h = p + sg(h − p)``.
* O11 WM's signal: ``Σ_j 2 W'_ij G_ij`` with ``W'`` the post-Adam weights and ``G`` per sample.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from oracle_nets import NETS, setup

from plastix.nets import Bernoulli, Network
from plastix.optim import make_optimizer
from plastix.teams.oracles import cosine, exact_gradient, expected_update, gaussian_params, max_relative_error
from plastix.random import hash_sampler
from plastix.rules import reinforce, ste, uwm, weight_max


@pytest.mark.parametrize("name", list(NETS))
@pytest.mark.parametrize("denominator", ["sample", "marginal"])
def test_uwm_expected_update_is_the_exact_gradient(name, denominator):
    with jax.enable_x64(True):
        for seed in (0, 1):
            net, params, x, reward = setup(name, seed)
            err = max_relative_error(expected_update(uwm(net, denominator), net, params, x, reward),
                                     exact_gradient(net, params, x, reward))
            assert err <= 1e-8, (seed, err)


def hidden_scale_optimal_error(rule, net, params, x, reward):
    """sqrt(1 − cos²) between the rule's expected hidden-layer update and the true gradient."""
    upd = expected_update(rule, net, params, x, reward)[:-1]
    true = exact_gradient(net, params, x, reward)[:-1]
    c = cosine(upd, true)
    return float(np.sqrt(max(0.0, 1 - c * c))), c


@pytest.mark.parametrize("name", ["4-3-1", "3-3-3-1", "4-3pm-softmax3"])
def test_weight_max_and_ste_are_measurably_biased(name):
    errs = {"wm": [], "ste": [], "uwm": [], "reinforce": []}
    with jax.enable_x64(True):
        for seed in range(6):
            net, params, x, reward = setup(name, seed)
            for key, rule in (("wm", weight_max()), ("ste", ste(net)), ("uwm", uwm(net)), ("reinforce", reinforce())):
                errs[key].append(hidden_scale_optimal_error(rule, net, params, x, reward)[0])
    assert np.median(errs["wm"]) > 1e-2, errs["wm"]
    assert np.median(errs["ste"]) > 1e-2, errs["ste"]
    assert max(errs["uwm"]) < 1e-7 and max(errs["reinforce"]) < 1e-7


def test_ste_recursion_equals_autodiff():
    net = NETS["4-3pm-softmax3"]
    deep = Network(3, (Bernoulli(4, tau=1.5), Bernoulli(3, values="pm1", tau=0.7), Bernoulli(2)))
    with jax.enable_x64(True):
        for model in (net, deep):
            params = gaussian_params(model, jax.random.key(3), jnp.float64)
            x = jax.random.normal(jax.random.key(4), (16, model.n_in), jnp.float64)
            out, trace = model.sample(params, x, jax.random.key(5), hash_sampler())
            R = jax.random.normal(jax.random.key(6), (16,), jnp.float64)
            got, _ = ste(model).update(trace, R, ste(model).init(params), params)

            def surrogate(p):
                h = x
                for layer, lp, t in zip(model.layers[:-1], p[:-1], trace[:-1]):
                    u = h @ lp["W"] + lp["b"][None, :]
                    m = jax.nn.sigmoid(u / layer.tau)
                    m = m if layer.values == "01" else 2 * m - 1
                    h = m + jax.lax.stop_gradient(t.h - m)  # forward: the sample; backward: the mean
                lp = p[-1]
                return -jnp.mean(R * model.output.log_prob_u(h @ lp["W"] + lp["b"][None, :], out))

            want = jax.grad(surrogate)(params)
            assert max_relative_error(got, want) <= 1e-12


def test_weight_max_signal_uses_post_adam_weights_per_sample():
    """O11 by hand on a 3 → 2 → 1 example with batch 2: Adam (first step) on the output layer,
    SGD on the hidden layer so its update is linear in the unit reward being checked."""
    with jax.enable_x64(True):
        net = Network(3, (Bernoulli(2), Bernoulli(1)))
        params = (
            {"W": jnp.array([[0.5, -1.0], [0.2, 0.3], [-0.7, 0.1]]), "b": jnp.array([0.1, -0.2])},
            {"W": jnp.array([[1.5], [-0.4]]), "b": jnp.array([0.05])},
        )
        x = jnp.array([[1.0, -1.0, 1.0], [-1.0, -1.0, 1.0]])
        hs = (jnp.array([[1.0, 1.0], [1.0, 0.0]]), jnp.array([[1.0], [0.0]]))
        trace = net.trace(params, x, hs)
        R = jnp.array([1.0, -1.0])
        lrs, eps = (0.1, 0.01), 1e-8
        rule = weight_max(layer_opts=[make_optimizer("sgd", (lrs[0],)), make_optimizer("adam", (lrs[1],), eps=eps)])
        updates, _ = rule.update(trace, R, rule.init(params), params)

        # by hand: raw per-sample updates, Adam's first step is lr·ḡ/(|ḡ| + ε) (ascent)
        h1, a = np.asarray(hs[0]), np.asarray(hs[1])
        p2 = 1 / (1 + np.exp(-(h1 @ np.asarray(params[1]["W"]) + np.asarray(params[1]["b"]))))
        v2 = a - p2  # (2, 1)
        G2 = h1[:, :, None] * (v2 * np.asarray(R)[:, None])[:, None, :]  # (B, 2, 1)
        g2 = G2.mean(0)
        W2_post = np.asarray(params[1]["W"]) + lrs[1] * g2 / (np.abs(g2) + eps)
        R1 = np.array([[sum(2 * W2_post[i, j] * G2[b, i, j] for j in range(1)) for i in range(2)]
                       for b in range(2)])  # per-sample unit rewards (B, 2)
        p1 = 1 / (1 + np.exp(-(np.asarray(x) @ np.asarray(params[0]["W"]) + np.asarray(params[0]["b"]))))
        G1 = np.asarray(x)[:, :, None] * ((h1 - p1) * R1)[:, None, :]
        g1 = G1.mean(0)
        np.testing.assert_allclose(updates[0]["W"], lrs[0] * g1, rtol=1e-10)
        np.testing.assert_allclose(updates[1]["W"], W2_post - np.asarray(params[1]["W"]), rtol=1e-10)

        # negative controls: pre-update weights or batch-averaged G give a different first layer
        W2_pre = np.asarray(params[1]["W"])
        R1_pre = np.einsum("ij,bij->bi", 2 * W2_pre, G2)
        g1_pre = (np.asarray(x)[:, :, None] * ((h1 - p1) * R1_pre)[:, None, :]).mean(0)
        R1_avg = np.broadcast_to(np.einsum("ij,ij->i", 2 * W2_post, g2), (2, 2))
        g1_avg = (np.asarray(x)[:, :, None] * ((h1 - p1) * R1_avg)[:, None, :]).mean(0)
        for wrong in (g1_pre, g1_avg):
            assert not np.allclose(updates[0]["W"], lrs[0] * wrong, rtol=1e-3)


def test_exact_alignment_diagnostic_separates_unbiased_from_biased_rules():
    """The logged diagnostic: 1 for unbiased rules (REINFORCE, UWM), measurably < 1 for WM."""
    from plastix.teams.alignment import all_multiplexer_inputs, exact_alignment
    from plastix.teams.oracles import gaussian_params as gp
    from plastix.tasks import multiplexer

    with jax.enable_x64(True):
        net = Network(6, (Bernoulli(4), Bernoulli(3), Bernoulli(1)))
        params = gp(net, jax.random.key(0), jnp.float64)
        X, Y = all_multiplexer_inputs(6, 2)
        task = multiplexer(6)
        cos = {name: float(exact_alignment(rule, net, params, jnp.asarray(X, jnp.float64), jnp.asarray(Y, jnp.float64),
                                           net.output.as_sign, task.reward))
               for name, rule in (("reinforce", reinforce()), ("uwm", uwm(net)), ("wm", weight_max()))}
    assert abs(cos["reinforce"] - 1) < 1e-10 and abs(cos["uwm"] - 1) < 1e-10, cos
    assert cos["wm"] < 0.999, cos


def test_weight_max_traces_match_a_plain_loop():
    """κ = γλ traces: a NumPy loop over 3 steps (batch 1, SGD) gives the same updates; κ = 0 equals
    the trace-free rule; reset_traces zeroes the state."""
    from plastix.rules import reset_traces

    with jax.enable_x64(True):
        net = Network(3, (Bernoulli(3), Bernoulli(2), Bernoulli(1)))
        params = gaussian_params(net, jax.random.key(0), jnp.float64)
        kappa, lrs = 0.98 * 0.8, (0.1, 0.05, 0.02)
        opts = [make_optimizer("sgd", (lr,)) for lr in lrs]
        rule = weight_max(layer_opts=opts, trace_decay=kappa)
        state = rule.init(params)
        E = [np.zeros(np.asarray(lp["W"]).shape) for lp in params]
        P = [np.asarray(lp["W"]).copy() for lp in params]
        for step in range(3):
            x = jax.random.choice(jax.random.key(10 + step), jnp.array([-1.0, 1.0]), (1, 3))
            _, trace = net.sample(params, x, jax.random.key(20 + step), hash_sampler())
            R = jnp.array([1.0 if step != 1 else -1.0])
            updates, state = rule.update(trace, R, state, params)
            # plain loop, top-down, per unit
            reward = np.array([float(R[0])] * 1)
            for l in (2, 1, 0):
                xs, v = np.asarray(trace[l].x[0]), np.asarray(trace[l].v[0])
                E[l] = kappa * E[l] + np.outer(xs, v)
                G = E[l] * reward[None, :]
                upd = lrs[l] * G
                np.testing.assert_allclose(updates[l]["W"], upd, rtol=1e-10, atol=1e-14)
                W_post = P[l] + upd
                reward = np.array([sum(2 * W_post[i, j] * G[i, j] for j in range(G.shape[1]))
                                   for i in range(G.shape[0])])
        assert float(jnp.abs(reset_traces(state).traces[0]["W"]).max()) == 0.0
        # κ = 0 is the trace-free rule
        u0, _ = weight_max(layer_opts=opts).update(trace, R, weight_max(layer_opts=opts).init(params), params)
        r0 = weight_max(layer_opts=opts, trace_decay=0.0)
        u1, _ = r0.update(trace, R, r0.init(params), params)
        for a, b in zip(jax.tree.leaves(u0), jax.tree.leaves(u1)):
            np.testing.assert_allclose(a, b, rtol=1e-12)
