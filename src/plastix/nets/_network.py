"""A layered feed-forward network: a tuple of layers, pure functions over a params tuple.

``params`` is a tuple with one ``{"W": (n_in, n_out), "b": (n_out,)}`` dict per layer, and the
``trace`` a tuple with one :class:`~plastix.nets.LayerTrace` per layer. Nothing outside the
trace is visible to a local rule.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from plastix.nets._layers import Bernoulli, Deterministic, Gaussian, Layer, LayerTrace, Softmax
from plastix.random import Sampler
from plastix.types import Array, Params, PRNGKey

Trace = tuple[LayerTrace, ...]


@dataclasses.dataclass(frozen=True)
class Network:
    """A stack of layers; the last one is the output ("action") layer.

    Attributes:
        n_in: number of inputs.
        layers: the layers, bottom to top.

    Example:
        >>> import jax
        >>> from plastix.nets import Network, Bernoulli
        >>> from plastix.random import hash_sampler
        >>> net = Network(3, (Bernoulli(2), Bernoulli(1)))
        >>> params = net.init(jax.random.key(0))
        >>> out, trace = net.sample(params, jax.numpy.ones((5, 3)), jax.random.key(1), hash_sampler())
        >>> out.shape, len(trace)
        ((5, 1), 2)
    """

    n_in: int
    layers: tuple[Layer, ...]

    @property
    def sizes(self) -> tuple[int, ...]:
        return (self.n_in,) + tuple(layer.n for layer in self.layers)

    @property
    def output(self) -> Layer:
        return self.layers[-1]

    def init(self, key: PRNGKey, dtype=jnp.float32) -> Params:
        keys = jax.random.split(key, len(self.layers))
        return tuple(
            layer.init(k, n_in, dtype) for layer, k, n_in in zip(self.layers, keys, self.sizes[:-1])
        )

    @property
    def stateful(self) -> bool:
        """True if a layer starts from its previous state (persistent Gibbs chains)."""
        return any(getattr(layer, "stateful", False) for layer in self.layers)

    def sample(
        self, params: Params, x: Array, key: PRNGKey, sampler: Sampler, carry: tuple | None = None
    ) -> tuple[Array, Trace]:
        """Sample every layer bottom-up; returns the output sample (B, n_L) and the trace.

        ``carry`` (stateful networks only): the previous step's ``tuple(t.h for t in trace)``;
        layers that persist their state start from it.
        """
        keys = sampler.split(key, len(self.layers))
        trace, h = [], x
        for i, (layer, p) in enumerate(zip(self.layers, params)):
            if carry is not None and getattr(layer, "stateful", False):
                t = layer.sample(p, h, keys[i], sampler, previous=carry[i])
            else:
                t = layer.sample(p, h, keys[i], sampler)
            trace.append(t)
            h = t.h
        return h, tuple(trace)

    def trace(self, params: Params, x: Array, hs: tuple[Array, ...]) -> Trace:
        """The trace for given values of every stochastic layer (deterministic ones recomputed)."""
        trace, h = [], x
        for layer, p, forced in zip(self.layers, params, hs):
            if isinstance(layer, Deterministic):
                t = layer.sample(p, h, None, None)  # type: ignore[arg-type]
            else:
                t = layer.trace(p, h, forced)
            trace.append(t)
            h = t.h
        return tuple(trace)

    def log_prob(self, params: Params, x: Array, hs: tuple[Array, ...]) -> Array:
        """log P(all sampled values | x) per sample, (B,)."""
        total, h = 0.0, x
        for layer, p, forced in zip(self.layers, params, hs):
            if isinstance(layer, Deterministic):
                h = layer.sample(p, h, None, None).h  # type: ignore[arg-type]
                continue
            total = total + layer.log_prob(p, h, forced)
            h = layer.value(forced)
        return total


def stochastic_mlp(
    n_in: int,
    hidden: tuple[int, ...],
    n_out: int = 1,
    *,
    unit: str = "bernoulli",
    output: str = "bernoulli",
    tau: float | tuple[float, ...] = 1.0,
    sigma2: float | tuple[float, ...] = 1.0,
    bias_init: str = "uniform",
    lateral: Layer | None = None,
    link: str = "softplus",
) -> Network:
    """A network of stochastic hidden units and a stochastic output layer.

    Args:
        n_in: inputs. hidden: hidden widths. n_out: output units (softmax: outcomes).
        unit: hidden units, ``"bernoulli"`` ({0,1}), ``"bernoulli_pm1"`` (±1) or ``"gaussian"``
            (link ``link``, variance ``sigma2``).
        output: ``"bernoulli"``, ``"softmax"`` or ``"gaussian"`` (identity link).
        tau: temperature, one value or one per layer (hidden..., output).
        sigma2: variance of Gaussian units, one value or one per layer (hidden..., output).
        link: the link ``g`` of Gaussian hidden units, ``"softplus"`` (the MAP-prop code's
            ``l_type = 0``, every release) or ``"relu"`` (``l_type = 1``).
        lateral: a lateral layer (:class:`~plastix.nets.Boltzmann`, :class:`~plastix.nets.Recurrent`)
            used as the first hidden layer instead of ``unit`` (its width replaces ``hidden[0]``).
    """
    n_layers = len(hidden) + 1
    taus = _per_layer(tau, n_layers, "tau")
    sig = _per_layer(sigma2, n_layers, "sigma2")
    layers: list[Layer] = []
    for n, t, s2 in zip(hidden, taus, sig):
        layers.append(_hidden_layer(unit, n, t, s2, bias_init, link))
    if lateral is not None:
        layers[0] = lateral
    layers.append(_output_layer(output, n_out, taus[-1], sig[-1], bias_init))
    return Network(n_in, tuple(layers))


def _per_layer(value, n_layers: int, name: str) -> tuple:
    values = (value,) * n_layers if isinstance(value, (int, float)) else tuple(value)
    if len(values) != n_layers:
        raise ValueError(f"{name}: give 1 value or {n_layers} (one per layer), got {len(values)}")
    return values


def deterministic_mlp(
    n_in: int,
    hidden: tuple[int, ...],
    n_out: int = 1,
    *,
    activation: str = "tanh",
    output: str = "bernoulli",
    tau: float = 1.0,
    sigma2: float = 1.0,
    bias_init: str = "uniform",
) -> Network:
    """Deterministic hidden layers (trained by backprop) under a stochastic output layer."""
    layers: list[Layer] = [Deterministic(n, bias_init=bias_init, link=activation) for n in hidden]  # type: ignore[arg-type]
    layers.append(_output_layer(output, n_out, tau, sigma2, bias_init))
    return Network(n_in, tuple(layers))


def _hidden_layer(unit: str, n: int, tau: float, sigma2: float, bias_init: str, link: str = "softplus") -> Layer:
    if unit == "bernoulli":
        return Bernoulli(n, bias_init=bias_init, tau=tau, values="01")  # type: ignore[arg-type]
    if unit == "bernoulli_pm1":
        return Bernoulli(n, bias_init=bias_init, tau=tau, values="pm1")  # type: ignore[arg-type]
    if unit == "gaussian":
        if link not in GAUSSIAN_LINKS:
            raise ValueError(f"unknown Gaussian link {link!r}; allowed: {', '.join(GAUSSIAN_LINKS)}")
        return Gaussian(n, bias_init=bias_init, sigma2=sigma2, link=link)  # type: ignore[arg-type]
    raise ValueError(f"unknown hidden unit {unit!r}; allowed: {', '.join(HIDDEN_UNITS)}")


def _output_layer(output: str, n: int, tau: float, sigma2: float, bias_init: str) -> Layer:
    if output == "bernoulli":
        return Bernoulli(n, bias_init=bias_init, tau=tau, values="01")  # type: ignore[arg-type]
    if output == "softmax":
        return Softmax(n, bias_init=bias_init, tau=tau)  # type: ignore[arg-type]
    if output == "gaussian":
        return Gaussian(n, bias_init=bias_init, sigma2=sigma2, link="identity")  # type: ignore[arg-type]
    raise ValueError(f"unknown output layer {output!r}; allowed: {', '.join(OUTPUTS)}")


HIDDEN_UNITS = ("bernoulli", "bernoulli_pm1", "gaussian")
GAUSSIAN_LINKS = ("softplus", "relu")  # the MAP-prop code's l_type 0 and 1
OUTPUTS = ("bernoulli", "softmax", "gaussian")
ACTIVATIONS = ("tanh", "relu", "sigmoid", "softplus", "identity")
