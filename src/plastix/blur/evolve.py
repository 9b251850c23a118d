"""Meta-training BLUR genomes by CMA-ES (Sandler et al. 2021, §5.2), with evosax's CMA-ES behind
plastix's one ask/tell interface (:mod:`plastix.evolution`, shared with the maze family).

The search vector is the flattened genome: the core ``4k² + 4`` numbers, plus the normalisation
scales/shifts when the network normalises, the Oja multiplier when Oja is on, the synapse rescale ρ
with synapse normalisation and the saturation scale α with saturation (the logit scale does not
affect accuracy and is left out). Fitness (maximised; evosax minimises, so it sees ``−fitness``):
accuracy on ``n_query`` query batches after ``n_support`` inner steps from fresh synapses. The
population is scored member by member in one call (``CmaRun.score``, also a Ray actor's shard
evaluator); a run of generations is one ``lax.scan``. Defaults
[choice]: σ₀ = 0.5, no bounds, no restarts, initial mean a random N(0, 1) genome (or the backprop
init).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from plastix.blur.genome import CORE, Genome
from plastix.blur.network import BlurNet, init_synapses, inner_step, predict
from plastix.evolution import make_strategy
from plastix.types import Array


def searched_fields(net: BlurNet) -> tuple[str, ...]:
    fields = CORE
    if net.normalize:
        fields += ("gamma_fwd", "beta_fwd", "gamma_bwd", "beta_bwd")
    if net.oja:
        fields += ("omega",)
    if net.synapse_norm:
        fields += ("rho",)
    if net.saturation:
        fields += ("alpha",)
    return fields


def to_vector(g: Genome, fields: tuple[str, ...]) -> Array:
    return jnp.concatenate([jnp.ravel(getattr(g, f)) for f in fields])


def from_vector(v: Array, template: Genome, fields: tuple[str, ...]) -> Genome:
    out, i = {}, 0
    for f in fields:
        leaf = getattr(template, f)
        out[f] = v[i:i + leaf.size].reshape(leaf.shape).astype(leaf.dtype)
        i += leaf.size
    return template._replace(**out)


def accuracy_after(net: BlurNet, g: Genome, key: Array, sample: Callable, n_support: int = 15, n_query: int = 20,
                   batch: int = 128) -> Array:
    """Query accuracy of fresh synapses after ``n_support`` inner steps (the CMA-ES fitness)."""
    k_syn, k_sup, k_q = jax.random.split(key, 3)
    syn = init_synapses(k_syn, net, g.nu.dtype)
    xs, ys = jax.vmap(lambda k: sample(k, batch))(jax.random.split(k_sup, n_support))
    syn, _ = jax.lax.scan(lambda s, xy: (inner_step(net, g, s, xy[0], xy[1])[0], None), syn, (xs, ys))
    xq, yq = sample(k_q, batch * n_query)
    return jnp.mean(jnp.argmax(predict(net, g, syn, xq), -1) == yq)


class CmaRun(NamedTuple):
    init: Any  # (key, mean_genome) -> state
    ask: Any  # (key, state) -> (population (P, d), state)
    score: Any  # (population (n, d), key) -> fitness (n,): the generation's tasks are the key's, the same for all
    tell: Any  # (population, fitness, state, key) -> state
    generations: Any  # (state, key, n) -> (state, (best fitness so far, mean fitness) per generation)
    best: Any  # state -> (best solution seen, its fitness)
    mean_genome: Any  # state -> Genome (the distribution mean)
    best_genome: Any  # state -> Genome (best solution seen)


def make_cmaes(net: BlurNet, sample: Callable, template: Genome, population: int = 80, sigma0: float = 0.5,
               n_support: int = 15, n_query: int = 20, batch: int = 128) -> CmaRun:
    """CMA-ES (evosax's, through :mod:`plastix.evolution`) over genomes of the shape of ``template``;
    see the module docstring."""
    fields = searched_fields(net)
    es = make_strategy("cma_es", population, (int(to_vector(template, fields).size),), sigma0=sigma0)

    def fitness(v, key):
        return accuracy_after(net, from_vector(v, template, fields), key, sample, n_support, n_query, batch)

    def score(xs, key):
        # the same tasks (key) for every member: a fair ranking. Member by member (lax.map, not vmap):
        # a vmapped member's rounding depends on how many are evaluated together, so a population split
        # into shards (``--ray``) would not compute what the whole population computes; on this CPU the
        # map is as fast as the vmap (docs/families/blur.md)
        return jax.lax.map(lambda x: fitness(x, key), xs)

    def generations(state, key, n: int):
        def gen(st, k):
            k_ask, k_fit, k_tell = jax.random.split(k, 3)
            xs, st = es.ask(k_ask, st)
            fit = score(xs, k_fit)
            st = es.tell(xs, fit, st, k_tell)
            return st, (es.best(st)[1], jnp.mean(fit))

        return jax.lax.scan(gen, state, jax.random.split(key, n))

    return CmaRun(lambda key, mean: es.init(key, to_vector(mean, fields)), es.ask, score, es.tell, generations, es.best,
                  lambda st: from_vector(es.mean(st), template, fields),
                  lambda st: from_vector(es.best(st)[0], template, fields))
