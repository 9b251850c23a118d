"""Registry-driven contract: every rule × task × output jits, vmaps over seeds, stays finite,
keeps the params tree structure, and does not recompile on a second call."""

import dataclasses

import jax
import numpy as np
import pytest

from plastix import TrainConfig, make_train
from plastix.rules import RULES
from plastix.tasks import TASKS
from plastix.teams.train import seed_keys

CASES = [(r, t, o) for r in RULES for t in TASKS
         for o in (("bernoulli", "softmax") if TASKS[t].action == "sign" else ("gaussian",))
         # lateral layers change only the first hidden layer: one output case each (compiles are slow);
         # parity shares the multiplexer's action and outputs: one case per rule
         if (RULES[r].network not in ("boltzmann", "recurrent") or (t, o) == ("multiplexer", "softmax"))
         # joint sampling needs a discrete action: no regression
         and (RULES[r].network not in ("joint", "feedback") or TASKS[t].action == "sign")
         and (t, o) != ("parity", "softmax")]


def tiny(rule, task, output, **kw):
    return TrainConfig(task=task, bits=6, dim=3, rule=rule, output=output, hidden=(5, 4), lr=(1e-2,),
                       batch=3, steps=6, log_every=2, seeds=2, **kw)


@pytest.mark.parametrize("rule,task,output", CASES)
def test_contract(rule, task, output):
    cfg = tiny(rule, task, output)
    trainer = make_train(cfg)
    keys = seed_keys(cfg)
    train = jax.jit(jax.vmap(trainer.train))
    state, metrics = train(keys)
    init_params = jax.vmap(trainer.init)(keys).params
    assert jax.tree.structure(state.params) == jax.tree.structure(init_params)
    for a, b in zip(jax.tree.leaves(state.params), jax.tree.leaves(init_params)):
        assert a.shape == b.shape and np.all(np.isfinite(a))
        assert not np.array_equal(a, b), "parameters did not move"
    assert set(metrics) == set(trainer.metric_names)
    for v in metrics.values():
        assert v.shape == (2, cfg.n_logs) and np.all(np.isfinite(v))
    train(keys)
    assert train._cache_size() == 1  # no recompilation on the second call
    # seeds differ, and each seed equals its own un-vmapped run
    m0 = jax.jit(trainer.train)(keys[0])[1]
    for k in metrics:
        np.testing.assert_allclose(metrics[k][0], m0[k], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("sampler", ["hash", "jax"])
@pytest.mark.parametrize("baseline", ["none", "ema", "critic"])
def test_options_run(sampler, baseline):
    cfg = dataclasses.replace(tiny("reinforce", "multiplexer", "bernoulli"), sampler=sampler, baseline=baseline,
                              reference_adam=True, unit="bernoulli_pm1")
    _, metrics = jax.jit(jax.vmap(make_train(cfg).train))(seed_keys(cfg))
    assert all(np.all(np.isfinite(v)) for v in metrics.values())


@pytest.mark.parametrize("rule,options", [
    ("boltzmann_joint", {"bm_rule": "negative", "anneal": 2.0}),
    ("boltzmann_joint", {"bm_rule": "chain", "sweeps": 3}),
    ("recurrent_feedback", {"recurrent_steps": 2, "anneal": 1.5}),
])
def test_joint_options_run_and_learn_something(rule, options):
    """Every eligibility of the joint networks trains (finite, parameters move, feedback matrices too)."""
    cfg = dataclasses.replace(tiny(rule, "multiplexer", "softmax"), baseline="critic", **options)
    trainer = make_train(cfg)
    keys = seed_keys(cfg)
    state, metrics = jax.jit(jax.vmap(trainer.train))(keys)
    assert all(np.all(np.isfinite(v)) for v in metrics.values())
    init = jax.vmap(trainer.init)(keys).params
    moved = [not np.array_equal(a, b) for a, b in zip(jax.tree.leaves(state.params), jax.tree.leaves(init))]
    assert all(moved) and ("B" in state.params[0]) == (rule == "recurrent_feedback")


@pytest.mark.parametrize("options", [
    {"gibbs": "sequential", "bm_rule": "chain"},
    {"gibbs": "sequential", "bm_rule": "negative", "lateral_init": "zeros"},
    {"gibbs": "parallel", "gibbs_init": "previous", "sweeps": 2},
])
def test_boltzmann_options_run_and_chunk_identically(options):
    """Every sampler/eligibility runs; persistent chains carry their state across chunks exactly."""
    cfg = dataclasses.replace(tiny("boltzmann", "multiplexer", "bernoulli"), baseline="critic", steps=4, **options)
    trainer = make_train(cfg)
    keys = seed_keys(cfg)
    whole = jax.jit(jax.vmap(trainer.train))(keys)[1]
    run = jax.jit(jax.vmap(trainer.run, in_axes=(0, None)), static_argnums=1)
    state, first = run(jax.vmap(trainer.init)(keys), 1)
    _, rest = run(state, 1)  # two chunks of one log interval each: one compilation
    for k in whole:
        assert np.all(np.isfinite(whole[k]))
        np.testing.assert_array_equal(whole[k], np.concatenate([first[k], rest[k]], axis=1))


def test_draw_block_is_a_divisor_within_budget():
    from plastix.teams.train import DRAW_BLOCK_SAMPLES, draw_block

    for interval, batch in [(1000, 1), (1000, 128), (997, 1), (997, 128), (6, 3), (20000, 1), (4, 4096)]:
        d = draw_block(interval, batch)
        assert interval % d == 0 and (d * batch <= DRAW_BLOCK_SAMPLES or d == 1)
        assert not any(interval % e == 0 and e * batch <= DRAW_BLOCK_SAMPLES for e in range(d + 1, interval + 1))


@pytest.mark.parametrize("sampler", ["hash", "jax"])
def test_block_draws_equal_step_by_step_draws(sampler):
    """``trainer.draws`` (a block of steps in one vectorised call) gives exactly the batches and
    network keys that the per-step derivation ``split(fold_in(key, step), 2)`` gives; a block that
    starts one step late (the negative control) does not."""
    from plastix.random import get_sampler

    cfg = dataclasses.replace(tiny("reinforce", "multiplexer", "bernoulli"), sampler=sampler)
    trainer, smp = make_train(cfg), get_sampler(sampler)
    key = jax.random.key_data(jax.random.key(3))
    x, y, k_net = jax.jit(trainer.draws, static_argnums=2)(key, jax.numpy.int32(5), 4)
    assert x.shape == (4, cfg.batch, cfg.bits) and y.shape == (4, cfg.batch)
    for i in range(4):
        k_task, k_n = smp.split(smp.fold_in(key, 5 + i), 2)
        xi, yi = trainer.task.sample(k_task, cfg.batch, smp)
        np.testing.assert_array_equal(x[i], xi)
        np.testing.assert_array_equal(y[i], yi)
        np.testing.assert_array_equal(k_net[i], k_n)
    late = trainer.draws(key, jax.numpy.int32(6), 4)[0]
    assert not np.array_equal(late, x)


def test_runs_do_not_depend_on_the_draw_block(monkeypatch):
    """A run drawing one step at a time and one drawing whole blocks ahead end equal (to float
    rounding: the compiled programs differ, the random draws do not); another seed does not."""
    import plastix.teams.train as T

    cfg = dataclasses.replace(tiny("weight_max", "multiplexer", "bernoulli"), steps=60, log_every=20, batch=2)
    keys = seed_keys(cfg)
    blocked = jax.jit(jax.vmap(make_train(cfg).train))(keys)
    monkeypatch.setattr(T, "DRAW_BLOCK_SAMPLES", 1)
    stepwise = jax.jit(jax.vmap(T.make_train(cfg).train))(keys)
    for a, b in zip(jax.tree.leaves(blocked[0].params), jax.tree.leaves(stepwise[0].params)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    for k in blocked[1]:
        np.testing.assert_allclose(blocked[1][k], stepwise[1][k], rtol=1e-6)
    other = jax.jit(jax.vmap(make_train(cfg).train))(keys[::-1])[0].params
    assert not np.allclose(jax.tree.leaves(other)[0], jax.tree.leaves(blocked[0].params)[0])
