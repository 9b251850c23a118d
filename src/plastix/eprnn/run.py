"""Maze meta-training and meta-testing runs: the impure layer (files, checkpoints, progress).

``run_evolve(cfg, out)`` evolves ``cfg.agent`` for ``cfg.generations`` generations and publishes
``out/<run_name>/``:

* ``generations.parquet`` — per generation: best, mean and the mean genome's (member 0) fitness, σ;
* ``metrics.parquet`` — per evaluation of the mean genome on the evaluation mazes: per-episode
  return, success and steps (one row per generation × episode) and the weighted fitness;
* ``genotype.npz`` — the final mean genome (``plastix eval-maze --genotype``), ``config.json``,
  ``summary.json``, ``fitness.png`` and ``episodes.png`` (success and steps against the episode
  index, first and last evaluation);
* ``strategy.pkl`` — the final strategy state (wang2022_sep_cma), which a later run continues from as a
  curriculum stage with ``warm_start`` (spec §6.6, how the authors chained 9×9 → 15×15 → 21×21 runs:
  the diagonal covariance clipped to [0.64, 1], σ reset to σ₀, the evolution paths and the step
  counter kept; the stage draws its own mazes and noise, not the first stage's again). ``restart_every``
  applies the same restart every N generations within one run, with the same draws: one such run
  is bit for bit the chain of ``warm_start`` runs of N generations each (test).

With several XLA CPU devices (``PLASTIX_DEVICES=2``: one per core) the population is split over
them; every member draws the same numbers as in one piece, so the results do not depend on the
device count. Every generation's randomness is ``fold_in(run key, generation)``: the mazes (sampled on the host),
the offspring and the action noise. A checkpoint every ``checkpoint_every`` generations holds the
strategy state, the logs and the generation counter, so a killed run resumed with the same command
continues exactly as the uninterrupted run would have (test). A generation in which no member has
a finite fitness stops the run with an error.
"""

from __future__ import annotations

import json
import pickle
import time
from functools import lru_cache
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from plastix.validation import ConfigError
from plastix.eprnn.agent import flat_genome, make_agent, unflat_genome
from plastix.eprnn.config import STRATEGY_FILE, MazeConfig
from plastix.evolution import SepCMAState, check_fitness, curriculum_restart, make_strategy
from plastix.eprnn.genotype import STORED_MAZES, bundled, save_genotype
from plastix.eprnn.lifetime import HARD_WEIGHTS, PAPER_WEIGHTS, EpisodeStats, Lifetime, evaluate, fitness
from plastix.eprnn.maze import Maze, MazeEnv, load_mazes, sample_mazes
from plastix.rundir import RunResult, atomic_write_bytes, open_partial, progress_bar, publish_dir

__all__ = ["run_evolve", "evaluation_mazes", "episode_table", "lifetime_of", "meta_test", "weighted_fitness"]


def lifetime_of(cfg: MazeConfig) -> Lifetime:
    return Lifetime(env=MazeEnv(obs_sign=cfg.obs_sign), weights=PAPER_WEIGHTS if cfg.weighting == "paper" else
                    HARD_WEIGHTS, feed_reward=cfg.feed_reward)


def evaluation_mazes(n: int, count: int, seed: int = 20221123) -> Maze:
    """The first ``count`` stored mazes of size ``n`` shipped with plastix, else a seeded set (ρ = 0.30)."""
    if n in STORED_MAZES:
        mz = load_mazes(bundled(STORED_MAZES[n]))
        if count <= len(mz.start):
            return Maze(*(a[:count] for a in mz))
    return sample_mazes(jax.random.key(seed), count, n, 0.30)


# fields that change the compiled generation / test programs (the seed, budget and names do not)
_PROGRAM_FIELDS = ("agent", "strategy", "popsize", "elite", "sigma0", "c_cov", "lr", "mazes", "sub_iterations",
                   "weighting", "obs_sign", "feed_reward")


