"""BLUR meta-training by CMA-ES as a run (``plastix run blur/cmaes-mnist14``): compile once, evolve in
chunks of ``eval_every`` generations, checkpoint after each chunk, publish ``out/<run_name>/``:

* ``config.json``; ``generations.parquet`` (generation, best fitness so far, population mean fitness);
* ``metrics.parquet`` (generation, test accuracy of the CMA mean genome's ``n_support``-step learner,
  averaged over ``eval_draws`` synapse draws, on the held-out test images);
* ``curve.parquet`` (inner step 0 … ``curve_steps``, test accuracy of the final mean genome) and
  ``sgd.parquet`` (the same for SGD and SGD + momentum over a learning-rate grid,
  :mod:`plastix.blur.baselines`: same architecture, same support batches);
* ``genome.npz`` (the final mean genome, :func:`plastix.blur.load_genome`), ``best_genome.npz``;
* ``summary.json``, ``fitness.png``, ``curve.png``.

Fitness (spec §5.2): accuracy on ``n_query`` batches drawn from the training images after
``n_support`` inner steps on training batches, fresh synapses; every member sees the same draws in
a generation. The test images are never seen during evolution. Same config and seed ⇒ the same
numbers, however the run was interrupted and resumed (chunks start at multiples of ``eval_every``).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import pickle
import time
from pathlib import Path
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from plastix.blur.baselines import LRS, MOMENTA, best_rates, sgd_curves
from plastix.blur.config import BlurCmaConfig, parse_transfer, transfer_slug
from plastix.blur.evolve import make_cmaes
from plastix.blur.genome import backprop_genome, random_genome, save_genome
from plastix.blur.network import BlurNet, init_synapses, inner_step, predict
from plastix.blur.tasks import dataset_sampler, resize_images, select_classes
from plastix.validation import ConfigError
from plastix.types import Array
from plastix.rundir import (RunResult, atomic_write_bytes, chunk_guard, open_partial, progress_bar,
                            publish_dir)


def load_images(cfg: BlurCmaConfig):
    """(x_train, y_train, x_test, y_test, n_classes) of the evolution task (ConfigError for an impossible size)."""
    return task_data(cfg.dataset, cfg.data_dir, cfg.side, cfg.classes)


def task_data(dataset: str, data_dir: str, side: int, classes: tuple[int, ...] = ()):
    """(x_train, y_train, x_test, y_test, n_classes) of ``dataset`` resized to ``side`` (0: native; 28 → 10
    crops the central 20 × 20 first, as the paper does) and, if ``classes`` is given, restricted to those
    classes, relabelled 0… in the order given."""
    from plastix.datasets import load, resize_allowed

    ds = load(dataset, data_dir or None)
    x_tr, x_te, y_tr, y_te = ds.x_train, ds.x_test, np.asarray(ds.y_train), np.asarray(ds.y_test)
    why = resize_allowed(dataset, side)
    if why:
        raise ConfigError("side", f"side={side}: {why}")
    native = ds.image_shape[-1]
    if side and side != native:
        crop = 20 if (native, side) == (28, 10) else 0  # the paper's 10 × 10: central 20 × 20, then 2 × 2 means

        def resize(x):  # CIFAR-10's three channels are resized alike, each as one image
            return resize_images(x.reshape(-1, native * native), native, side, crop).reshape(len(x), -1)

        x_tr, x_te = resize(x_tr), resize(x_te)
    n_classes = ds.n_classes
    if classes:
        bad = [c for c in classes if not 0 <= c < ds.n_classes]
        if bad:
            raise ConfigError("classes", f"class {bad[0]} is not in {dataset}; allowed: 0…{ds.n_classes - 1}")
        (x_tr, y_tr), (x_te, y_te) = select_classes(x_tr, y_tr, classes), select_classes(x_te, y_te, classes)
        n_classes = len(classes)
    return (np.asarray(x_tr, np.float32), np.asarray(y_tr, np.int32), np.asarray(x_te, np.float32),
            np.asarray(y_te, np.int32), n_classes)


def make_net(cfg: BlurCmaConfig, n_in: int, n_out: int) -> BlurNet:
    return cfg.make_net((n_in, *cfg.hidden, n_out))


def _fresh(net: BlurNet, sample: Callable, key: Array, steps: int, batch: int):
    syn = init_synapses(jax.random.fold_in(key, 0), net)
    xs, ys = jax.vmap(lambda k: sample(k, batch))(jax.random.split(jax.random.fold_in(key, 1), steps))
    return syn, xs, ys


def learner_curve(net: BlurNet, g, sample: Callable, x_test: Array, y_test: Array, key: Array, steps: int,
                  batch: int, draws: int) -> Array:
    """Test accuracy after 0 … ``steps`` inner steps from fresh synapses, mean over ``draws`` draws."""
    def acc(s):
        return jnp.mean(jnp.argmax(predict(net, g, s, x_test), -1) == y_test)

    def one(k):
        syn, xs, ys = _fresh(net, sample, k, steps, batch)

        def body(s, xy):
            s = inner_step(net, g, s, xy[0], xy[1])[0]
            return s, acc(s)

        return jnp.concatenate([acc(syn)[None], jax.lax.scan(body, syn, (xs, ys))[1]])

    return jnp.mean(jax.vmap(one)(jax.random.split(key, draws)), 0)


def accuracy_after_steps(net: BlurNet, g, sample: Callable, x_test: Array, y_test: Array, key: Array, steps: int,
                         batch: int, draws: int) -> Array:
    """Test accuracy after ``steps`` inner steps (the learner the fitness selects), mean over ``draws``."""
    def one(k):
        syn, xs, ys = _fresh(net, sample, k, steps, batch)
        syn, _ = jax.lax.scan(lambda s, xy: (inner_step(net, g, s, xy[0], xy[1])[0], None), syn, (xs, ys))
        return jnp.mean(jnp.argmax(predict(net, g, syn, x_test), -1) == y_test)

    return jnp.mean(jax.vmap(one)(jax.random.split(key, draws)))


learner_curve_jit = jax.jit(learner_curve, static_argnums=(0, 2, 6, 7, 8))


@functools.lru_cache(maxsize=16)
def image_task(dataset: str, data_dir: str, side: int, classes: tuple[int, ...]):
    """(sampler, test images, test labels, n_in, n_classes), one sampler object per task in a process (so
    the compiled learner and SGD curves are reused)."""
    x_tr, y_tr, x_te, y_te, n_classes = task_data(dataset, data_dir, side, classes)
    return dataset_sampler(x_tr, y_tr), jnp.asarray(x_te), jnp.asarray(y_te), x_tr.shape[1], n_classes


def evaluate_genome(cfg: BlurCmaConfig, g, task: tuple[str, int, tuple[int, ...]], key: Array, steps: int):
    """BLUR's test-accuracy curve on ``task`` (dataset, side, classes) with a fresh network of the run's
    hidden sizes, and the SGD baselines' curves (:func:`plastix.blur.baselines.sgd_curves`)."""
    sample, xt, yt, n_in, n_classes = image_task(task[0], cfg.data_dir, task[1], tuple(task[2]))
    net = make_net(cfg, n_in, n_classes)
    blur = learner_curve_jit(net, g, sample, xt, yt, key, steps, cfg.batch, cfg.eval_draws)
    return np.asarray(blur), sgd_curves(jax.random.fold_in(key, 1), net.sizes, sample, xt, yt, steps, cfg.batch)


