"""Registry-driven contract: every rule × task × output jits, vmaps over seeds, stays finite,
keeps the params tree structure, and does not recompile on a second call."""

import dataclasses

import jax
import numpy as np
import pytest

from plastix import TrainConfig, make_train
from plastix.rules import RULES
from plastix.tasks import TASKS
from plastix.train import seed_keys

CASES = [(r, t, o) for r in RULES for t in TASKS
         for o in (("bernoulli", "softmax") if t == "multiplexer" else ("gaussian",))
         # lateral layers change only the first hidden layer: one output case each (compiles are slow)
         if RULES[r].network not in ("boltzmann", "recurrent") or (t, o) == ("multiplexer", "softmax")]


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
