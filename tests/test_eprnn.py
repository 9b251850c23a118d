"""Evolved decomposed plasticity in mazes (spec plasticity_maze.md): oracles P1–P14, golden G1–G7."""

from __future__ import annotations

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import oracle_eprnn as ora
from plastix.eprnn.agent import (PlasticRNN, RecurrentNet, flat_genome, make_agent, n_params, policy,
                                 unflat_genome)
from plastix.evolution import Wang2022SepCMA, check_fitness, curriculum_restart, make_strategy
from plastix.eprnn.genotype import RELEASED, STORED_MAZES, bundled, load_genotype, save_genotype
from plastix.eprnn.lifetime import Lifetime, evaluate, run_lifetime
from plastix.eprnn.maze import Maze, MazeEnv, MazeState, load_mazes, sample_maze, sample_mazes, shortest_path

TRACE = Path(__file__).parent / "data" / "eprnn" / "trace_15x15_maze1.npz"
EXPECTED = json.loads(bundled("expected.json").read_text())


def _f64(tree):
    return jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), tree)


def _random_genome(agent, seed, scale=0.3):
    g = agent.init_genome(jax.random.key(seed))
    return {k: np.asarray(v, np.float64) * scale / agent.init_scale for k, v in g.items()}


# --------------------------------------------------------------------------- P1 parameter counts

@pytest.mark.parametrize("name,count", [
    ("decprnn-none", 1217), ("decprnn-pre", 1379), ("decprnn-post", 1347),
    ("abcd-none", 20613), ("abcd-pre", 20775), ("abcd-post", 20743),
    ("trace-none", 1351), ("trace-pre", 1513), ("trace-post", 1481),
    ("rnn", 5445), ("lstm", 20805), ("gru", 15685)])
def test_p1_parameter_counts(name, count):
    agent = make_agent(name)
    assert n_params(agent) == count
    assert flat_genome(agent.init_genome(jax.random.key(0))).shape == (count,)


def test_unknown_agent_is_a_clear_error():
    with pytest.raises(ValueError, match="allowed: decprnn-none"):
        make_agent("decprnn-sideways")


# --------------------------------------------------------------------------- P2–P5 one step

@pytest.mark.parametrize("rule", ["decomposed", "abcd", "trace"])
@pytest.mark.parametrize("mod", ["none", "pre", "post"])
def test_p2_step_matches_numpy_loop(rule, mod):
    with jax.enable_x64(True):
        agent = PlasticRNN(rule, mod, form="materialised")
        g = _random_genome(agent, 1)
        rng = np.random.default_rng(2)
        n, q = 64, 15
        h0 = np.tanh(rng.normal(size=n))
        w_h, w_x, e_h = rng.normal(0, 0.2, (n, n)), rng.normal(0, 0.2, (n, q)), rng.normal(0, 0.2, (n, n))
        x = rng.normal(size=q)
        mem = {"W_h": w_h, "E_h": e_h} if rule == "trace" else {"W_h": w_h, "W_x": w_x}
        state = agent.init_state(_f64(g), jnp.float64)._replace(h=jnp.asarray(h0), mem=_f64(mem))
        o, new = agent.step(_f64(g), state, jnp.asarray(x))
        o_r, m_r, h_r, wh_r, wx_r, eh_r = ora.step(rule, mod, g, h0, w_h, w_x, e_h, x, agent.kappa)
        m = agent.modulator(_f64(g), jnp.asarray(x), jnp.asarray(h0), new.h)
        np.testing.assert_allclose(o, o_r, atol=1e-12)
        np.testing.assert_allclose(new.h, h_r, atol=1e-12)
        np.testing.assert_allclose(m, m_r, atol=1e-12)
        wh, wx = agent.weights(_f64(g), new)
        np.testing.assert_allclose(wh, wh_r, atol=1e-12)
        np.testing.assert_allclose(wx, g["PRNN_1/W_x"] if rule == "trace" else wx_r, atol=1e-12)
        if rule == "trace":
            np.testing.assert_allclose(new.mem["E_h"], eh_r, atol=1e-12)
        # negative control: the pre-synaptic factor of W_h must be h_{t-1}; using h_t is caught
        if rule != "trace":
            _, _, _, wh_bad, _, _ = ora.step(rule, mod, g, np.asarray(new.h), w_h, w_x, e_h, x, agent.kappa)
            assert np.max(np.abs(np.asarray(wh) - wh_bad)) > 1e-6


