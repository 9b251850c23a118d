"""Actor–critic machinery: traces, TD(λ), δ at episode boundaries, critics, trainer, adapter.

Oracles: slow reference loops written out by hand (traces, TD(λ) with SGD so each update is a
closed form), the gate's exact output-layer update, and negative controls each test must catch
(Weight Maximization is *not* signal-linear; a bootstrapped δ differs from the terminal one).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from plastix.teams.config import ConfigError, TrainConfig
from plastix.nets import stochastic_mlp
from plastix.optim import make_optimizer
from plastix.random import hash_sampler
from plastix.rl import make_agent, make_rl_train, map_prop_critic, td_critic
from plastix.rules import RULES, make_rule, reinforce, with_traces

SAMPLER = hash_sampler()


def _tree_close(a, b, tol=1e-6):
    return all(np.allclose(x, y, rtol=tol, atol=tol) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def _traces(net, params, n):
    x = jax.random.normal(jax.random.key(3), (n, 1, net.n_in))
    return [net.sample(params, x[t], jax.random.key(10 + t), SAMPLER)[1] for t in range(n)]


def test_with_traces_equals_slow_loop():
    """grads_t = δ_t Σ_{k≤t} κ^{t−k} g_k(1); κ = 0 (negative control) gives something else."""
    net = stochastic_mlp(4, (5,), 3, output="softmax")
    params = net.init(jax.random.key(0))
    traces, deltas, kappa = _traces(net, params, 4), [0.7, -1.3, 0.2, 2.0], 0.98 * 0.8
    base = reinforce()
    units = [base.update(t, jnp.ones(1), base.init(params), params)[0] for t in traces]
    for decay in (kappa, 0.0):
        rule = with_traces(base, decay)
        state = rule.init(params)
        for t, (tr, d) in enumerate(zip(traces, deltas)):
            grads, state = rule.update(tr, jnp.array([d]), state, params)
        expected = jax.tree.map(lambda *g: d * sum(kappa ** (len(g) - 1 - k) * gk for k, gk in enumerate(g)), *units)
        assert _tree_close(grads, expected) == (decay == kappa)


@pytest.mark.parametrize("name", ["reinforce", "uwm", "ste", "map_prop", "backprop", "boltzmann", "weight_max",
                                  "boltzmann_joint", "recurrent_feedback"])
def test_rules_are_signal_linear_except_weight_max(name):
    """The trace wrapper needs g(δ) = δ·g(1); WM (post-step weights in its hidden rewards) is the exception."""
    from plastix.teams.train import build_network

    cfg = TrainConfig(task="cartpole", rule=name, hidden=(5, 4), sigma2=(0.3,), lateral_lr=1e-3)
    net = build_network(cfg, 4, 2, "softmax")
    params = net.init(jax.random.key(1))
    kw = RULES[name].options(cfg, type("T", (), {"action": "policy"})())
    if name == "weight_max":
        kw["layer_opts"] = [make_optimizer("sgd", (1.0,)) for _ in range(3)]
    rule = make_rule(name, net, **kw)
    tr = _traces(net, params, 1)[0]
    g1 = rule.update(tr, jnp.array([1.0]), rule.init(params), params)[0]
    g2 = rule.update(tr, jnp.array([2.5]), rule.init(params), params)[0]
    linear = _tree_close(g2, jax.tree.map(lambda g: 2.5 * g, g1), tol=1e-5)
    assert linear == (name != "weight_max")


def _sgd_cfg(**kw):
    base = dict(task="cartpole", rule="reinforce", hidden=(6,), critic_hidden=(5,), optimizer="sgd", lr=(0.1,),
                critic_lr=(0.05,), actor_lambda=0.5, critic_lambda=0.7, gamma=0.9)
    base.update(kw)
    return TrainConfig(**base)


def test_td_lambda_critic_equals_slow_loop():
    """e ← γλ e + ∇V(s); θ ← θ + lr·e·δ with δ from the pre-update critic (SGD: exact)."""
    cfg = _sgd_cfg()
    agent = make_agent(cfg, 4, True, 2)
    obs = jax.random.normal(jax.random.key(1), (4, 4))
    state = agent.init(jax.random.key(0), obs[0])
    rewards = [1.0, 0.5, -1.0]
    theta, e = state.critic, jax.tree.map(jnp.zeros_like, state.critic)
    critic = td_critic(4, (5,))
    for t in range(3):
        _, trace = agent.act(state, obs[t], jax.random.key(5 + t))
        state, delta = agent.learn(state, trace, obs[t], rewards[t], obs[t + 1], False, False, jax.random.key(9))
        v, g = jax.value_and_grad(lambda p: critic.sample(p, obs[t])[0])(theta)
        d = rewards[t] + 0.9 * critic.sample(theta, obs[t + 1])[0] - v
        assert float(delta) == pytest.approx(float(d), rel=1e-5)
        e = jax.tree.map(lambda e, g: 0.9 * 0.7 * e + g, e, g)
        theta = jax.tree.map(lambda p, e: p + 0.05 * e * d, theta, e)
    assert _tree_close(state.critic, theta, 1e-5)


def test_delta_at_episode_boundaries():
    """Terminal: δ = r − V(s); truncation: δ = 0 and nothing moves (SGD); otherwise bootstrapped."""
    cfg = _sgd_cfg(actor_lambda=0.0)
    agent = make_agent(cfg, 4, True, 2)
    s, s2 = jnp.ones(4) * 0.1, jnp.ones(4) * -0.2
    state = agent.init(jax.random.key(0), s)
    _, trace = agent.act(state, s, jax.random.key(1))
    v, v2 = td_critic(4, (5,)).sample(state.critic, s)[0], td_critic(4, (5,)).sample(state.critic, s2)[0]
    _, d_term = agent.learn(state, trace, s, 1.0, s2, True, False, jax.random.key(2))
    assert float(d_term) == pytest.approx(1.0 - float(v), rel=1e-6)
    _, d_boot = agent.learn(state, trace, s, 1.0, s2, False, False, jax.random.key(2))
    assert float(d_boot) == pytest.approx(1.0 + 0.9 * float(v2) - float(v), rel=1e-6)
    assert abs(float(d_boot) - float(d_term)) > 1e-3  # the negative control differs
    new, d_trunc = agent.learn(state, trace, s, 1.0, s2, False, True, jax.random.key(2))
    assert float(d_trunc) == 0.0
    assert _tree_close(new.actor, state.actor, 0) and _tree_close(new.critic, state.critic, 0)


def test_map_prop_critic_gate_gives_exact_output_update():
    """Gated eligibility of the linear output layer: x/σ_L² for W and 1/σ_L² for b (the TD update per δ)."""
    critic = map_prop_critic(4, (6, 5), (0.03, 0.1, 0.1), SAMPLER)
    params = critic.init(jax.random.key(0))
    obs = jnp.array([0.1, -0.3, 0.5, 0.2])
    v0, carry = critic.sample(params, obs, jax.random.key(1))
    v, G = critic.value_and_eligibility(params, obs, jax.random.key(2), carry)
    assert float(v) == float(v0)  # the carried forward-sample value
    net = stochastic_mlp(4, (6, 5), 1, unit="gaussian", output="gaussian", sigma2=(0.03, 0.1, 0.1), bias_init="zeros")
    from plastix.rules.map_prop import minimise

    _, trace = net.sample(params, obs[None], jax.random.key(1), SAMPLER)
    settled = minimise(net, params, obs[None], tuple(t.h for t in trace))
    np.testing.assert_allclose(G[-1]["W"][:, 0], settled[-1].x[0] / 0.1, rtol=1e-5)
    np.testing.assert_allclose(G[-1]["b"], [1 / 0.1], rtol=1e-5)


def _small(rule="weight_max", **kw):
    base = dict(task="cartpole", rule=rule, hidden=(8, 4), critic_hidden=(6,), critic_lr=(1e-2,), lr=(1e-2,),
                actor_lambda=0.8, episodes=3, seeds=2)
    base.update(kw)
    return TrainConfig(**base)


def test_trainer_deterministic_chunk_invariant_and_clears_traces():
    trainer = make_rl_train(_small())
    init = jax.jit(jax.vmap(trainer.init))
    run = jax.jit(jax.vmap(trainer.run, in_axes=(0, None)), static_argnums=1)
    keys = jax.random.split(jax.random.key(0), 2)
    whole = run(init(keys), 30)
    state, ends = init(keys), 0
    for t in range(120):
        state = run(state, 1)
        if t == 29:  # 30 single steps = one 30-step chunk, bit for bit
            assert _tree_close(state, whole, 0)
        fresh = (np.asarray(state.ep_length) == 0) & (np.asarray(state.episode) < 3)
        for s in np.flatnonzero(fresh):  # an episode just ended: every trace is zero
            ends += 1
            rule_traces = jax.tree.leaves(jax.tree.map(lambda x: x[s], state.agent.rule.traces))
            critic_traces = jax.tree.leaves(jax.tree.map(lambda x: x[s], state.agent.critic_traces))
            assert all(float(jnp.abs(t).max()) == 0 for t in rule_traces + critic_traces)
    assert ends >= 2
    assert not np.allclose(np.asarray(state.agent.actor[0]["W"][0]), np.asarray(state.agent.actor[0]["W"][1]))


@pytest.mark.parametrize("rule", ["reinforce", "uwm", "map_prop", "boltzmann", "boltzmann_joint", "recurrent_feedback"])
def test_rules_run_as_traced_actors(rule):
    """Contract: rules of each network kind run as traced actors, finite, episodes recorded (weight_max:
    the trainer test above; ste, backprop and recurrent go through the same wrapper, whose
    precondition test_rules_are_signal_linear_except_weight_max checks for them)."""
    cfg = _small(rule, critic="map_prop" if rule == "map_prop" else "td", episodes=2, seeds=1)
    trainer = make_rl_train(cfg)
    state = jax.jit(lambda k: trainer.run(trainer.init(k), 150))(jax.random.key(0))
    assert int(state.episode) >= 1
    assert all(np.isfinite(np.asarray(x)).all() for x in jax.tree.leaves((state.agent.actor, state.agent.critic)))


def test_continuous_actor_on_mountain_car():
    cfg = _small("map_prop", task="mountaincar-continuous", sigma2=(0.03, 0.1, 0.5), critic="map_prop",
                 reward_clip=5.0, action_map="reference", episodes=1, seeds=1)
    trainer = make_rl_train(cfg)
    assert trainer.agent.net.output.n == 1
    state = jax.jit(lambda k: trainer.run(trainer.init(k), 100))(jax.random.key(0))
    assert int(state.steps) == 100 and np.isfinite(float(state.ep_return))


@pytest.mark.parametrize("change, field", [
    ({"batch": 4}, "batch"), ({"critic": "bogus"}, "critic"), ({"output": "bernoulli"}, "output"),
    ({"output": "gaussian"}, "output"), ({"lr_end": (1e-3,)}, "lr_end_t"), ({"gamma": 1.5}, "gamma"),
    ({"baseline": "ema"}, "baseline"), ({"critic_lr": (1e-2, 1e-3, 1e-4)}, "critic_lr"), ({"episodes": 0}, "episodes"),
])
def test_rl_config_errors_name_the_field(change, field):
    with pytest.raises(ConfigError) as e:
        dataclasses.replace(_small(), **change).validate()
    assert e.value.field == field


def test_gym_adapter_lunarlander_is_reproducible():
    """The host adapter runs the same agent on gymnasium's LunarLander (Box2D); same seed, same returns."""
    from plastix.rl.gym_adapter import make_gym_train

    cfg = _small(task="lunarlander", episodes=2, seeds=2, tau=(1.0, 1.0, 2.0))
    results = []
    for _ in range(2):
        trainer = make_gym_train(cfg)
        state = trainer.init(jax.random.split(jax.random.key(0), 2))
        state = trainer.run(state, 3000)
        assert (state.episode == 2).all()
        results.append(state.returns.copy())
    np.testing.assert_array_equal(results[0], results[1])
    assert np.isfinite(results[0]).all() and not np.array_equal(results[0][0], results[0][1])


