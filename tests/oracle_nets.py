"""The spec's oracle networks (team_rules.md §13) and reward tables, shared by the rule oracles."""

import jax
import jax.numpy as jnp

from plastix.nets import Bernoulli, Network, Softmax
from plastix.teams.oracles import gaussian_params

NETS = {
    "3-2-1": Network(3, (Bernoulli(2), Bernoulli(1))),
    "4-3-1": Network(4, (Bernoulli(3), Bernoulli(1))),
    "3-3-3-1": Network(3, (Bernoulli(3), Bernoulli(3), Bernoulli(1))),
    "4-3pm-softmax3": Network(4, (Bernoulli(3, tau=2.0, values="pm1"), Softmax(3, tau=1.5))),
    "3-3pm-3-1": Network(3, (Bernoulli(3, values="pm1"), Bernoulli(3), Bernoulli(1))),
}


def reward_table(net):
    """R̄(a): 2a − 1 + 0.5 for a Bernoulli output (mean far from 0); (1, −0.5, 2)·onehot for softmax."""
    if isinstance(net.output, Softmax):
        table = jnp.array([1.0, -0.5, 2.0])
        return lambda out: out @ table
    return lambda out: 2 * out[:, 0] - 1 + 0.5


def setup(name, seed):
    """(net, float64 params with N(0,1) weights / N(0, 0.5²) biases, a ±1 input, reward fn)."""
    net = NETS[name]
    params = gaussian_params(net, jax.random.key(seed), jnp.float64)
    x = jax.random.choice(jax.random.key(seed + 100), jnp.array([-1.0, 1.0]), (net.n_in,)).astype(jnp.float64)
    return net, params, x, reward_table(net)
