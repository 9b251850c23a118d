"""One evolution run's population evaluated on a Ray cluster (``--ray ADDRESS``).

The driver keeps everything that makes the run a run — ask/tell, checkpoints, logging — and hands
each generation's population to long-lived Ray actors in shards, one shard per actor. An actor
builds its family's shard evaluator once (compiling it on the first call) and then only computes:
``score(population_shard, first_member, *payload) -> fitness``. Shards are contiguous slices of the
population and the evaluator derives every member's randomness from its absolute index
(``first_member``), so a sharded generation computes, member by member, what the single-process
generation computes: the run's metrics and final genome are bit-for-bit the same (checked by
``tests/test_population.py``).

Faults: an actor that dies mid-generation (``kill -9`` included) is replaced and its shard run
again; a driver killed and rerun resumes from its checkpoint as every run does. An address where
nothing answers, or a cluster whose plastix version differs from the driver's, is a one-line
error before any work.

Ray does the scheduling, transport and fault detection; this module only splits, dispatches and
reassembles (no maintained library evaluates an evosax-style population on a Ray cluster).
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from plastix.platform.sweep import SweepError, connect_ray

RETRIES = 3  # times one shard is re-run on a fresh actor before the generation fails


class ShardEvaluator:
    """The Ray actor: a family's shard evaluator, built once per actor."""

    def __init__(self, factory: str, *args: Any):
        from plastix.runtime import configure

        configure()  # the same XLA settings and compilation cache as the driver
        module, _, name = factory.partition(":")
        self._score = getattr(importlib.import_module(module), name)(*args)

    def version(self) -> str:
        import plastix

        return plastix.__version__

    def pid(self) -> int:
        import os

        return os.getpid()

    def score(self, population: np.ndarray, first: int, *payload: Any) -> tuple[np.ndarray, float]:
        """The shard's fitness and the seconds this actor spent computing it."""
        import time

        t0 = time.perf_counter()
        fitness = np.asarray(self._score(population, first, *payload))
        return fitness, time.perf_counter() - t0


class RayPopulation:
    """Shards of a population evaluated by ``workers`` Ray actors (see the module docstring).

    ``factory`` is ``"module:function"``; ``function(*args)`` runs in each actor and returns the
    shard evaluator ``score(population, first_member, *payload)``.
    """

    def __init__(self, address: str, workers: int, factory: str, *args: Any):
        if workers < 0:
            raise SweepError(f"--ray-workers: {workers} is negative; allowed: 0 (one per CPU of the cluster) or ≥ 1")
        import plastix
        from plastix.runtime import configure

        configure()  # sets XLA_FLAGS here, which the actors then receive
        self.ray, self._started = connect_ray(address, workers or None)
        self.workers = workers or max(1, int(self.ray.cluster_resources().get("CPU", 1)))
        self._factory, self._args = factory, args
        self._actor_class = self.ray.remote(num_cpus=1)(ShardEvaluator)
        self.actors = [self._new_actor() for _ in range(self.workers)]
        versions = set(self.ray.get([a.version.remote() for a in self.actors]))
        if versions != {plastix.__version__}:
            self.close()
            raise SweepError(f"--ray: the cluster runs plastix {', '.join(sorted(versions))}, this driver "
                             f"{plastix.__version__}; install the same version on every node")
        self.replaced = 0  # actors replaced after a fault, over the run
        self.compute_seconds: list[float] = []  # the last generation's seconds of computing, per shard

    def _new_actor(self):
        return self._actor_class.remote(self._factory, *self._args)

    def shards(self, size: int) -> list[tuple[int, int]]:
        """(first, stop) of each actor's contiguous slice of a population of ``size``."""
        bounds = np.linspace(0, size, min(self.workers, size) + 1).round().astype(int)
        return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]

    def evaluate(self, population: np.ndarray, *payload: Any) -> np.ndarray:
        """Fitness of every member, shards evaluated in parallel; a dead actor's shard is re-run on a
        fresh actor (at most ``RETRIES`` times)."""
        from ray.exceptions import RayActorError

        population = np.asarray(population)
        shards = self.shards(len(population))
        refs = {i: self.actors[i].score.remote(population[a:b], a, *payload) for i, (a, b) in enumerate(shards)}
        out: list[Any] = [None] * len(shards)
        for i, (a, b) in enumerate(shards):
            for attempt in range(RETRIES + 1):
                try:
                    out[i] = self.ray.get(refs[i])
                    break
                except RayActorError:
                    if attempt == RETRIES:
                        raise
                    self.actors[i] = self._new_actor()
                    self.replaced += 1
                    refs[i] = self.actors[i].score.remote(population[a:b], a, *payload)
        self.compute_seconds = [seconds for _, seconds in out]
        return np.concatenate([fitness for fitness, _ in out])

    def close(self) -> None:
        for a in self.actors:
            self.ray.kill(a)
        self.actors = []
        if self._started:
            self.ray.shutdown()
