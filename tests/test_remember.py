"""Learning to remember (spec remember.md §7): task (R2), outer-product oracle (R1), locality (R3),
permutation equivariance (R4), truncated BPTT (R5 and the issue's full-BPTT equality), frozen
synapses (R6), reproducibility (R7), the fixed Hebbian rule's closed form."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from plastix.validation import ConfigError
from plastix.remember.baselines import FastWeights, FWState, outer_product_error, outer_product_recall
from plastix.remember.config import RememberConfig
from plastix.remember.substrate import State, Substrate, SubstrateConfig
from plastix.remember.task import TaskConfig, lookup_oracle, sample_batch, sample_episode
from plastix.remember.train import (Trainer, evaluate, make_model, recall_by_position, recall_metrics, run_episode,
                                    window_loss)

SMALL = SubstrateConfig(n_hid=4, d_a=3, d_w=2, d_e=2, ticks=3, fw_hidden=5)


def _random_state(sub: Substrate, key) -> State:
    k1, k2 = jax.random.split(key)
    s = jax.random.normal(k1, (sub.n, sub.cfg.d_a))
    w = jax.random.normal(k2, sub.mask.shape + (sub.cfg.d_w,)) * sub.mask[..., None]
    return State(s, w)


# ---- task ---------------------------------------------------------------------------------------

def test_episode_layout_and_lookup_oracle():
    """R2: write, delay and read phases where N and Δ put them; the read targets are the values
    written under the same key, so a lookup table scores 100 % (and a shuffled table does not)."""
    cfg = TaskConfig(d_key=6, d_value=5, n_min=1, n_max=5, delay_min=0, delay_max=7)
    ep = sample_episode(jax.random.key(0), cfg, n=3, delay=2)
    assert ep.frames.shape == (cfg.length, 13) and cfg.length == 17
    np.testing.assert_array_equal(ep.frames[:, -2], [1, 1, 1] + [0] * 14)
    np.testing.assert_array_equal(ep.frames[:, -1], [0] * 5 + [1, 1, 1] + [0] * 9)
    np.testing.assert_array_equal(ep.read, ep.frames[:, -1] > 0)
    assert not np.asarray(ep.frames[3:5]).any()  # blank delay
    eps = sample_batch(jax.random.key(1), cfg, 200)
    score = jax.jit(jax.vmap(lambda e: recall_metrics(jnp.where(lookup_oracle(e, cfg) > 0, 9.0, -9.0), e)))
    ok = score(eps)
    assert float(ok["bits"].sum() / ok["reads"].sum()) == 1.0
    assert float(ok["exact"].sum() / ok["reads"].sum()) == 1.0
    ns = np.asarray(eps.read.sum(1))
    assert set(ns) == {1, 2, 3, 4, 5}  # N ~ U{1..5}
    keys = np.asarray(eps.keys)
    assert all(len({tuple(k) for k in kk}) == cfg.n_max for kk in keys)  # distinct keys
    bad = eps._replace(target=jnp.roll(eps.target, 1, axis=0))  # another episode's values
    m = score(bad)
    assert float(m["bits"].sum() / m["reads"].sum()) < 0.7


def test_sequence_snippets_layout_and_oracle():
    """The sequence variant: N snippets of L frames written back to back; each is cued by its first
    frame with the read flag, then L − 1 blank frames whose targets are the snippet's other frames."""
    cfg = TaskConfig(d_value=6, n_min=1, n_max=3, delay_min=0, delay_max=4, snippet=3)
    assert cfg.n_in == 8 and cfg.length == 22
    ep = sample_episode(jax.random.key(30), cfg, n=2, delay=1)
    f = np.asarray(ep.frames)
    np.testing.assert_array_equal(f[:, -2], [1] * 6 + [0] * 16)  # write: 2 snippets × 3 frames
    np.testing.assert_array_equal(f[:, -1], [0] * 7 + [1, 0, 0, 1, 0, 0] + [0] * 9)  # two cues
    np.testing.assert_array_equal(np.asarray(ep.read), [0] * 8 + [1, 1, 0, 1, 1] + [0] * 9)
    assert not f[8:10].any() and not f[11:13].any()  # blank frames after each cue
    snips = f[:6, :6].reshape(2, 3, 6)
    first = int(np.flatnonzero((snips[:, 0] == f[7, :6]).all(1))[0])
    np.testing.assert_array_equal(np.asarray(ep.target[8:10]), (snips[first, 1:] + 1) / 2)
    eps = sample_batch(jax.random.key(31), cfg, 100)
    m = jax.jit(jax.vmap(lambda e: recall_metrics(jnp.where(lookup_oracle(e, cfg) > 0, 9.0, -9.0), e)))(eps)
    assert float(m["bits"].sum() / m["reads"].sum()) == 1.0