@pytest.mark.parametrize("mod", ["none", "post"])
def test_p3_accumulated_form_equals_materialised(mod):
    with jax.enable_x64(True):
        fast, slow = PlasticRNN("decomposed", mod), PlasticRNN("decomposed", mod, form="materialised")
        g = _f64(_random_genome(fast, 3, 0.1))  # larger genomes make the dynamics chaotic: rounding grows
        xs = jax.random.normal(jax.random.key(4), (40, 15), jnp.float64)
        sf, ss = fast.init_state(g, jnp.float64), slow.init_state(g, jnp.float64)
        for t, x in enumerate(xs):
            of, sf = fast.step(g, sf, x, active=t != 17)  # one masked step in the middle
            os_, ss = slow.step(g, ss, x, active=t != 17)
            np.testing.assert_allclose(of, os_, atol=1e-12)
        for a, b in zip(fast.weights(g, sf), slow.weights(g, ss)):
            np.testing.assert_allclose(a, b, atol=1e-12)


def test_p3_unit_factors_equal_abcd_after_kappa_rescale():
    with jax.enable_x64(True):
        dec, abcd = PlasticRNN("decomposed", "post"), PlasticRNN("abcd", "post")
        g = _random_genome(dec, 5)
        ga = {k: v for k, v in g.items() if "hebbian" not in k}
        scale = dec.kappa / abcd.kappa  # 0.20 / 0.05: the converter's rescale
        for name, q in (("h", 64), ("x", 15)):
            for L in "ABCD":
                g[f"PRNN_1/hebbian_{name}//W_{L}x"] = np.ones(q)
                g[f"PRNN_1/hebbian_{name}//W_{L}y"] = np.ones(64)
                ga[f"PRNN_1/hebbian_{name}//W_{L}"] = scale * np.ones((64, q))
        xs = jax.random.normal(jax.random.key(6), (10, 15), jnp.float64)
        sd, sa = dec.init_state(_f64(g), jnp.float64), abcd.init_state(_f64(ga), jnp.float64)
        for x in xs:
            od, sd = dec.step(_f64(g), sd, x)
            oa, sa = abcd.step(_f64(ga), sa, x)
        np.testing.assert_allclose(od, oa, atol=1e-12)
        np.testing.assert_allclose(dec.weights(_f64(g), sd)[0], abcd.weights(_f64(ga), sa)[0], atol=1e-12)


def test_p4_kappa_constants_and_negative_control():
    assert PlasticRNN("decomposed", "post").kappa == 0.20
    assert PlasticRNN("decomposed", "pre").kappa == 0.20
    assert PlasticRNN("decomposed", "none").kappa == 1.0
    assert PlasticRNN("abcd", "post").kappa == PlasticRNN("abcd", "none").kappa == 0.05
    assert PlasticRNN("trace", "post").kappa == PlasticRNN("trace", "none").kappa == 0.001
    assert PlasticRNN("trace").trace_clip == 5.0
    with jax.enable_x64(True):  # the oracle with ×1 rejects an unmodulated decomposed rule scaled by 0.20
        bad = PlasticRNN("decomposed", "none", kappa_nomod=0.20, form="materialised")
        g = _random_genome(bad, 7)
        x = np.linspace(-1, 1, 15)
        _, new = bad.step(_f64(g), bad.init_state(_f64(g), jnp.float64), jnp.asarray(x))
        *_, wh_r, _, _ = ora.step("decomposed", "none", g, np.zeros(64), np.zeros((64, 64)), np.zeros((64, 15)),
                                  None, x, 1.0)
        assert np.max(np.abs(np.asarray(new.mem["W_h"]) - wh_r)) > 1e-3


def test_p4_trace_rule_clips_at_five():
    with jax.enable_x64(True):
        agent = PlasticRNN("trace", "none", kappa_nomod=1000.0)
        g = _random_genome(agent, 8, scale=1.0)
        s = agent.init_state(_f64(g), jnp.float64)
        for x in jax.random.normal(jax.random.key(9), (20, 15), jnp.float64):
            _, s = agent.step(_f64(g), s, x)
        assert float(jnp.max(jnp.abs(s.mem["W_h"]))) == 5.0


