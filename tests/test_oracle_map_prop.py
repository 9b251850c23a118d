"""Oracles O5–O7 of MAP propagation (spec team_rules.md §8.4, §8.5, §13), float64.

The exact reference is ``jax.grad`` of the reparameterised network ``H_l = g(u_l) + σ_l ε_l`` with
the noise held at its MAP value ``ε*_l = (H*_l − μ*_l)/σ_l``: at a fixed point of the energy,
MAP propagation's local update equals that gradient.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from plastix.nets import stochastic_mlp
from plastix.random import hash_sampler
from plastix.rules import map_prop
from plastix.rules.map_prop import energy, minimise


def _net(sigma2, output="softmax", n_out=3, sizes=(4, 8, 6)):
    return stochastic_mlp(sizes[0], sizes[1:], n_out, unit="gaussian", output=output, sigma2=sigma2, tau=1.3)


def _forward(net, key, batch=16):
    params = net.init(jax.random.key(key), jnp.float64)
    x = jax.random.normal(jax.random.key(key + 100), (batch, net.n_in), jnp.float64)
    _, trace = net.sample(params, x, jax.random.key(key + 200), hash_sampler())
    return params, x, trace


def _reparam_grad(net, params, x, star, objective):
    """−∇θ objective(output layer trace) per sample, through H_l = g(u_l) + σ_l ε*_l."""
    eps = [(t.h - t.mean) / np.sqrt(layer.sigma2) for t, layer in zip(star[:-1], net.layers[:-1])]
    out = star[-1].h

    def f(p, xb, eb, ob):
        h = xb[None]
        for layer, pl, e in zip(net.layers[:-1], p[:-1], eb):
            h = jax.nn.softplus(h @ pl["W"] + pl["b"][None]) + np.sqrt(layer.sigma2) * e[None]
        u = h @ p[-1]["W"] + p[-1]["b"][None]
        return objective(u, ob[None])[0]

    g = jax.vmap(jax.grad(f), in_axes=(None, 0, 0, 0))(params, x, tuple(eps), out)
    return jax.tree.map(lambda a: -a, g)  # loss convention, per sample


def _per_sample_update(rule, params, star_trace, signal):
    """The rule's update for every sample separately (batch of 1 each)."""
    def one(tr, s):
        return rule.update(jax.tree.map(lambda a: a[None], tr), s[None], rule.init(params), params)[0]
    return jax.vmap(one)(star_trace, signal)


def _gaps(a, b):
    """Per-sample max relative gap over all leaves, (B,)."""
    num = jnp.stack([jnp.max(jnp.abs(u - v).reshape(u.shape[0], -1), axis=1)
                     for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b))]).max(0)
    den = jnp.stack([jnp.max(jnp.abs(v).reshape(v.shape[0], -1), axis=1) for v in jax.tree.leaves(b)]).max(0)
    return num / den


def _plain_minimisation(net, params, x, hs, steps, update_adj=0.5, synchronous=True):
    """Spec §8.2 as a NumPy loop: every hidden layer steps on (μ_l − H_l)/σ_l² + v_{l+1} W_{l+1}ᵀ."""
    P = [{k: np.asarray(v) for k, v in p.items()} for p in params]
    H, out = [np.asarray(h) for h in hs[:-1]], np.asarray(hs[-1])
    sp = lambda u: np.logaddexp(0.0, u)  # noqa: E731
    sg = lambda u: 1 / (1 + np.exp(-u))  # noqa: E731
    sig = [layer.sigma2 for layer in net.layers[:-1]]

    def eligibility(l, below, h):  # v of layer l (0-based) at input `below` and value h
        u = below @ P[l]["W"] + P[l]["b"]
        if l < len(H):
            return (h - sp(u)) * sg(u) / sig[l], sp(u)
        if hasattr(net.output, "tau"):
            z = u / net.output.tau
            pi = np.exp(z - z.max(-1, keepdims=True))
            return (h - pi / pi.sum(-1, keepdims=True)) / net.output.tau, None
        return (h - u) / net.output.sigma2, None

    mu1 = sp(np.asarray(x) @ P[0]["W"] + P[0]["b"])
    for _ in range(steps):
        order = list(range(len(H)))
        new = list(H)
        for l in order:
            src = H if synchronous else new
            mu = mu1 if l == 0 else eligibility(l, src[l - 1], src[l])[1]
            v_up, _ = eligibility(l + 1, src[l], src[l + 1] if l + 1 < len(H) else out)
            new[l] = src[l] + update_adj * sig[l] * ((mu - src[l]) / sig[l] + v_up @ P[l + 1]["W"].T)
        H = new
    return H


@pytest.mark.parametrize("sizes,output,n_out,sigma2", [
    ((4, 8, 6), "softmax", 3, (0.3, 1.0, 1.0)),
    ((37, 64, 32), "softmax", 2, (0.3, 1.0, 1.0)),  # `mp`
    ((8, 64, 32), "gaussian", 1, (0.003, 0.01, 0.01)),  # LunarLander critic
    ((5, 7), "gaussian", 1, (0.03, 0.1)),  # one hidden layer
    ((4, 8, 6, 5), "softmax", 3, (0.03, 0.1, 0.2, 1.0)),  # three hidden layers
    ((3, 4, 16), "softmax", 2, (0.3, 1.0, 1.0)),  # a wide second layer
])
def test_minimisation_equals_a_plain_loop_of_the_spec(sizes, output, n_out, sigma2):
    """:func:`minimise` (μ_1 hoisted, one scan over the layers' traces) = §8.2's synchronous step, written out."""
    with jax.enable_x64(True):
        net = _net(sigma2, output, n_out, sizes)
        params, x, trace = _forward(net, 3)
        hs = tuple(t.h for t in trace)
        star = minimise(net, params, x, hs, steps=20)
        want = _plain_minimisation(net, params, x, hs, 20)
        for t, h in zip(star[:-1], want):
            np.testing.assert_allclose(np.asarray(t.h), h, rtol=1e-9, atol=1e-11)
        # negative control: Gauss–Seidel order (each layer sees the layers already updated) differs
        if len(want) > 1:
            seq = _plain_minimisation(net, params, x, hs, 20, synchronous=False)
            assert max(np.abs(a - b).max() for a, b in zip(seq, want)) > 1e-6