def _program_key(cfg: MazeConfig) -> str:
    return json.dumps({f: getattr(cfg, f) for f in _PROGRAM_FIELDS}, sort_keys=True)


def _scores(cfg: MazeConfig, agent, lt: Lifetime):
    """Mean fitness over the generation's mazes of each member of ``pop``, member ``i`` of it being
    member ``first + i`` of the population (its randomness follows its absolute index)."""

    def scores(pop, mazes, key, first):
        genomes = unflat_genome(agent, pop)
        stats = evaluate(agent, lt, genomes, mazes, key, cfg.sub_iterations, first_member=first)
        # member by member (lax.map, not vmap): a vmapped reduction's rounding depends on how many members
        # share the call, and a population split in shards must score each member as it does in one piece
        return jax.lax.map(lambda sg: jnp.mean(fitness(lt, *sg)), (stats, genomes))

    return scores


def shard_scorer(program_key: str):
    """A Ray actor's shard evaluator for ``--ray`` (:mod:`plastix.platform.population`):
    ``score(pop_shard, first, mazes, key_data) -> fitness``, compiled once per shard size."""
    cfg = MazeConfig(**json.loads(program_key))
    agent = make_agent(cfg.agent)
    scores = jax.jit(_scores(cfg, agent, lifetime_of(cfg)))

    def score(pop, first, mazes, key_data):
        return scores(jnp.asarray(pop), Maze(*(jnp.asarray(a) for a in mazes)), jax.random.wrap_key_data(key_data),
                      jnp.asarray(first, jnp.int32))

    return score


@lru_cache(maxsize=16)
def _compiled(key: str):
    cfg = MazeConfig(**json.loads(key))
    agent = make_agent(cfg.agent)
    lt = lifetime_of(cfg)
    segments = tuple(int(np.prod(s)) for _, s in sorted(agent.shapes().items()))
    es = make_strategy(cfg.strategy, cfg.popsize, segments, cfg.sigma0, cfg.elite, cfg.c_cov, cfg.lr)

    scores = _scores(cfg, agent, lt)

    ndev = jax.local_device_count()
    if ndev > 1 and cfg.popsize % ndev == 0:  # one slice of the population per device (core)
        per = cfg.popsize // ndev
        pscores = jax.pmap(scores, in_axes=(0, None, None, 0))
        ask = jax.jit(es.ask)

        def generation(state, key, mazes):
            pop, state = ask(jax.random.fold_in(key, 1), state)
            # host round trip: pmap wants its inputs laid out per device, not as one jit output
            f = pscores(np.asarray(pop).reshape(ndev, per, -1), jax.device_get(mazes), jax.random.fold_in(key, 2),
                        np.arange(ndev) * per)
            return pop, f.reshape(-1), state
    else:
        @jax.jit
        def generation(state, key, mazes):
            pop, state = es.ask(jax.random.fold_in(key, 1), state)
            return pop, scores(pop, mazes, jax.random.fold_in(key, 2), 0), state

    tell = jax.jit(es.tell)

    @jax.jit
    def test(flat, mazes, key):
        g = unflat_genome(agent, flat[None])
        return jax.tree.map(lambda a: a[0], evaluate(agent, lt, g, mazes, key))

    return agent, lt, es, generation, tell, test


def episode_table(stats: EpisodeStats) -> pd.DataFrame:
    """Per-episode mean return (and its standard error over mazes), success rate, steps and the
    fraction of greedy (argmax) actions."""
    ret, suc, steps, greedy = (np.asarray(a).reshape(-1, a.shape[-1])
                               for a in (stats.ret, stats.success, stats.steps, stats.greedy))
    n = ret.shape[0]
    return pd.DataFrame({"episode": np.arange(1, ret.shape[1] + 1), "return": ret.mean(0),
                         "return_se": ret.std(0, ddof=1) / np.sqrt(n) if n > 1 else np.nan, "success": suc.mean(0),
                         "steps": steps.mean(0), "greedy": greedy.sum(0) / np.maximum(steps.sum(0), 1)})