@pytest.mark.parametrize("name", ["decprnn-post", "abcd-pre", "trace-post", "lstm", "gru", "rnn"])
def test_p5_task_reset_and_masked_steps(name):
    agent = make_agent(name)
    g = agent.init_genome(jax.random.key(0))
    s0 = agent.init_state(g)
    for leaf in jax.tree.leaves(s0):
        assert not np.any(np.asarray(leaf))
    if isinstance(agent, PlasticRNN):
        w_h, w_x = agent.weights(g, s0)
        assert not np.any(np.asarray(w_h))
        np.testing.assert_array_equal(w_x, g["PRNN_1/W_x"] if agent.rule == "trace" else 0.0)
    x = jnp.ones(15)
    _, s1 = agent.step(g, s0, x)
    _, s2 = agent.step(g, s1, x, active=False)
    for a, b in zip(jax.tree.leaves(s1), jax.tree.leaves(s2)):
        np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------------------- P6, P14 inner loop

def _python_lifetime(agent, lt, g, maze, key):
    """Unmasked step-by-step loop that stops at each done, drawing the same uniforms."""
    from plastix.random import get_sampler

    smp, env = get_sampler(lt.sampler), lt.env
    dt = jnp.float64
    state = agent.init_state(g, dt)
    net = jax.jit(lambda s, x: agent.step(g, s, x))
    move = jax.jit(lambda s, a: env.step(s, a, maze))
    draw = jax.jit(lambda i: smp.uniform(smp.fold_in(key, i), (3,), dt))
    look = jax.jit(lambda s, prev: jnp.concatenate([env.observe(s, maze, dt), jax.nn.one_hot(prev, 4, dtype=dt),
                                                    jnp.zeros(2, dt)]))
    prev = int(np.floor(4 * float(smp.uniform(smp.fold_in(key, lt.total_steps), (1,), dt)[0])))
    i = 0
    rets, steps, succ = [], [], []
    for _ in range(lt.episodes):
        es = env.reset(maze)
        R, k, done, success = 0.0, 0, False, False
        while not done:
            u = draw(i)
            o, state = net(state, look(es, prev))
            a, _ = policy(o, u[0], u[1])
            es, r, done, success = move(es, a)
            R += float(r)
            k += 1
            i += 1
            prev = int(np.floor(4 * float(u[2]))) if done else int(a)
        rets.append(R)
        steps.append(k)
        succ.append(float(success))
    return np.array(rets), np.array(steps), np.array(succ), state


def _released():
    _, agent, g = load_genotype(bundled(RELEASED))
    return agent, g


def test_p6_masked_loop_equals_python_loop():
    with jax.enable_x64(True):
        agent, g = _released()
        g = _f64(g)
        mz = load_mazes(bundled(STORED_MAZES[9]), limit=2)
        lt = Lifetime(env=MazeEnv(max_steps=30), weights=(0.0, 0.5, 1.0), chunk=10)
        lt0 = Lifetime(env=MazeEnv(max_steps=30), weights=(0.0, 0.5, 1.0), chunk=0)
        saw_timeout = saw_goal = False
        for m in range(2):
            maze = Maze(*(jnp.asarray(a[m]) for a in mz))
            key = jax.random.key(10 + m)
            stats, st = run_lifetime(agent, lt, g, maze, key, jnp.float64, with_state=True)
            stats0 = run_lifetime(agent, lt0, g, maze, key, jnp.float64)
            rets, steps, succ, st_py = _python_lifetime(agent, lt, g, maze, key)
            np.testing.assert_allclose(stats.ret, rets, atol=1e-12)
            np.testing.assert_array_equal(stats.steps, steps)
            np.testing.assert_array_equal(stats.success, succ)
            for a, b in zip(jax.tree.leaves(st), jax.tree.leaves(st_py)):
                np.testing.assert_allclose(a, b, atol=1e-12)
            for a, b in zip(stats, stats0):  # early exit changes nothing
                np.testing.assert_array_equal(a, b)
            saw_timeout |= bool((steps == 30).any() & (succ == 0).any())
            saw_goal |= bool(succ.any())
        assert saw_timeout and saw_goal  # both endings were exercised


def test_p14_vmap_equals_loop_over_population_and_mazes():
    with jax.enable_x64(True):
        agent = make_agent("decprnn-post")
        lt = Lifetime(env=MazeEnv(max_steps=20), weights=(0.5, 1.0), chunk=0)
        gs = [_f64(_random_genome(agent, s, 0.5)) for s in range(3)]
        G = jax.tree.map(lambda *a: jnp.stack(a), *gs)
        mz = sample_mazes(jax.random.key(1), 2, 9)
        key = jax.random.key(2)
        stats = evaluate(agent, lt, G, mz, key, repeats=2, dtype=jnp.float64)
        one = jax.jit(lambda g, m, k: run_lifetime(agent, lt, g, m, k, jnp.float64))
        assert stats.ret.shape == (3, 2, 2, 2)
        for block in (4, 5):  # cache blocks (5 does not divide the 12 lifetimes: padded) change nothing
            blocked = evaluate(agent, Lifetime(env=lt.env, weights=lt.weights, chunk=0, block=block), G, mz, key,
                               repeats=2, dtype=jnp.float64)
            for a, b in zip(blocked, stats):
                np.testing.assert_array_equal(a, b)
        for p in range(3):
            for m in range(2):
                for r in range(2):
                    k = jax.random.fold_in(jax.random.fold_in(jax.random.fold_in(key, p), m), r)
                    s = one(gs[p], Maze(*(jnp.asarray(a[m]) for a in mz)), k)
                    for a, b in zip(s, stats):
                        np.testing.assert_array_equal(a, b[p, m, r])