@functools.lru_cache(maxsize=4)
def _program(cfg: BlurCmaConfig):
    """The compiled pieces of a run (cached per config: the tests share them)."""
    sample, xt, yt, n_in, n_classes = image_task(cfg.dataset, cfg.data_dir, cfg.side, cfg.classes)
    net = make_net(cfg, n_in, n_classes)
    key = jax.random.key(cfg.seed)
    template = (random_genome(jax.random.fold_in(key, 1), cfg.k) if cfg.init == "random"
                else backprop_genome(0.1, cfg.k))
    cma = make_cmaes(net, sample, template, cfg.population, cfg.sigma0, cfg.n_support, cfg.n_query, cfg.batch)
    test_accuracy = jax.jit(lambda g, k: accuracy_after_steps(net, g, sample, xt, yt, k, cfg.n_support, cfg.batch,
                                                              cfg.eval_draws))
    return cma, template, jax.jit(cma.generations, static_argnums=2), test_accuracy


def _program_key(cfg: BlurCmaConfig) -> str:
    """The config as a Ray actor rebuilds it (the run's name does not change the program)."""
    return json.dumps(dataclasses.replace(cfg, name="").to_dict(), sort_keys=True)


def shard_scorer(program_key: str):
    """A Ray actor's shard evaluator for ``--ray`` (:mod:`plastix.platform.population`):
    ``score(pop_shard, first, key_data) -> fitness``. Every member sees the generation's tasks (the
    key), so ``first`` does not enter; members are scored one by one (:func:`make_cmaes`), so a shard
    computes what the whole population computes."""
    cma = _program(BlurCmaConfig.from_dict(json.loads(program_key)))[0]
    score = jax.jit(cma.score)

    def shard(pop, first, key_data):
        return score(jnp.asarray(pop), jax.random.wrap_key_data(jnp.asarray(key_data)))

    return shard