def _reads_with_slots(cfg: TaskConfig, key: int, batch: int):
    """Sampled frames and, for every scored frame, (episode, time, slot); asserts slot = −1 elsewhere."""
    eps = sample_batch(jax.random.key(key), cfg, batch)
    f, slot, read = np.asarray(eps.frames), np.asarray(eps.slot), np.asarray(eps.read)
    np.testing.assert_array_equal(slot < 0, ~read)
    return f, np.asarray(eps.target) * 2 - 1, [(e, t, slot[e, t]) for e, t in zip(*np.nonzero(read))]


def test_episode_slot_names_the_write_position_of_each_read():
    """``slot``: the k-th written snippet is the one a read frame recalls (its cue is the k-th write
    frame's key, its target that frame's value); −1 on unscored frames. Both episode kinds."""
    f, target, reads = _reads_with_slots(TaskConfig(d_key=6, d_value=5, n_min=1, n_max=5, delay_min=0, delay_max=4),
                                         40, 50)
    for e, t, k in reads:
        np.testing.assert_array_equal(f[e, t, :6], f[e, k, :6])  # the cue is the k-th write frame's key
        np.testing.assert_array_equal(target[e, t], f[e, k, 6:11])
    assert sorted(k for e, _, k in reads if e == 0) == list(range(sum(e == 0 for e, _, _ in reads)))  # each once
    f, target, reads = _reads_with_slots(TaskConfig(d_value=6, n_min=2, n_max=3, delay_min=0, delay_max=2, snippet=3),
                                         41, 20)
    for e, t, k in reads:
        cue_t = max(c for c in np.flatnonzero(f[e, :, -1] > 0) if c < t)  # the last cue before t: frame 0
        np.testing.assert_array_equal(f[e, cue_t, :6], f[e, 3 * k, :6])  # … so t shows frame t − cue_t of snippet k
        np.testing.assert_array_equal(target[e, t], f[e, 3 * k + t - cue_t, :6])


class _LastItemMemory:
    """A memory that keeps only the last written (key, value): the oracle of a pure-overwrite rule."""

    def __init__(self, d_key: int, d_value: int):
        self.dk, self.dv = d_key, d_value

    def init_state(self, params, key):
        return jnp.zeros(self.dk), jnp.zeros(self.dv)

    def frame(self, params, st, x):
        k, v = x[:self.dk], x[self.dk:self.dk + self.dv]
        st = jax.tree.map(lambda new, old: jnp.where(x[-2] > 0, new, old), (k, v), st)
        hit = (x[-1] > 0) & jnp.all(k == st[0])
        return st, jnp.where(hit, 9.0 * st[1], -9.0)