# --------------------------------------------------------------------------- P7 policy

def test_p7_policy():
    o = jnp.array([0.3, -1.0, 0.9, 0.1, 50.0])
    u = jax.random.uniform(jax.random.key(0), (2, 1000))
    a, greedy = jax.vmap(policy, (None, 0, 0))(o, u[0], u[1])
    assert bool(jnp.all(a == 2)) and bool(jnp.all(greedy))
    o = o.at[4].set(-50.0)
    n = 100_000
    u = jax.random.uniform(jax.random.key(1), (2, n))
    a, greedy = jax.vmap(policy, (None, 0, 0))(o, u[0], u[1])
    assert not bool(jnp.any(greedy))
    freq = np.bincount(np.asarray(a), minlength=4) / n
    p = np.asarray(jax.nn.softmax(o[:4]))
    assert np.all(np.abs(freq - p) <= 4 * np.sqrt(p * (1 - p) / n))
    # certainty 1/2 at o4 = 0; first index wins a tie
    a, greedy = policy(jnp.array([1.0, 1.0, 0.0, 0.0, 0.0]), jnp.float32(0.49), jnp.float32(0.99))
    assert bool(greedy) and int(a) == 0


# --------------------------------------------------------------------------- P8 environment

def _maze7():
    walls = np.ones((7, 7), bool)
    walls[1:6, 1:6] = False
    walls[2, 1] = walls[1, 2] = True
    return Maze(jnp.asarray(walls), jnp.array([1, 1], jnp.int32), jnp.array([3, 3], jnp.int32))


def test_p8_environment_step_table():
    env, maze = MazeEnv(), _maze7()
    s = env.reset(maze)
    for a in range(4):  # (1,1): up is the border, down (2,1) and right (1,2) are walls, left the border
        s2, r, done, succ = env.step(s, jnp.int32(a), maze)
        assert tuple(np.asarray(s2.pos)) == (1, 1) and int(s2.t) == 1
        assert float(r) == pytest.approx(-0.01) and not bool(done) and not bool(succ)
    obs = np.asarray(env.observe(s, maze)).reshape(3, 3)
    np.testing.assert_array_equal(obs, [[1, 1, 1], [1, 0, 1], [1, 1, 0]])
    s = MazeState(jnp.array([3, 2], jnp.int32), jnp.int32(5))
    obs = np.asarray(env.observe(s, maze)).reshape(3, 3)
    np.testing.assert_array_equal(obs, [[1, 0, 0], [0, 0, -1], [0, 0, 0]])  # wall (2, 1), goal −1 at (3, 3)
    np.testing.assert_array_equal(np.asarray(MazeEnv(obs_sign=-1.0).observe(s, maze)).reshape(3, 3), -obs)
    s2, r, done, succ = env.step(s, jnp.int32(3), maze)
    assert tuple(np.asarray(s2.pos)) == (3, 3) and bool(done) and bool(succ)
    assert float(r) == pytest.approx(0.99)
    s2, r, done, succ = env.step(s, jnp.int32(0), maze)  # free move
    assert tuple(np.asarray(s2.pos)) == (2, 2) and not bool(done)
    # the goal on action 200 still pays; a plain step 200 ends the episode without success
    s = MazeState(jnp.array([3, 2], jnp.int32), jnp.int32(199))
    _, r, done, succ = env.step(s, jnp.int32(3), maze)
    assert bool(done) and bool(succ) and float(r) == pytest.approx(0.99)
    _, r, done, succ = env.step(s, jnp.int32(2), maze)
    assert bool(done) and not bool(succ) and float(r) == pytest.approx(-0.01)