def _ray_generations(cma, pool):
    """``generations(state, key, n)`` with each population scored by ``pool``'s actors: the driver asks
    and tells with the keys the compiled ``lax.scan`` uses, so the numbers are the same."""
    ask, tell, best = jax.jit(cma.ask), jax.jit(cma.tell), jax.jit(lambda st: cma.best(st)[1])

    def generations(state, key, n: int):
        bests, means = [], []
        for k in jax.random.split(key, n):
            k_ask, k_fit, k_tell = jax.random.split(k, 3)
            xs, state = ask(k_ask, state)
            fit = pool.evaluate(np.asarray(xs), np.asarray(jax.random.key_data(k_fit)))
            state = tell(xs, jnp.asarray(fit), state, k_tell)
            bests.append(best(state))
            means.append(jnp.mean(jnp.asarray(fit)))
        return state, (jnp.stack(bests), jnp.stack(means))

    return generations


def run_blur_cma(cfg: BlurCmaConfig, out: str | Path = "runs", *, progress: bool = True, resume: bool = True,
                 stop_after: int | None = None, ray: str = "", ray_workers: int = 0) -> RunResult:
    """Evolve ``cfg`` and publish ``out/<cfg.run_name>/`` (module docstring). ``stop_after`` ends after
    that many chunks with the checkpoint written and nothing published (tests of resumption). ``ray``
    (``auto``, ``local``, host:port) scores each generation's population in shards on that Ray
    cluster's actors (``ray_workers`` of them; 0: one per CPU), with the same numbers as here."""
    cfg.validate()
    t0 = time.perf_counter()
    cma, template, generations, test_accuracy = _program(dataclasses.replace(cfg, name=""))
    pool = None
    if ray:  # connected (or refused) before anything is written
        from plastix.platform.population import RayPopulation

        pool = RayPopulation(ray, ray_workers, "plastix.blur.run:shard_scorer", _program_key(cfg))
        generations = _ray_generations(cma, pool)
    try:
        return _evolve(cfg, cma, template, generations, test_accuracy, out, progress, resume, stop_after, t0)
    finally:
        if pool is not None:
            pool.close()