def test_serial_position_curve_of_an_overwriting_memory():
    """recall_by_position on a last-item memory: the last-written snippet is recalled exactly, the
    others at chance (0.5 within 4 s.e.; the memory answers all-zeros); the positions' mean is
    ``evaluate``'s bit accuracy on the same episodes."""
    cfg = TaskConfig(d_key=6, d_value=8)
    mem = _LastItemMemory(6, 8)
    curve = recall_by_position(mem, None, cfg, jax.random.key(42), n=4, delay=3, episodes=400, chunk=100)
    assert [c["position"] for c in curve] == [0, 1, 2, 3]
    assert curve[3]["bit_accuracy"] == 1.0
    for c in curve[:3]:
        assert abs(c["bit_accuracy"] - 0.5) < 4 * c["bit_accuracy_se"]
    total = evaluate(mem, None, cfg, jax.random.key(42), n=4, delay=3, episodes=400, chunk=100)
    np.testing.assert_allclose(np.mean([c["bit_accuracy"] for c in curve]), total["bit_accuracy"], rtol=1e-6)


def test_distractors_and_cue_noise():
    cfg = TaskConfig(distractors=1.0, p_noise=0.25, delay_min=6, delay_max=6)
    ep = sample_batch(jax.random.key(2), cfg, 300)
    n = np.asarray(ep.read.sum(1))
    f = np.asarray(ep.frames)
    delay_frames = np.concatenate([f[i, n[i]:n[i] + 6, :16] for i in range(300)])
    assert set(np.unique(delay_frames)) == {-1.0, 1.0}
    oracle = jax.jit(jax.vmap(lambda e: lookup_oracle(e, cfg)))(ep)  # noisy cues rarely match a stored key exactly
    assert float((oracle * ep.read[..., None]).sum()) < float(ep.target.sum())


# ---- R1: the outer-product memory against its closed form ---------------------------------------

def test_outer_product_memory_matches_analytic_error():
    """R1: D_k = D_v = 32, N = 9: per-bit error Φ(−sqrt(32/8)) = 0.0228, 400 episodes, within 3 s.e.
    Negative control: the same data rule out Φ(−sqrt(D_k/N)) = 0.0296 by more than 3 s.e."""
    cfg = TaskConfig(d_key=32, d_value=32, n_min=9, n_max=9, delay_min=3, delay_max=3)
    ep = sample_batch(jax.random.key(3), cfg, 400)
    pred = jax.jit(jax.vmap(lambda e: outer_product_recall(e, cfg)))(ep)
    err = np.asarray(((pred != ep.target).mean(-1) * ep.read).sum(1) / ep.read.sum(1))
    mean, se = err.mean(), err.std(ddof=1) / np.sqrt(len(err))
    assert outer_product_error(32, 9) == pytest.approx(0.02275, abs=1e-4)
    assert abs(mean - outer_product_error(32, 9)) < 3 * se
    wrong = 0.5 * float(jax.scipy.special.erfc(np.sqrt(32 / 9) / np.sqrt(2)))
    assert abs(mean - wrong) > 3 * se
    one = TaskConfig(d_key=8, d_value=8, n_min=1, n_max=1)
    e1 = sample_batch(jax.random.key(4), one, 50)
    p1 = jax.vmap(lambda e: outer_product_recall(e, one))(e1)
    assert float(((p1 != e1.target) * e1.read[..., None]).sum()) == 0.0 and outer_product_error(8, 1) == 0.0


# ---- R3: locality ---------------------------------------------------------------------------------