def test_p8_replays_the_golden_trace():
    z = np.load(TRACE)
    mz = load_mazes(bundled(STORED_MAZES[15]))
    maze = Maze(*(jnp.asarray(a[int(z["maze_index"])]) for a in mz))
    env = MazeEnv()
    s = env.reset(maze)
    step = jax.jit(env.step)
    for t in range(len(z["action"])):
        assert tuple(np.asarray(s.pos)) == tuple(z["agent_pos"][t])
        np.testing.assert_array_equal(env.observe(s, maze), z["x"][t, :9])
        s, r, done, _ = step(s, jnp.int32(z["action"][t]), maze)
        assert float(r) == pytest.approx(float(z["reward"][t]), abs=1e-7) and bool(done) == bool(z["done"][t])
        if done:
            s = env.reset(maze)


# --------------------------------------------------------------------------- P9 sampler

@pytest.mark.parametrize("n,crowd", [(9, 0.30), (15, 0.35), (21, 0.35)])
def test_p9_sampler_properties(n, crowd):
    rng = np.random.default_rng(n)
    count = 200 if n < 21 else 60
    for _ in range(count):
        walls, start, goal = sample_maze(rng, n, crowd)
        assert walls[0].all() and walls[-1].all() and walls[:, 0].all() and walls[:, -1].all()
        assert not walls[1::2, 1::2].any()
        assert start[0] % 2 == start[1] % 2 == goal[0] % 2 == goal[1] % 2 == 1
        assert np.hypot(*(goal - start)) > 0.45 * n
        assert shortest_path(walls, start, goal) > 0
        assert walls[1:-1, 1:-1].sum() == int(np.floor(crowd * (n - 2) ** 2))
        free = np.argwhere(~walls)  # connected: every free cell reachable from the start
        assert all(shortest_path(walls, start, c) >= 0 for c in free[:: max(1, len(free) // 10)])
    walls, _, _ = sample_maze(rng, n, crowd, allow_loops=False)  # a perfect maze: 2m² − 1 free interior cells
    m = (n - 1) // 2
    assert (~walls[1:-1, 1:-1]).sum() == 2 * m * m - 1


def test_sampler_rejects_bad_sizes_and_is_seeded():
    with pytest.raises(ValueError, match="odd and ≥ 7"):
        sample_maze(np.random.default_rng(0), 8)
    a, b = sample_mazes(jax.random.key(3), 4, 9), sample_mazes(jax.random.key(3), 4, 9)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


# --------------------------------------------------------------------------- P10–P13 the paper's ES

def test_p10_constants_table():
    for P, d, row in ((360, 1347, (93.4909, 0.029290, 0.066153, 1.066153, 36.6947, 0.002961, 18.7060)),
                      (360, 20743, (93.4909, 0.029290, 0.004582, 1.004582, 144.0226, 0.000193, 19.3037)),
                      (80, 1347, (22.0442, 0.097157, 0.017524, 1.017524, 36.6947, 0.002961, 9.6278))):
        c = Wang2022SepCMA(P, (d,)).constants()
        got = (c["mu_eff"], c["weights"][0], c["c_sigma"], c["d_sigma"], c["chi"], c["c_c"], c["hsig"])
        decimals = np.array([4, 6, 6, 6, 4, 6, 4])  # the spec's table is rounded to these decimals
        assert np.all(np.abs(np.array(got) - np.array(row)) <= 0.5 * 10.0 ** -decimals + 1e-12), (got, row)


@pytest.mark.parametrize("new_path", [False, True])
def test_p10_tell_matches_numpy_transcription(new_path):
    with jax.enable_x64(True):
        rng = np.random.default_rng(0)
        P, d, k = 12, 7, 5
        es = Wang2022SepCMA(P, (3, 4), elite=k, sigma0=0.3, rank_one_uses_new_path=new_path)
        st = es.init(None, jnp.asarray(rng.normal(size=d)))
        st = st._replace(c=jnp.asarray(rng.uniform(0.5, 1.0, d)), p_sigma=jnp.asarray(rng.normal(size=d)),
                         p_c=jnp.asarray(rng.normal(size=d)), t=jnp.int32(3))
        pop = rng.normal(size=(P, d))
        fit = rng.normal(size=P)
        fit[4] = fit[9]  # a tie: the later index ranks first
        new = es.tell(jnp.asarray(pop), jnp.asarray(fit), st)
        ref = ora.sep_cma_tell(pop, fit, *(np.asarray(a) for a in st[:5]), 3, k, new_path=new_path)
        for a, b in zip(new[:5], ref[:5]):
            np.testing.assert_allclose(a, b, atol=1e-10)
        assert int(new.t) == ref[5]


def test_p10_ask_mean_is_member_zero_and_jitter_factors():
    es = Wang2022SepCMA(200, (5, 5, 5))
    st = es.init(None, jnp.zeros(15))
    pop, _ = es.ask(jax.random.key(0), st)
    np.testing.assert_array_equal(pop[0], 0.0)
    s = np.asarray(es.jitter(jax.random.key(1)))
    seg = s[:, [0, 5, 10]]
    assert np.all(np.isclose(seg[..., None], [0.708, 1.0, 1.225]).any(-1))
    np.testing.assert_array_equal(s[:, :5], np.repeat(seg[:, :1], 5, 1))  # one factor per segment
    assert 0.85 < np.mean(seg == 1.0) < 0.95


def test_p11_non_finite_members_are_dropped():
    with jax.enable_x64(True):
        rng = np.random.default_rng(1)
        P, d, k = 10, 4, 5
        es = Wang2022SepCMA(P, (d,), elite=k)
        st = es.init(None, jnp.zeros(d))
        pop = rng.normal(size=(P, d))
        fit = rng.normal(size=P)
        fit[[1, 3, 5, 6, 7, 8, 9]] = [np.nan, np.inf, -np.inf, np.nan, np.nan, np.nan, np.nan]
        new = es.tell(jnp.asarray(pop), jnp.asarray(fit), st)
        ref = ora.sep_cma_tell(pop, fit, *(np.asarray(a) for a in st[:5]), 0, k)
        np.testing.assert_allclose(new.mean, ref[0], atol=1e-12)  # three survivors, renormalised weights
        assert np.all(np.isfinite(np.asarray(new.c)))
        with pytest.raises(FloatingPointError, match="non-finite"):
            check_fitness(np.full(P, np.nan))


def test_p12_sphere_sanity_and_determinism():
    def run(seed):
        es = make_strategy("wang2022_sep_cma", 20, (10,) * 10, sigma0=0.5)
        st = es.init(None, 3 * jnp.ones(100))

        @jax.jit
        def gen(st, k):
            pop, st = es.ask(k, st)
            f = -jnp.sum(pop ** 2, 1)
            return es.tell(pop, f, st), jnp.max(f)

        st, best = jax.lax.scan(gen, st, jax.random.split(jax.random.key(seed), 300))
        return np.asarray(best)

    best = run(0)
    assert best[0] / best[-1] >= 1e4
    np.testing.assert_array_equal(best, run(0))


def test_p13_curriculum_restart():
    es = Wang2022SepCMA(8, (4,), sigma0=0.02)
    st = es.init(None, jnp.zeros(4))._replace(c=jnp.array([0.1, 0.7, 1.0, 0.5]), sigma=jnp.float32(0.3),
                                              t=jnp.int32(9), p_c=jnp.ones(4))
    new = curriculum_restart(es, st)
    np.testing.assert_allclose(new.c, [0.64, 0.7, 1.0, 0.64])
    assert float(new.sigma) == pytest.approx(0.02) and int(new.t) == 9
    np.testing.assert_array_equal(new.p_c, st.p_c)


@pytest.mark.parametrize("name", ["open_es", "sep_cma_es", "snes"])
def test_evosax_strategies_improve_a_sphere(name):
    es = make_strategy(name, 16, (8,), sigma0=0.3, lr=0.05)
    st = es.init(jax.random.key(0), jnp.ones(8))

    @jax.jit
    def gen(st, k):
        pop, st = es.ask(k, st)
        return es.tell(pop, -jnp.sum(pop ** 2, 1), st)

    for i in range(60):
        st = gen(st, jax.random.key(i))
    assert float(jnp.sum(es.mean(st) ** 2)) < 0.5 * 8


# --------------------------------------------------------------------------- golden G1–G7

def test_g1_released_genotype_layout():
    z = np.load(bundled(RELEASED))
    name, agent, g = load_genotype(bundled(RELEASED))
    assert name == "decprnn-post" and n_params(agent) == 1347
    np.testing.assert_array_equal(flat_genome(g), z["flat_genotype"])
    assert [str(k) for k in z["flat_keys"]] == sorted(g)
    np.testing.assert_array_equal(g["FC_1/W"], z["W_o"])
    np.testing.assert_array_equal(g["PRNN_1/hebbian_h//W_Ay"], z["Wh_a_post"])
    np.testing.assert_array_equal(g["PRNN_1/hebbian_x//W_Dx"], z["Wx_d_pre"])
    np.testing.assert_array_equal(flat_genome(unflat_genome(agent, flat_genome(g))), z["flat_genotype"])


def test_genotype_round_trip_and_errors(tmp_path):
    agent = make_agent("lstm")
    g = agent.init_genome(jax.random.key(0))
    save_genotype(tmp_path / "g.npz", "lstm", g)
    name, a2, g2 = load_genotype(tmp_path / "g.npz")
    assert name == "lstm" and a2 == agent
    for k in g:
        np.testing.assert_array_equal(g[k], g2[k])
    with pytest.raises(FileNotFoundError, match="not found"):
        load_genotype(tmp_path / "missing.npz")
    np.savez(tmp_path / "bad.npz", agent=np.array("rnn"), x=np.zeros(3))
    with pytest.raises(ValueError, match="lacks"):
        load_genotype(tmp_path / "bad.npz")


def _golden_stats(n, lt=None, agent=None, limit=None, seed=0):
    agent_r, g = _released()
    from plastix.eprnn.run import meta_test

    mz = load_mazes(bundled(STORED_MAZES[n]), limit=limit)
    return meta_test(agent or agent_r, lt or Lifetime(), g, mz, jax.random.key(seed))


@pytest.mark.parametrize("n", [15, 9])
def test_g2_g3_released_genotype_reproduces_expected(n):
    """Per-episode return, success and steps of one rollout per stored maze within k = 4 of the
    bundle's tolerance (its README §8: 4/3 × the 3-SE table for R_test = 1, all 24 quantities), and
    the weighted fitness within its 3-SE tolerance."""
    s = _golden_stats(n)
    exp = EXPECTED[f"mazes_{n}x{n}"]["all_1024"]
    tol = exp["tolerance_3se_same_mazes"]["R_test=1"]
    for key, got in (("mean_return", s.ret), ("success_rate", s.success), ("mean_steps", s.steps)):
        got = np.asarray(got).reshape(-1, 8).mean(0)
        assert np.all(np.abs(got - np.array(exp[key])) <= 4 / 3 * np.array(tol[key])), (key, got, exp[key])
    w = np.array([0, 0, 0.16, 0.22, 0.36, 0.64, 0.8, 1.0])
    wf = float((np.asarray(s.ret).reshape(-1, 8) @ w / w.sum()).mean())
    assert abs(wf - exp["weighted_fitness"]) <= tol["weighted_fitness"]
    # the in-context learning the paper claims: success up and episode length down from episode 1 to 8
    steps = np.asarray(s.steps).reshape(-1, 8).mean(0)
    assert steps[7] < 0.5 * steps[0]


def test_g4_wrong_observation_sign_fails():
    s = _golden_stats(15, lt=Lifetime(env=MazeEnv(obs_sign=-1.0)), limit=256)
    assert np.all(np.asarray(s.success).reshape(-1, 8).mean(0) <= 0.05)


def test_g5_without_plasticity_success_is_flat():
    s = _golden_stats(15, agent=PlasticRNN("decomposed", "post", kappa_mod=0.0))
    succ = np.asarray(s.success).reshape(-1, 8).mean(0)
    assert abs(succ[7] - succ[0]) <= 0.05


@pytest.mark.parametrize("n", [9, 15])
def test_g6_stored_mazes_are_valid(n):
    z = np.load(bundled(STORED_MAZES[n]))
    mz = load_mazes(bundled(STORED_MAZES[n]))
    for w, s, g, sp in zip(mz.walls, mz.start, mz.goal, z["shortest_path"]):
        assert w[0].all() and w[-1].all() and w[:, 0].all() and w[:, -1].all()
        assert s[0] % 2 == s[1] % 2 == g[0] % 2 == g[1] % 2 == 1 and tuple(s) != tuple(g)
        assert shortest_path(w, s, g) == sp > 0
        assert 0.69 <= (~w[1:-1, 1:-1]).mean() <= 0.72


@pytest.mark.parametrize("dtype,atol,watol", [(jnp.float64, 1e-9, 1e-9), (jnp.float32, 1e-4, 5e-5)])
def test_g7_teacher_forced_trace(dtype, atol, watol):
    z = np.load(TRACE)
    with jax.enable_x64(dtype == jnp.float64):
        agent, g = _released()
        g = jax.tree.map(lambda a: jnp.asarray(a, dtype), g)
        step = jax.jit(lambda s, x: agent.step(g, s, x))
        s = agent.init_state(g, dtype)
        ends = np.flatnonzero(z["done"])
        assert len(ends) == 8
        for t in range(len(z["x"])):
            h_prev = s.h
            x = jnp.asarray(z["x"][t], dtype)
            o, s = step(s, x)
            m = agent.modulator(g, x, h_prev, s.h)
            np.testing.assert_allclose(o, z["o"][t], atol=atol)
            np.testing.assert_allclose(s.h, z["h"][t], atol=atol)
            np.testing.assert_allclose(m, z["m"][t], atol=atol)
            if t in ends:
                e = int(np.searchsorted(ends, t))
                w_h, w_x = agent.weights(g, s)
                np.testing.assert_allclose(w_h, z["W_h_end_of_episode"][e], atol=watol)
                np.testing.assert_allclose(w_x, z["W_x_end_of_episode"][e], atol=watol)


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_baseline_cells_match_numpy(cell):
    with jax.enable_x64(True):
        agent = RecurrentNet(cell)
        g = _random_genome(agent, 11)
        rng = np.random.default_rng(12)
        h, c, x = np.tanh(rng.normal(size=64)), rng.normal(size=64), rng.normal(size=15)
        st = agent.init_state(_f64(g), jnp.float64)._replace(h=jnp.asarray(h), c=jnp.asarray(c if cell == "lstm" else
                                                                                                 np.zeros(0)))
        o, new = agent.step(_f64(g), st, jnp.asarray(x))
        z = np.concatenate([x, h])
        sig = ora.sigmoid
        if cell == "rnn":
            h_r = np.tanh(g["RNN_1/W"] @ z + g["RNN_1/b"])
        elif cell == "lstm":  # [g; i; f; o] in this order
            a = g["LSTM_1/W"] @ z + g["LSTM_1/b"]
            c_r = sig(a[128:192]) * c + sig(a[64:128]) * np.tanh(a[:64])
            h_r = sig(a[192:]) * np.tanh(c_r)
            np.testing.assert_allclose(new.c, c_r, atol=1e-12)
        else:
            zz = sig(g["GRU_1/W_z"] @ z + g["GRU_1/b_z"])
            r = sig(g["GRU_1/W_r"] @ z + g["GRU_1/b_r"])
            nn = np.tanh(g["GRU_1/W_n"] @ np.concatenate([x, r * h]) + g["GRU_1/b_n"])
            h_r = (1 - zz) * nn + zz * h
        np.testing.assert_allclose(new.h, h_r, atol=1e-12)
        np.testing.assert_allclose(o, g["FC_1/W"] @ h_r + g["FC_1/b"], atol=1e-12)


@pytest.mark.parametrize("name", ["decprnn-pre", "abcd-none", "trace-post", "lstm"])
def test_agents_run_a_vmapped_lifetime(name):
    lt = Lifetime(env=MazeEnv(max_steps=10), weights=(1.0, 1.0), chunk=0)
    mz = sample_mazes(jax.random.key(0), 2, 7)
    agent = make_agent(name)
    g = jax.tree.map(lambda a: jnp.stack([a, 2 * a]), agent.init_genome(jax.random.key(1)))
    s = evaluate(agent, lt, g, mz, jax.random.key(2))
    assert s.ret.shape == (2, 2, 1, 2) and np.all(np.isfinite(np.asarray(s.ret)))
    assert np.all((np.asarray(s.steps) >= 1) & (np.asarray(s.steps) <= 10))


def test_decomposed_to_abcd_converter_preserves_behaviour():
    from plastix.eprnn.genotype import decomposed_to_abcd

    with jax.enable_x64(True):
        agent, g = _released()
        abcd = PlasticRNN("abcd", "post")
        conv = _f64(decomposed_to_abcd(g))
        ref = _f64(decomposed_to_abcd(g, reference_scaling=True))  # the authors' converter: no κ rescale
        xs = jax.random.normal(jax.random.key(3), (30, 15), jnp.float64)
        s_d, s_c, s_r = agent.init_state(_f64(g), jnp.float64), abcd.init_state(conv, jnp.float64), \
            abcd.init_state(ref, jnp.float64)
        for x in xs:
            o_d, s_d = agent.step(_f64(g), s_d, x)
            o_c, s_c = abcd.step(conv, s_c, x)
            _, s_r = abcd.step(ref, s_r, x)
        np.testing.assert_allclose(o_c, o_d, atol=1e-10)
        w_d = agent.weights(_f64(g), s_d)[0]
        np.testing.assert_allclose(abcd.weights(conv, s_c)[0], w_d, atol=1e-10)
        assert np.max(np.abs(np.asarray(abcd.weights(ref, s_r)[0] - w_d))) > 1e-3  # unscaled: 4× smaller updates