def test_run_rl_publishes_run_directory_and_cli_rejects_bad_rl_input(tmp_path, capsys):
    from plastix.cli import main
    from plastix.teams.runner import run

    res = run(_small(episodes=2, seeds=2), tmp_path, progress=False)
    assert {p.name for p in res.path.iterdir()} == {"config.json", "metrics.parquet", "summary.json", "curve.png"}
    assert len(res.metrics) == 4 and list(res.metrics.columns) == ["seed", "episode", "return", "length", "steps"]
    per_seed = res.metrics.groupby("seed")["return"].mean().to_numpy()
    np.testing.assert_allclose(res.summary["mean_return_over_run"], per_seed)
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # nothing half-written left behind
    assert main(["compare", str(res.path), "--out", str(tmp_path / "cmp")]) == 0
    assert "mean_return_over_run" in (tmp_path / "cmp" / "comparison.md").read_text()
    capsys.readouterr()
    assert main(["train", "--task", "cartpole", "--hidden", "4", "--critic-hidden", "4", "--lr", "1e-2",
                 "--critic-lr", "1e-2", "--episodes", "1", "--out", str(tmp_path), "--no-progress"]) == 0
    assert "mean return over all training episodes" in capsys.readouterr().out
    assert main(["train", "--task", "cartpole", "--batch", "4", "--out", str(tmp_path)]) == 2
    assert main(["run", "weight-max/cartpole", "--steps", "5", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--batch" in err and "--episodes" in err