def _locality_violations(sub: Substrate, p: dict, st: State) -> list[str]:
    """Every nonzero Jacobian entry that the locality rules forbid (jacfwd, exact zeros)."""
    n, R, n_in = sub.n, sub.mask.shape[1], sub.n_in
    edge = sub.mask  # (sender, receiver index)
    xi = jnp.linspace(-1, 1, n) * (jnp.arange(n) < n_in)
    out = []
    # neurons: s'_j depends on s_j, s_i for incoming edges i→j, w_ij of incoming edges, ξ_j
    f_neu = lambda s, w, x: sub.neuron_update(p, s, sub.messages(p, State(s, w)), x)
    Js, Jw, Jx = (np.abs(np.asarray(a)) for a in jax.jit(jax.jacfwd(f_neu, argnums=(0, 1, 2)))(st.s, st.w, xi))
    for j in range(n):
        allowed_s = {j} | ({int(i) for i in np.flatnonzero(edge[:, j - n_in])} if j >= n_in else set())
        for k in range(n):
            if k not in allowed_s and Js[j, :, k].any():
                out.append(f"neuron {j} reads neuron {k}")
            if k != j and Jx[j, :, k].any():
                out.append(f"neuron {j} reads input {k}")
        for i in range(n):
            for r in range(R):
                if not (edge[i, r] and r + n_in == j) and Jw[j, :, i, r].any():
                    out.append(f"neuron {j} reads synapse {i}→{r + n_in}")
    # synapses: w'_ij depends on w_ij, s_i, s_j only
    f_syn = lambda w, s: sub.synapse_update(p, w, s)
    Jw2, Js2 = (np.abs(np.asarray(a)) for a in jax.jit(jax.jacfwd(f_syn, argnums=(0, 1)))(st.w, st.s))
    for i in range(n):
        for r in range(R):
            if not edge[i, r]:
                continue
            other_w = Jw2[i, r].copy()
            other_w[:, i, r] = 0
            if other_w.any():
                out.append(f"synapse {i}→{r + n_in} reads another synapse")
            other_s = Js2[i, r].copy()
            other_s[:, [i, r + n_in]] = 0
            if other_s.any():
                out.append(f"synapse {i}→{r + n_in} reads a third neuron")
            if sub.cfg.synapse == "learned" and not (Jw2[i, r, :, i, r].any() and Js2[i, r, :, i].any()
                                                     and Js2[i, r, :, r + n_in].any()):
                out.append(f"synapse {i}→{r + n_in} ignores its own quantities")  # the test is not vacuous
    return out


@pytest.mark.parametrize("variant", [{}, {"message": "lowrank", "neuron": "mlp"}, {"p_conn": 0.6},
                                     {"fw_products": True}])
def test_locality_of_both_update_functions(variant):
    """R3: exact zeros in the Jacobians everywhere the locality rules forbid a dependence."""
    sub = Substrate(dataclasses.replace(SMALL, **variant), n_in=3, n_out=2)
    p = sub.init(jax.random.key(5))
    assert _locality_violations(sub, p, _random_state(sub, jax.random.key(6))) == []


def test_locality_check_catches_a_leak(monkeypatch):
    """Negative control: a synapse rule that also reads the mean neuron state is flagged."""
    sub = Substrate(SMALL, n_in=3, n_out=2)
    p = sub.init(jax.random.key(5))
    honest = sub.synapse_update
    monkeypatch.setattr(sub, "synapse_update", lambda p, w, s: honest(p, w, s + s.mean(0)[None]))
    bad = _locality_violations(sub, p, _random_state(sub, jax.random.key(6)))
    assert any("third neuron" in b for b in bad)


# ---- R4: permutation equivariance -------------------------------------------------------------------

def test_permuting_hidden_neurons_permutes_states():
    with jax.enable_x64(True):
        sub = Substrate(dataclasses.replace(SMALL, ticks=2), n_in=3, n_out=2)
        p = jax.tree.map(lambda a: a.astype(jnp.float64), sub.init(jax.random.key(7)))
        st = jax.tree.map(lambda a: a.astype(jnp.float64), _random_state(sub, jax.random.key(8)))
        perm = np.arange(sub.n)
        perm[3:7] = np.array([5, 3, 6, 4])  # the hidden neurons
        rperm = perm[3:] - 3
        pst = State(st.s[perm], st.w[perm][:, rperm])
        x = jnp.asarray([0.5, -1.0, 1.0])
        frame = jax.jit(sub.frame)
        (a, ya), (b, yb) = frame(p, st, x), frame(p, pst, x)
        np.testing.assert_allclose(b.s, a.s[perm], atol=1e-12)
        np.testing.assert_allclose(b.w, a.w[perm][:, rperm], atol=1e-12)
        np.testing.assert_allclose(yb, ya, atol=1e-12)
        # negative control: permuting the states but not the synapses breaks it
        c, _ = frame(p, State(st.s[perm], st.w), x)
        assert np.abs(np.asarray(c.s) - np.asarray(a.s[perm])).max() > 1e-3