def meta_test(agent, lt: Lifetime, genome, mazes: Maze, key, repeats: int = 1, chunk: int = 256) -> EpisodeStats:
    """Evaluate one genome on many mazes (in chunks of ``chunk`` mazes to bound memory)."""
    flat = flat_genome(genome)[None]
    g = unflat_genome(agent, flat)
    f = jax.jit(lambda m, k: evaluate(agent, lt, g, m, k, repeats))
    n = len(mazes.start)
    parts = [f(Maze(*(jnp.asarray(a[i:i + chunk]) for a in mazes)), jax.random.fold_in(key, i))
             for i in range(0, n, chunk)]
    return jax.tree.map(lambda *a: np.concatenate([np.asarray(x[0]) for x in a], axis=0), *parts)


def weighted_fitness(lt: Lifetime, stats: EpisodeStats) -> float:
    """The paper's weighted episode return averaged over all lifetimes (no parameter penalty)."""
    w = np.asarray(lt.weights)
    return float((np.asarray(stats.ret) @ w / w.sum()).mean())


def run_evolve(cfg: MazeConfig, out: str | Path = "runs", *, progress: bool = True, resume: bool = True,
               stop_after: int | None = None, ray: str = "", ray_workers: int = 0) -> RunResult:
    """Evolve ``cfg`` and publish ``out/<cfg.run_name>/`` (see the module docstring).

    ``stop_after`` ends the process's work after that many generations with the checkpoint written
    and nothing published (used to test resumption). ``ray`` (``auto``, ``local``, host:port)
    evaluates each generation's population in shards on that Ray cluster's actors (``ray_workers``
    of them; 0: one per CPU of the cluster), with the same numbers as in this process.
    """
    cfg.validate()
    t0 = time.perf_counter()
    agent, lt, es, generation, tell, test = _compiled(_program_key(cfg))
    warm = warm_state(cfg, es) if cfg.warm_start else None  # read (and checked) before anything is written
    pool = None
    if ray:  # connected (or refused) before anything is written
        from plastix.platform.population import RayPopulation

        pool = RayPopulation(ray, ray_workers, "plastix.eprnn.run:shard_scorer", _program_key(cfg))
        generation = _ray_generation(es, pool)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    final, partial = out / cfg.run_name, out / f".{cfg.run_name}.partial"
    ckpt_path = partial / "checkpoint.pkl"
    eval_mz = evaluation_mazes(cfg.maze_size, cfg.eval_mazes)
    eval_mz = Maze(*(jnp.asarray(a) for a in eval_mz))
    key = jax.random.key(cfg.seed)
    k_init, k_es, k_run, k_eval = jax.random.split(key, 4)
    ckpt = open_partial(cfg, partial, resume)
    if ckpt is None:
        init_state = warm if warm is not None else es.init(k_es, flat_genome(agent.init_genome(k_init)))
        ckpt = {"digest": cfg.digest(), "gen": 0, "state": jax.device_get(init_state), "gens": [], "evals": [],
                "seconds": 0.0, "stage_t": int(getattr(init_state, "t", 0))}
    state = jax.tree.map(jnp.asarray, ckpt["state"])
    bar = progress_bar(progress, cfg.generations, ckpt["gen"], cfg.run_name, "gen")

    def evaluate_mean(gen: int):
        stats = jax.device_get(test(es.mean(state), eval_mz, jax.random.fold_in(k_eval, gen)))
        tab = episode_table(stats).assign(generation=gen, weighted_fitness=weighted_fitness(lt, stats))
        ckpt["evals"].append(tab)

    def save():
        ckpt["state"] = jax.device_get(state)
        ckpt["seconds"] += time.perf_counter() - t_mark
        atomic_write_bytes(ckpt_path, pickle.dumps(ckpt))

    t_mark = time.perf_counter()
    done_here = 0
    try:
        if not ckpt["evals"]:
            evaluate_mean(0)
        while ckpt["gen"] < cfg.generations:
            gen = ckpt["gen"]
            kg = _generation_key(k_run, gen, ckpt.get("stage_t", 0), cfg.restart_every)
            mazes = sample_mazes(jax.random.fold_in(kg, 0), cfg.mazes, cfg.maze_size, cfg.crowd)
            pop, f, state_asked = generation(state, kg, Maze(*(jnp.asarray(a) for a in mazes)))
            f_np = np.asarray(f)
            check_fitness(f_np)
            state = tell(pop, f, state_asked)
            if cfg.restart_every and (gen + 1) % cfg.restart_every == 0 and gen + 1 < cfg.generations:
                state = curriculum_restart(es, state)  # a new stage from here (σ reset, c clipped)
            ok = np.isfinite(f_np)
            ckpt["gens"].append({"generation": gen + 1, "best": float(f_np[ok].max()), "mean": float(f_np[ok].mean()),
                                 "member0": float(f_np[0]), "invalid": int((~ok).sum()),
                                 "sigma": float(getattr(state, "sigma", np.nan))})
            ckpt["gen"] = gen + 1
            if ckpt["gen"] % cfg.eval_every == 0 or ckpt["gen"] == cfg.generations:
                evaluate_mean(ckpt["gen"])
            done_here += 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix(best=f"{f_np[ok].max():.3f}", mean=f"{f_np[ok].mean():.3f}")
            if ckpt["gen"] % cfg.checkpoint_every == 0 or ckpt["gen"] == cfg.generations:
                save()
                t_mark = time.perf_counter()
            if stop_after is not None and done_here >= stop_after:
                save()
                return RunResult(partial, pd.DataFrame(), {"stopped_at": ckpt["gen"]}, time.perf_counter() - t0)
    finally:
        if bar is not None:
            bar.close()
        if pool is not None:
            pool.close()
    return _publish(cfg, agent, lt, es, state, ckpt, partial, final, time.perf_counter() - t0)