def _evolve(cfg, cma, template, generations, test_accuracy, out, progress, resume, stop_after, t0) -> RunResult:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    final, partial = out / cfg.run_name, out / f".{cfg.run_name}.partial"
    key = jax.random.key(cfg.seed)
    k_es, k_run, k_eval = (jax.random.fold_in(key, i) for i in (2, 3, 4))
    ckpt = open_partial(cfg, partial, resume)
    if ckpt is None:
        ckpt = {"digest": cfg.digest(), "gen": 0, "state": jax.device_get(cma.init(k_es, template)), "gens": [],
                "evals": [], "seconds": 0.0}
    state = jax.tree.map(jnp.asarray, ckpt["state"])
    bar = progress_bar(progress, cfg.generations, ckpt["gen"], cfg.run_name, "gen")
    t_mark, chunks_here = time.perf_counter(), 0
    with chunk_guard(partial, bar):
        if not ckpt["evals"]:
            ckpt["evals"].append({"generation": 0, "test_accuracy": float(test_accuracy(cma.mean_genome(state),
                                                                                         k_eval))})
        while ckpt["gen"] < cfg.generations:
            gen = ckpt["gen"]
            n = min(cfg.eval_every, cfg.generations - gen)
            state, (best, mean) = generations(state, jax.random.fold_in(k_run, gen), n)
            best, mean = np.asarray(best), np.asarray(mean)
            if not np.isfinite(mean).all():
                from plastix.rundir import NonFiniteError

                raise NonFiniteError(f"non-finite fitness in generations {gen + 1}–{gen + n}; lower --sigma0 "
                                     f"(now {cfg.sigma0})")
            ckpt["gens"] += [{"generation": gen + i + 1, "best": float(b), "mean": float(m)}
                             for i, (b, m) in enumerate(zip(best, mean))]
            ckpt["gen"] = gen + n
            acc = float(test_accuracy(cma.mean_genome(state), jax.random.fold_in(k_eval, ckpt["gen"])))
            ckpt["evals"].append({"generation": ckpt["gen"], "test_accuracy": acc})
            ckpt["state"] = jax.device_get(state)
            ckpt["seconds"] += time.perf_counter() - t_mark
            t_mark = time.perf_counter()
            atomic_write_bytes(partial / "checkpoint.pkl", pickle.dumps(ckpt))
            chunks_here += 1
            if bar is not None:
                bar.update(n)
                bar.set_postfix(best=f"{best[-1]:.3f}", test=f"{acc:.3f}")
            if stop_after is not None and chunks_here >= stop_after:
                return RunResult(partial, pd.DataFrame(), {"stopped_at": ckpt["gen"]}, time.perf_counter() - t0)
    return _publish(cfg, cma, state, ckpt, k_eval, partial, final, time.perf_counter() - t0)