# ---- R5 and the test: truncated BPTT ---------------------------------------------------------

def _unrolled_loss(sub, p, st, ep):
    """Slow reference: a Python loop over frames and ticks (no scan), the summed read-frame BCE."""
    total = 0.0
    for t in range(ep.frames.shape[0]):
        xi = jnp.zeros(sub.n).at[:sub.n_in].set(ep.frames[t])
        for _ in range(sub.cfg.ticks):
            st = sub.tick(p, st, xi)
        y = sub.readout(p, st)
        bce = jnp.sum(jnp.maximum(y, 0) - y * ep.target[t] + jnp.log1p(jnp.exp(-jnp.abs(y))))
        total = total + bce * ep.read[t]
    return total


def test_one_window_truncated_bptt_equals_full_bptt():
    """When the window covers the whole sequence, the trainer's window gradient equals jax.grad of
    the slow unrolled loss; split into two windows with the state passed under stop_gradient, it
    does not (the negative control), and the second window's gradient w.r.t. its start state is 0."""
    with jax.enable_x64(True):
        task = TaskConfig(d_key=3, d_value=2, n_min=1, n_max=1, delay_min=1, delay_max=1)
        sub = Substrate(dataclasses.replace(SMALL, ticks=1), task.n_in, task.d_value)
        p = jax.tree.map(lambda a: a.astype(jnp.float64), sub.init(jax.random.key(9)))
        st = jax.tree.map(lambda a: a.astype(jnp.float64), sub.init_state(p, jax.random.key(10)))
        ep = jax.tree.map(lambda a: a.astype(jnp.float64) if a.dtype == jnp.float32 else a,
                          sample_episode(jax.random.key(11), task))
        batched = jax.tree.map(lambda a: a[None], (st, ep))
        g_win = jax.jit(jax.grad(lambda q: window_loss(sub, q, batched[0], batched[1])[0]))(p)
        g_ref = jax.jit(jax.grad(lambda q: _unrolled_loss(sub, q, st, ep)))(p)
        for a, b in zip(jax.tree.leaves(g_win), jax.tree.leaves(g_ref)):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)

        cut = 2
        first = jax.tree.map(lambda a: a[:cut], ep)
        second = jax.tree.map(lambda a: a[cut:], ep)

        def two_windows(q):
            end, l1 = run_episode(sub, q, st, first)
            l1 = recall_metrics(l1, first)["loss"]
            _, l2 = run_episode(sub, q, jax.lax.stop_gradient(end), second)
            return l1 + recall_metrics(l2, second)["loss"]

        np.testing.assert_allclose(jax.jit(two_windows)(p), jax.jit(_unrolled_loss, static_argnums=0)(sub, p, st, ep),
                                   rtol=1e-12)
        g_two = jax.jit(jax.grad(two_windows))(p)
        diff = max(float(jnp.abs(a - b).max()) for a, b in zip(jax.tree.leaves(g_two), jax.tree.leaves(g_ref)))
        assert diff > 1e-6
        end, _ = jax.jit(lambda q, s: run_episode(sub, q, s, first))(p, st)
        g_start = jax.jit(jax.grad(lambda s0: recall_metrics(run_episode(sub, p, jax.lax.stop_gradient(s0), second)[1],
                                                     second)["loss"]))(end)
        assert all(float(jnp.abs(a).max()) == 0.0 for a in jax.tree.leaves(g_start))


@pytest.fixture(scope="module")
def tiny_trainer():
    """One compiled program shared by the trainer tests: 1 meta-step per chunk, 2 streams."""
    cfg = RememberConfig(n_hid=3, d_a=2, d_w=2, d_e=2, fw_hidden=3, d_key=2, d_value=2, n_max=2, delay_max=1,
                         eval_n=(1, 2), eval_fixed_n=2, batch=2, reset_every=2, log_every=1)
    return Trainer(cfg)