def _ray_generation(es, pool):
    """A generation whose population is scored by ``pool``'s actors (the driver asks and tells)."""
    ask = jax.jit(es.ask)

    def generation(state, key, mazes):
        pop, state = ask(jax.random.fold_in(key, 1), state)
        key_data = np.asarray(jax.random.key_data(jax.random.fold_in(key, 2)))
        f = pool.evaluate(np.asarray(pop), jax.device_get(tuple(mazes)), key_data)
        return pop, jnp.asarray(f), state

    return generation


def _generation_key(k_run, gen: int, t0: int, restart_every: int):
    """Generation ``gen``'s key. A curriculum stage — a ``warm_start`` run whose strategy had taken
    ``t0`` steps, or the part of a run after each ``restart_every`` restart — draws from the run key
    folded with the step counter at its start, its generations counted from 0, so it does not repeat
    the first stage's draws and one run with ``restart_every = N`` is the chain of stages."""
    start = gen - gen % restart_every if restart_every else 0
    if t0 + start == 0:  # the first stage of a fresh run
        return jax.random.fold_in(k_run, gen)
    return jax.random.fold_in(jax.random.fold_in(k_run, t0 + start), gen - start)


def warm_state(cfg: MazeConfig, es):
    """The strategy state a curriculum stage starts from (spec §6.6): ``cfg.warm_start``'s final
    state with ``c`` clipped to [0.64, 1] and σ reset to σ₀ (paths and ``t`` kept)."""
    path = Path(cfg.warm_start) / STRATEGY_FILE
    try:
        saved = pickle.loads(path.read_bytes())
        old_agent, state = saved["agent"], saved["state"]
    except (OSError, pickle.UnpicklingError, KeyError, TypeError, EOFError) as e:
        raise ConfigError("warm_start", f"cannot read {path} ({e}); allowed: the directory of a finished maze run")
    if old_agent != cfg.agent:
        raise ConfigError("warm_start", f"{path} holds a {old_agent!r} genome; allowed: a run of the same agent "
                                        f"({cfg.agent!r})")
    if not isinstance(state, SepCMAState) or np.shape(state.mean) != (es.d,):
        raise ConfigError("warm_start", f"{path} does not hold a wang2022_sep_cma state of a {es.d}-parameter genome")
    return curriculum_restart(es, jax.tree.map(jnp.asarray, state))