def _sgd_table(task: str, sgd: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame([{"task": task, "momentum": m, "lr": lr, "step": t, "test_accuracy": float(sgd[i, j, t])}
                         for i, m in enumerate(MOMENTA) for j, lr in enumerate(LRS) for t in range(sgd.shape[-1])])


def _curve_plot(path: Path, title: str, blur: np.ndarray, sgd: np.ndarray) -> dict:
    """Plot BLUR against the best-rate SGD curves; returns {momentum: (best lr, curve)}."""
    from plastix.plotting import plot_curves

    best = dict(zip(MOMENTA, best_rates(sgd)))
    steps = np.arange(len(blur))
    curves = {"BLUR (final mean genome)": (steps, blur[None])}
    curves.update({f"SGD{' + momentum 0.9' if m else ''}, best lr {lr:g}": (steps, c[None]) for m, (lr, c) in best.items()})
    plot_curves(curves, path, xlabel="inner step", ylabel="test accuracy", title=title)
    return best


def _publish(cfg, cma, state, ckpt, k_eval, partial: Path, final: Path, seconds: float) -> RunResult:
    from plastix.plotting import plot_curves

    mean_g = cma.mean_genome(state)
    own = (cfg.dataset, cfg.side, cfg.classes)
    curve, sgd = evaluate_genome(cfg, mean_g, own, jax.random.fold_in(k_eval, 10**6), cfg.curve_steps)
    sgd_t = _sgd_table("evolution task", sgd)
    gens, evals = pd.DataFrame(ckpt["gens"]), pd.DataFrame(ckpt["evals"])
    curve_t = pd.DataFrame({"step": np.arange(cfg.curve_steps + 1), "test_accuracy": curve})
    save_genome(jax.device_get(mean_g), partial / "genome.npz")
    save_genome(jax.device_get(cma.best_genome(state)), partial / "best_genome.npz")
    summary = {"run": cfg.run_name, "generations": int(ckpt["gen"]), "seconds": round(ckpt["seconds"], 1),
               "final_test_accuracy": float(evals.test_accuracy.iloc[-1]),
               "best_test_accuracy": float(evals.test_accuracy.max()),
               "best_fitness": float(gens.best.iloc[-1]), "final_mean_fitness": float(gens["mean"].iloc[-1]),
               f"curve_accuracy_at_{cfg.n_support}": float(curve[cfg.n_support]) if cfg.curve_steps >= cfg.n_support
               else None, "curve_accuracy_last": float(curve[-1])}
    best = _curve_plot(partial / "curve.png", f"{cfg.run_name}: BLUR against SGD (same net, same batches)", curve, sgd)
    n = min(cfg.n_support, cfg.curve_steps)
    for m, (lr, c) in best.items():
        tag = "sgd" if m == 0 else "sgd_momentum"
        summary[f"{tag}_best_lr"] = lr
        summary[f"{tag}_accuracy_at_{cfg.n_support}"] = float(c[n])
        summary[f"{tag}_accuracy_last"] = float(c[-1])
    transfer_rows, sgd_tables = [], [sgd_t]
    for i, spec in enumerate(cfg.transfer):
        task = parse_transfer(spec)
        blur_t, sgd_x = evaluate_genome(cfg, mean_g, task, jax.random.fold_in(k_eval, 10**6 + 1 + i), cfg.curve_steps)
        tag = transfer_slug(spec)
        best_t = _curve_plot(partial / f"transfer-{tag}.png", f"{cfg.run_name} → {spec} (not seen in evolution)",
                             blur_t, sgd_x)
        transfer_rows += [{"task": spec, "step": t, "test_accuracy": float(v)} for t, v in enumerate(blur_t)]
        sgd_tables.append(_sgd_table(spec, sgd_x))
        summary[f"transfer_{tag}_blur_at_{cfg.n_support}"] = float(blur_t[n])
        summary[f"transfer_{tag}_blur_last"] = float(blur_t[-1])
        for m, (lr, c) in best_t.items():
            summary[f"transfer_{tag}_{'sgd' if m == 0 else 'sgd_momentum'}_at_{cfg.n_support}"] = float(c[n])
            summary[f"transfer_{tag}_{'sgd' if m == 0 else 'sgd_momentum'}_last"] = float(c[-1])
    sgd_t = pd.concat(sgd_tables, ignore_index=True)
    (partial / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")
    gens.to_parquet(partial / "generations.parquet", index=False)
    evals.to_parquet(partial / "metrics.parquet", index=False)
    curve_t.to_parquet(partial / "curve.parquet", index=False)
    sgd_t.to_parquet(partial / "sgd.parquet", index=False)
    if transfer_rows:
        pd.DataFrame(transfer_rows).to_parquet(partial / "transfer.parquet", index=False)
    (partial / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    x = gens.generation.to_numpy()
    plot_curves({"best so far": (x, gens.best.to_numpy()[None]), "population mean": (x, gens["mean"].to_numpy()[None]),
                 "test (mean genome)": (evals.generation.to_numpy(), evals.test_accuracy.to_numpy()[None])},
                partial / "fitness.png", xlabel="generation", ylabel="accuracy",
                title=f"BLUR CMA-ES · {cfg.dataset} {cfg.side or ''} · P={cfg.population}")
    publish_dir(cfg, partial, final)
    return RunResult(final, evals, summary, seconds)