def test_trainer_carries_state_across_windows_and_resets(tiny_trainer):
    """R5 in the trainer: a window starts where the previous one ended (no reset) and gets no
    gradient through the boundary; every reset_every windows the streams start afresh."""
    tr = tiny_trainer
    replay = jax.jit(jax.vmap(lambda p, s, e: run_episode(tr.model, p, s, e)[0], in_axes=(None, 0, 0)))
    key = jax.random.key(13)
    ts = [tr.init(jax.random.key(12))]
    for _ in range(3):
        ts.append(tr.chunk(ts[-1], key)[0])
    for i in (1, 2):  # window 1 continues window 0's streams; window 2 is a reset
        ke, kr = jax.random.split(jax.random.fold_in(key, i))
        start = ts[i].streams if i % tr.cfg.reset_every else tr.fresh(ts[i].params, kr)
        end = replay(ts[i].params, start, sample_batch(ke, tr.task, tr.cfg.batch))
        for a, b in zip(jax.tree.leaves(ts[i + 1].streams), jax.tree.leaves(end)):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    g = jax.jit(jax.grad(lambda s: tr.meta_step(ts[1]._replace(streams=s), jax.random.fold_in(key, 1))[1]["loss"]))(
        ts[1].streams)
    assert all(float(jnp.abs(a).max()) == 0.0 for a in jax.tree.leaves(g))  # no gradient through the boundary


# ---- R6, the Hebbian closed form, R7 --------------------------------------------------------------------

def test_frozen_synapses_never_change_and_learned_ones_do():
    task = TaskConfig(d_key=3, d_value=2, n_max=2, delay_max=2)
    ep = sample_episode(jax.random.key(16), task)
    for synapse, changes in (("frozen", False), ("learned", True)):
        sub = Substrate(dataclasses.replace(SMALL, synapse=synapse), task.n_in, task.d_value)
        p = sub.init(jax.random.key(17))
        st = sub.init_state(p, jax.random.key(18))
        end, _ = jax.jit(lambda q, s: run_episode(sub, q, s, ep))(p, st)
        assert bool(jnp.any(end.w != st.w)) is changes
        assert bool(jnp.all(end.w[~sub.mask] == 0))


def test_fixed_hebbian_synapse_closed_form():
    sub = Substrate(dataclasses.replace(SMALL, synapse="hebbian", d_w=1), n_in=3, n_out=2)
    p = sub.init(jax.random.key(19))
    p["hebb"] = {"lam": jnp.asarray(0.4), "eta": jnp.asarray(0.3)}
    st = _random_state(sub, jax.random.key(20))
    new = np.asarray(sub.synapse_update(p, st.w, st.s))[..., 0]
    s0 = np.asarray(st.s[:, 0])
    lam = 1 / (1 + np.exp(-0.4))
    want = np.where(sub.mask, lam * np.asarray(st.w[..., 0]) + 0.3 * np.outer(s0, s0[3:]), np.asarray(st.w[..., 0]))
    np.testing.assert_allclose(new, want, rtol=1e-5, atol=1e-6)
    assert not np.allclose(new, np.where(sub.mask, lam * np.asarray(st.w[..., 0]) + 0.3 * np.outer(s0, s0[:sub.mask.shape[1]]),
                                         np.asarray(st.w[..., 0])), atol=1e-3)  # a wrong receiver indexing is caught