@pytest.mark.parametrize("sigma2", [(0.3, 1.0, 1.0), (0.03, 0.1, 0.1)])
def test_o5_map_prop_equals_backprop_at_the_fixed_point(sigma2):
    with jax.enable_x64(True):
        net = _net(sigma2)
        params, x, trace = _forward(net, 0)
        hs = tuple(t.h for t in trace)
        logp = lambda u, a: (a * jax.nn.log_softmax(u / net.output.tau, axis=-1)).sum(-1)  # noqa: E731

        @jax.jit
        def gaps_after(steps_arr):
            star = minimise(net, params, x, hs, steps=steps_arr.shape[0])
            mine = _per_sample_update(map_prop(net, steps=0), params, star, jnp.ones(x.shape[0]))
            # the delta recursion of §8.4, hidden layer by hidden layer
            rec = [jnp.max(jnp.abs(star[l].v - jax.nn.sigmoid(star[l].u) * (star[l + 1].v @ params[l + 1]["W"].T)))
                   / jnp.max(jnp.abs(star[l].v)) for l in range(len(net.layers) - 1)]
            return _gaps(mine, _reparam_grad(net, params, x, star, logp)), jnp.stack(rec)

        gaps = {steps: gaps_after(jnp.zeros(steps)) for steps in (0, 20, 300)}
        assert float(gaps[300][0].max()) < 1e-8
        assert float(gaps[300][1].max()) < 1e-8
        assert float(jnp.median(gaps[20][0])) < 5e-2  # within a few percent after the default 20 steps
        assert float(jnp.median(gaps[0][0])) > 0.2  # negative control: the forward sample is not the MAP point


def test_o6_gate_gives_the_reparameterised_regression_gradient():
    with jax.enable_x64(True):
        net = _net((0.0075, 0.025, 0.025), output="gaussian", n_out=1)
        params, x, trace = _forward(net, 1)
        target = jnp.abs(jax.random.normal(jax.random.key(9), (x.shape[0],), jnp.float64))
        sig_out = net.output.sigma2

        @jax.jit
        def gaps():
            star = minimise(net, params, x, tuple(t.h for t in trace), steps=400)
            mine = _per_sample_update(map_prop(net, steps=0, gate_output=True), params, star, target)

            def per_sample(i):
                one = jax.tree.map(lambda a: a[i : i + 1], star)
                obj = lambda u, _: -((target[i : i + 1] - u[:, 0]) ** 2) / (2 * sig_out)  # noqa: E731
                return _reparam_grad(net, params, x[i : i + 1], one, obj)

            ref = jax.tree.map(lambda *a: jnp.concatenate(a), *[per_sample(i) for i in range(x.shape[0])])
            # negative control: without the gate, REINFORCE on the minimised values with R = t − μ_L
            ungated = _per_sample_update(map_prop(net, steps=0), params, star, target - star[-1].mean[:, 0])
            return _gaps(mine, ref), _gaps(ungated, ref)

        gated, ungated = gaps()
        assert float(gated.max()) < 1e-8
        assert float(jnp.median(ungated)) > 0.1


@pytest.mark.parametrize("sigma2,output,n_out,n_in", [
    ((0.3, 1.0, 1.0), "softmax", 2, 37),  # `mp`
    ((0.0075, 0.025, 0.025), "gaussian", 1, 8),  # `sr`
    ((0.03, 0.1, 0.1), "gaussian", 1, 4),  # CartPole critic
    ((0.06, 0.2, 0.2), "softmax", 4, 8),  # LunarLander actor
])
def test_o7_energy_is_non_increasing_over_the_twenty_steps(sigma2, output, n_out, n_in):
    """Soft check on 25 fresh Glorot nets per released σ² (100 nets in all), 8 inputs each."""
    with jax.enable_x64(True):
        net = _net(sigma2, output, n_out, (n_in, 64, 32))

        @jax.jit
        def energies(key):
            params = net.init(key, jnp.float64)
            x = jax.random.normal(jax.random.fold_in(key, 1), (8, net.n_in), jnp.float64)
            _, trace = net.sample(params, x, jax.random.fold_in(key, 2), hash_sampler())
            hs, out = tuple(t.h for t in trace), []
            for _ in range(21):
                out.append(energy(net, params, x, hs))
                hs = tuple(t.h for t in minimise(net, params, x, hs, steps=1))
            return jnp.stack(out)

        e = jax.vmap(energies)(jax.random.split(jax.random.key(0), 25))  # (nets, steps, batch)
        assert float(jnp.max(jnp.diff(e, axis=1))) <= 1e-12
        assert float(jnp.mean(e[:, -1] < e[:, 0])) > 0.99  # and it does go down
