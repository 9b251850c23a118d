"""Per-layer learning rates and the reference Adam quirk (oracle O12), against hand computation."""

import jax
import jax.numpy as jnp
import numpy as np
import optax

from plastix.optim import make_optimizer, scale_by_reference_adam


def hand_adam(gs, lr, b1=0.9, b2=0.999, eps=1e-8, cutoff=1000):
    """Plain-Python reference Adam doing descent, with the bias-correction cutoff."""
    m = v = 0.0
    steps = []
    for t, g in enumerate(gs, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        mh, vh = (m / (1 - b1**t), v / (1 - b2**t)) if (cutoff is None or t < cutoff) else (m, v)
        steps.append(-lr * mh / (np.sqrt(vh) + eps))
    return np.array(steps)


def run_opt(opt, gs):
    params = ({"W": jnp.zeros((), jnp.float64)},)
    state = opt.init(params)
    out = []
    for g in gs:
        upd, state = opt.update(({"W": jnp.asarray(g, jnp.float64)},), state, params)
        out.append(float(upd[0]["W"]))
    return np.array(out)


def test_reference_adam_matches_hand_computation_including_the_jump():
    import jax

    with jax.enable_x64(True):
        gs = np.ones(1005)  # constant gradient: standard Adam steps are exactly lr
        got = run_opt(make_optimizer("adam", (0.01,), reference_quirk=True), gs)
        np.testing.assert_allclose(got, hand_adam(gs, 0.01), rtol=1e-12)
        # the step grows by 1/sqrt(1 − 0.999^999) ≈ 1.26 (+26 %) at t = 1000
        ratio = got[999] / got[998]
        assert 1.25 < ratio < 1.27, ratio
        # without the quirk: standard Adam, no jump
        std = run_opt(make_optimizer("adam", (0.01,)), gs)
        np.testing.assert_allclose(std, -0.01 * np.ones(1005), rtol=1e-6)


def test_reference_adam_random_gradients():
    import jax

    with jax.enable_x64(True):
        gs = np.random.default_rng(0).standard_normal(1100)
        got = run_opt(optax.chain(scale_by_reference_adam(eps=1e-9), optax.scale(-0.05)), gs)
        np.testing.assert_allclose(got, hand_adam(gs, 0.05, eps=1e-9), rtol=1e-10)


def test_per_layer_learning_rates_sgd():
    opt = make_optimizer("sgd", (1.0, 0.1, 0.01))
    params = tuple({"W": jnp.zeros(2)} for _ in range(3))
    upd, _ = opt.update(tuple({"W": jnp.ones(2)} for _ in range(3)), opt.init(params), params)
    np.testing.assert_allclose([float(u["W"][0]) for u in upd], [-1.0, -0.1, -0.01])


def test_schedule_learning_rate():
    sched = optax.linear_schedule(1.0, 0.0, 10)
    opt = make_optimizer("sgd", (sched,))
    params = ({"W": jnp.zeros(())},)
    state = opt.init(params)
    vals = []
    for _ in range(3):
        upd, state = opt.update(({"W": jnp.ones(())},), state, params)
        vals.append(float(upd[0]["W"]))
    np.testing.assert_allclose(vals, [-1.0, -0.9, -0.8], rtol=1e-6)


def test_leaf_learning_rates_override_the_layer_rate():
    """``leaf_lrs={"U": r}`` (the lateral weights) takes precedence in every layer; others keep theirs."""
    params = ({"W": jnp.ones((2, 2)), "b": jnp.ones(2), "U": jnp.ones((2, 2))}, {"W": jnp.ones((2, 1)), "b": jnp.ones(1)})
    grads = jax.tree.map(jnp.ones_like, params)
    opt = make_optimizer("sgd", (0.1, 0.01), leaf_lrs={"U": 0.5})
    upd, _ = opt.update(grads, opt.init(params), params)
    np.testing.assert_allclose(upd[0]["U"], -0.5)
    np.testing.assert_allclose(upd[0]["W"], -0.1)
    np.testing.assert_allclose(upd[1]["W"], -0.01)