def _slow_synapse(p: dict, sub: Substrate, w: np.ndarray, s: np.ndarray, products: bool) -> np.ndarray:
    """F_w for one synapse at a time (a per-pair NumPy loop): the oracle of the vectorised update."""
    f = {k: np.asarray(v, np.float64) for k, v in p["fw"].items()}
    e = np.asarray(p["emb"], np.float64)[sub.types]
    se = np.concatenate([s, e], 1)
    d_w, new = w.shape[-1], w.copy()
    for i in range(sub.n):
        for r in range(sub.mask.shape[1]):
            if not sub.mask[i, r]:
                continue
            j = r + sub.n_in
            z = w[i, r] @ f["Ww"] + se[i] @ f["Wpre"] + se[j] @ f["Wpost"] + f["b1"]
            if products:
                z = z + (se[i] @ f["Apre"]) * (se[j] @ f["Cpost"])
            out = np.tanh(z) @ f["W2"] + f["b2"]
            gate = 1 / (1 + np.exp(-out[d_w:]))
            new[i, r] = (1 - gate) * w[i, r] + gate * np.tanh(out[:d_w])
    return new


def test_product_synapse_rule_matches_a_per_pair_loop():
    """fw_products: the vectorised F_w equals a loop over synapses; the loop without the product
    term (the negative control) is far from it."""
    sub = Substrate(dataclasses.replace(SMALL, fw_products=True, p_conn=0.7), n_in=3, n_out=2)
    p = sub.init(jax.random.key(21))
    st = _random_state(sub, jax.random.key(22))
    got = np.asarray(sub.synapse_update(p, st.w, st.s), np.float64)
    w, s = np.asarray(st.w, np.float64), np.asarray(st.s, np.float64)
    np.testing.assert_allclose(got, _slow_synapse(p, sub, w, s, True), rtol=1e-4, atol=1e-5)
    assert np.abs(got - _slow_synapse(p, sub, w, s, False)).max() > 1e-3


def test_same_seed_same_meta_training_curve(tiny_trainer):
    """R7: two runs of the same config and seed log identical numbers (CPU)."""
    tr = tiny_trainer
    logs = []
    for _ in range(2):
        ts, out = tr.init(jax.random.key(21)), []
        for _ in range(3):
            ts, lg = tr.chunk(ts, jax.random.key(22))
            out.append(lg)
        logs.append(jax.tree.map(np.asarray, (out, ts.params)))
    for a, b in zip(jax.tree.leaves(logs[0]), jax.tree.leaves(logs[1])):
        np.testing.assert_array_equal(a, b)
    assert np.isfinite(logs[0][0][0]["loss"]).all()
    assert tr.chunk._cache_size() == 1  # six chunks, one compilation: the meta-step never retraces


def test_fast_weights_hebbian_update():
    """The fast-weights baseline's plasticity is A ← λA + η h hᵀ with h the new hidden state."""
    fw = FastWeights(5, n_in=4, n_out=2, lam=0.9, eta=0.3)
    p = fw.init(jax.random.key(23))
    st = FWState(jax.random.normal(jax.random.key(24), (5,)), jax.random.normal(jax.random.key(25), (5, 5)))
    new, y = jax.jit(fw.frame)(p, st, jnp.asarray([1.0, -1.0, 0.0, 1.0]))
    np.testing.assert_allclose(new.A, 0.9 * st.A + 0.3 * jnp.outer(new.h, new.h), rtol=1e-5, atol=1e-6)
    assert y.shape == (2,) and bool(jnp.all(new.h >= 0))


def test_parameter_matched_baselines_and_bad_config():
    cfg = RememberConfig(n_hid=16, fw_hidden=16)
    from plastix.remember.train import n_params

    rule = n_params(jax.eval_shape(make_model(cfg).init, jax.random.key(0)))
    lstm = make_model(dataclasses.replace(cfg, model="lstm"))
    assert rule <= n_params(jax.eval_shape(lstm.init, jax.random.key(0))) < rule * 1.1
    with pytest.raises(ConfigError, match="model"):
        RememberConfig(model="transformer").validate()
    with pytest.raises(ConfigError, match="n-max"):
        RememberConfig(d_key=2, n_max=5).validate()
    with pytest.raises(ConfigError, match="d-w"):
        SubstrateConfig(synapse="hebbian", d_w=4).validate()