def _publish(cfg, agent, lt, es, state, ckpt, partial: Path, final: Path, seconds: float) -> RunResult:
    from plastix.plotting import plot_curves

    gens = pd.DataFrame(ckpt["gens"])
    evals = pd.concat(ckpt["evals"], ignore_index=True)
    mean = unflat_genome(agent, es.mean(state))
    save_genotype(partial / "genotype.npz", cfg.agent, jax.device_get(mean), generation=ckpt["gen"])
    if isinstance(state, SepCMAState):  # what a later curriculum stage (warm_start) continues from
        (partial / STRATEGY_FILE).write_bytes(pickle.dumps({"agent": cfg.agent, "generation": ckpt["gen"],
                                                            "state": jax.device_get(state)}))
    first, last = evals[evals.generation == evals.generation.min()], evals[evals.generation == evals.generation.max()]
    summary = {"run": cfg.run_name, "generations": int(ckpt["gen"]), "seconds": round(ckpt["seconds"], 1),
               "first_eval": _eval_summary(first), "last_eval": _eval_summary(last),
               "best_eval_weighted_fitness": float(evals.groupby("generation").weighted_fitness.first().max())}
    (partial / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")
    gens.to_parquet(partial / "generations.parquet", index=False)
    evals.to_parquet(partial / "metrics.parquet", index=False)
    (partial / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    x = gens.generation.to_numpy()
    plot_curves({"population mean": (x, gens["mean"].to_numpy()[None]), "best": (x, gens.best.to_numpy()[None])},
                partial / "fitness.png", xlabel="generation", ylabel="fitness (weighted return)",
                title=f"{cfg.agent} · {cfg.maze_size}×{cfg.maze_size} · P={cfg.popsize}",
                smooth=max(1, len(x) // 50))
    plot_episodes({f"generation {int(t.generation.iloc[0])}": t for t in (first, last)}, partial / "episodes.png",
                  title=f"{cfg.agent}: mean genome on {cfg.eval_mazes} mazes {cfg.maze_size}×{cfg.maze_size}")
    publish_dir(cfg, partial, final)
    return RunResult(final, evals, summary, seconds)


def _eval_summary(t: pd.DataFrame) -> dict:
    return {"generation": int(t.generation.iloc[0]), "weighted_fitness": round(float(t.weighted_fitness.iloc[0]), 4),
            "success": [round(float(v), 4) for v in t.success], "steps": [round(float(v), 2) for v in t.steps],
            "return": [round(float(v), 4) for v in t["return"]]}


def plot_episodes(tables: dict[str, pd.DataFrame], path: Path, title: str = "") -> Path:
    """Success rate and mean steps against the episode index, one line per table."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9.0, 3.6), dpi=120)
    for label, t in tables.items():
        axes[0].plot(t.episode, t.success, marker="o", label=label)
        axes[1].plot(t.episode, t.steps, marker="o", label=label)
    axes[0].set_ylabel("success rate")
    axes[1].set_ylabel("mean steps (actions)")
    for ax in axes:
        ax.set_xlabel("episode in the maze")
        ax.grid(alpha=0.3)
    axes[0].set_ylim(0, 1.02)
    axes[0].legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(path)
    return path
