"""COPI runner: seeds one after another, one jit-compiled epoch reused, checkpoint after every epoch.

Seeds run in sequence rather than as one ``vmap``: on the 2-core CPU the batched matmuls of five
vmapped 784-500×6-10 networks ran ~25 % slower per seed than one network at a time (16.2 vs
13.2 ms per batch), and a sequential loop lets the ``retry_lower_lambda`` policy restart one seed
alone. :func:`plastix.copi.train.make_trainer`'s functions are pure, so ``vmap`` over seeds
gives the same numbers (``tests/test_copi.py``).

Run directory (published only when complete, as for every plastix run): ``config.json``,
``metrics.parquet`` (seed, epoch, train/test accuracy and MSE, mean batch loss, status),
``summary.json`` (per seed: status, λ used, failure point, peak test/train accuracy, epoch of
peak, epochs to 99 % of peak, final accuracy; means and stds over the finished seeds) and
``curve.png`` (test and train accuracy per epoch).
"""

from __future__ import annotations

import dataclasses
import pickle
import time
from functools import lru_cache
import warnings
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from plastix.validation import ConfigError
from plastix.copi.config import CopiConfig
from plastix.copi.train import make_trainer
from plastix.datasets import Dataset, load
from plastix.rundir import (RunResult, atomic_write_bytes, atomic_write_npz, earlier_seconds, open_partial, publish_dir,
                            write_run_files)

METRICS = ("train_acc", "test_acc", "train_mse", "test_mse", "loss")


def seed_key(seed: int) -> jax.Array:
    return jax.random.key(seed)


@lru_cache(maxsize=8)
def compiled(cfg: CopiConfig, dim: int, n_classes: int, lam: float):
    """The trainer and its jitted epoch / evaluation, shared by every seed of a config (one compilation)."""
    tr = make_trainer(cfg, dim, n_classes, lam)
    return tr, jax.jit(tr.epoch, static_argnames="learn_w"), jax.jit(tr.evaluate)


def train_seed(cfg: CopiConfig, ds: Dataset, seed: int, lam: float, start: dict | None = None,
               on_epoch=None) -> dict[str, Any]:
    """Train one seed; returns ``{"rows": [...], "state": final state, "status", "fail"}``.

    ``start`` resumes from a checkpoint (``{"state", "rows", "next"}``); ``on_epoch(progress, epochs)``
    is called after every epoch with a resumable snapshot and the number of epochs it accounts for.
    A diverged seed stops at once; its remaining entries are written as missing.
    """
    tr, epoch_fn, evaluate = compiled(cfg, ds.dim, ds.n_classes, lam)
    k_init, k_data = jax.random.split(seed_key(seed))
    x, y = jnp.asarray(ds.x_train), jnp.asarray(ds.y_train)
    xt, yt = jnp.asarray(ds.x_test), jnp.asarray(ds.y_test)
    if start is None:
        state, rows, nxt = tr.init(k_init), [], 0
    else:
        state, rows, nxt = jax.tree.map(jnp.asarray, start["state"]), list(start["rows"]), start["next"]
    warmup, total = cfg.warmup_r_epochs, cfg.warmup_r_epochs + cfg.epochs
    if nxt == 0 and warmup == 0:  # entry 0: W at init
        rows += _measure(evaluate, state, x, y, xt, yt, seed, 0, np.nan)
    for e in range(nxt, total):
        state, loss = epoch_fn(state, x, y, jax.random.fold_in(k_data, e), e - warmup + 1, learn_w=e >= warmup)
        if e == warmup - 1:  # entry 0: after the R-only warm-up, W still at init
            rows += _measure(evaluate, state, x, y, xt, yt, seed, 0, np.nan)
        elif e >= warmup:
            rows += _measure(evaluate, state, x, y, xt, yt, seed, e - warmup + 1, float(loss))
        done = e + 1
        if bool(state.diverged):  # frozen for good: the remaining entries are missing, no need to compute them
            rows += [r for i in range(max(e - warmup + 2, 1), cfg.epochs + 1)
                     for r in _measure(evaluate, state, x, y, xt, yt, seed, i, np.nan)]
            done = total
        if on_epoch is not None:
            on_epoch({"state": jax.tree.map(np.asarray, state), "rows": rows, "next": done}, done - e)
        if done == total:
            break
    rows.sort(key=lambda r: r["epoch"])
    diverged = bool(state.diverged)
    fail = None
    if diverged:
        fail = [int(state.fail_epoch), int(state.fail_batch)]
        fail.append(failing_layer(cfg, ds, lam, state, k_data, *fail))
    return {"rows": rows, "state": state, "status": "diverged" if diverged else "finished", "fail": fail}


def failing_layer(cfg: CopiConfig, ds: Dataset, lam: float, state, k_data, epoch: int, batch: int) -> int:
    """The first layer (from 1) whose weights are non-finite: in the frozen state, or else after
    replaying the failing batch without the guard (the run is deterministic); 0 if none is."""
    def first_bad(params) -> int:
        for l, w in enumerate(params["W"]):
            r = params["R"][l] if params["R"] is not None else w
            if not (np.isfinite(np.asarray(w)).all() and np.isfinite(np.asarray(r)).all()):
                return l + 1
        return 0

    bad = first_bad(state.params)
    if bad:
        return bad
    tr = make_trainer(dataclasses.replace(cfg, guard=False), ds.dim, ds.n_classes, lam)
    idx = tr.batch_order(jax.random.fold_in(k_data, epoch + cfg.warmup_r_epochs - 1), ds.x_train.shape[0])[batch]
    xb = jnp.asarray(ds.x_train)[idx]
    tb = jax.nn.one_hot(jnp.asarray(ds.y_train)[idx], ds.n_classes, dtype=xb.dtype)
    new, _ = tr.step(state, xb, tb, epoch >= 1)
    return first_bad(new.params)


def _measure(evaluate, state, x, y, xt, yt, seed, epoch, loss) -> list[dict]:
    if bool(state.diverged):
        vals = dict.fromkeys(METRICS, np.nan)
    else:
        tr_acc, tr_mse = evaluate(state.params, x, y)
        te_acc, te_mse = evaluate(state.params, xt, yt)
        vals = {"train_acc": float(tr_acc), "test_acc": float(te_acc), "train_mse": float(tr_mse),
                "test_mse": float(te_mse), "loss": loss}
    return [{"seed": seed, "epoch": epoch, **vals}]


def peak_stats(acc: np.ndarray) -> dict[str, float]:
    """Peak accuracy, its epoch (first maximum; entry 0 = after the warm-up) and the first epoch
    reaching 99 % of the peak, for one curve indexed by epoch."""
    if not np.isfinite(acc).any():
        return {"peak": float("nan"), "epoch_of_peak": float("nan"), "epochs_to_99": float("nan")}
    a = np.where(np.isfinite(acc), acc, -np.inf)
    peak = float(a.max())
    return {"peak": peak, "epoch_of_peak": int(np.argmax(a)), "epochs_to_99": int(np.argmax(a >= 0.99 * peak))}


def summarize(cfg: CopiConfig, frame: pd.DataFrame, seeds_info: dict[int, dict]) -> dict[str, Any]:
    per_seed = {}
    for seed, g in frame.groupby("seed"):
        g = g.sort_values("epoch")
        te, trn = peak_stats(g["test_acc"].to_numpy()), peak_stats(g["train_acc"].to_numpy())
        per_seed[int(seed)] = {
            **seeds_info[int(seed)],
            "peak_test_acc": te["peak"], "epoch_of_peak_test": te["epoch_of_peak"], "epochs_to_99_test": te["epochs_to_99"],
            "peak_train_acc": trn["peak"], "epoch_of_peak_train": trn["epoch_of_peak"],
            "epochs_to_99_train": trn["epochs_to_99"],
            "final_test_acc": float(g["test_acc"].iloc[-1]), "final_train_acc": float(g["train_acc"].iloc[-1]),
        }
    finished = [s for s in per_seed.values() if s["status"] == "finished"]
    out: dict[str, Any] = {"config": cfg.run_name, "dataset": cfg.dataset, "seeds": per_seed,
                           "n_finished": len(finished), "n_diverged": len(per_seed) - len(finished)}
    for k in ("peak_test_acc", "epoch_of_peak_test", "epochs_to_99_test", "peak_train_acc", "epoch_of_peak_train",
              "final_test_acc", "final_train_acc"):
        v = np.array([s[k] for s in finished], float)
        out[f"{k}_mean"] = float(v.mean()) if v.size else float("nan")
        out[f"{k}_std"] = float(v.std()) if v.size else float("nan")
    return out


def run_copi(cfg: CopiConfig, out: str | Path = "runs", *, progress: bool = True, resume: bool = True,
             data: Dataset | None = None) -> RunResult:
    """Train ``cfg`` for all its seeds and publish ``out/<cfg.run_name>/``.

    Raises :class:`~plastix.datasets.DataError` for a missing/malformed dataset (before any output).
    Diverged seeds do not stop the run: they are recorded with status ``"diverged"`` and a warning.
    """
    t0 = time.perf_counter()
    cfg.validate()
    if cfg.dtype == "float64" and not jax.config.jax_enable_x64:
        jax.config.update("jax_enable_x64", True)  # process-wide: float64 runs need JAX's 64-bit mode
    ds = data if data is not None else load(cfg.dataset, cfg.data_dir or None, cfg.validation)
    if ds.x_train.shape[0] < cfg.batch_size:
        raise ConfigError("batch_size", f"{cfg.batch_size} is more than the {ds.x_train.shape[0]} training "
                          f"images of {ds.name!r}; allowed: 1 to {ds.x_train.shape[0]}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    final, partial = out / cfg.run_name, out / f".{cfg.run_name}.partial"
    ckpt_path = partial / "checkpoint.pkl"
    ckpt = open_partial(cfg, partial, resume) or {"digest": cfg.digest(), "done": {}, "current": None}
    before = earlier_seconds(ckpt)
    total = cfg.seeds * (cfg.warmup_r_epochs + cfg.epochs)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc=cfg.run_name, unit="epoch", leave=False, dynamic_ncols=True)
        bar.update(sum((cfg.warmup_r_epochs + cfg.epochs) for _ in ckpt["done"]))
    try:
        for seed in range(cfg.seed, cfg.seed + cfg.seeds):
            if seed in ckpt["done"]:
                continue
            cur = ckpt["current"] if ckpt["current"] and ckpt["current"]["seed"] == seed else None
            lam = cur["lam"] if cur else cfg.loss_multiplier
            retries = cur["retries"] if cur else 0
            start = cur["progress"] if cur else None
            if bar is not None and start:
                bar.update(start["next"])
            while True:
                def save(p, advanced=1, seed=seed, lam=lam, retries=retries):
                    ckpt["current"] = {"seed": seed, "lam": lam, "retries": retries, "progress": p}
                    ckpt["seconds"] = before + time.perf_counter() - t0
                    atomic_write_bytes(ckpt_path, pickle.dumps(ckpt))
                    if bar is not None:
                        bar.update(advanced)
                res = train_seed(cfg, ds, seed, lam, start, save)
                start = None
                if res["status"] == "diverged" and cfg.divergence_policy == "retry_lower_lambda" and retries < 2:
                    warnings.warn(f"{cfg.run_name}: seed {seed} diverged at {_failure(res['fail'])} with λ={lam:g}; "
                                  f"retrying with λ={lam / 10:g}", UserWarning, stacklevel=2)
                    lam, retries = lam / 10, retries + 1
                    if bar is not None:
                        bar.update(-(cfg.warmup_r_epochs + cfg.epochs))
                    continue
                break
            if res["status"] == "diverged":
                warnings.warn(f"{cfg.run_name}: seed {seed} diverged (non-finite values) at {_failure(res['fail'])} "
                              f"(λ={lam:g}); its later metrics are missing", UserWarning, stacklevel=2)
            save_params(partial / f"params_seed{seed}.npz", res["state"].params)
            ckpt["done"][seed] = {"rows": res["rows"], "info": {"status": res["status"], "lambda": lam,
                                                                "fail_epoch_batch_layer": res["fail"]}}
            ckpt["current"] = None
            ckpt["seconds"] = before + time.perf_counter() - t0
            atomic_write_bytes(ckpt_path, pickle.dumps(ckpt))
    finally:
        if bar is not None:
            bar.close()

    rows = [r for s in sorted(ckpt["done"]) for r in ckpt["done"][s]["rows"]]
    frame = pd.DataFrame(rows)
    status = {s: ckpt["done"][s]["info"]["status"] for s in ckpt["done"]}
    frame["status"] = frame["seed"].map(status)
    summary = summarize(cfg, frame, {s: v["info"] for s, v in ckpt["done"].items()})
    summary["wall_seconds"] = before + time.perf_counter() - t0  # resumed runs: every process's share
    write_run_files(cfg, partial, frame, summary)
    plot_run(cfg, frame, partial / "curve.png")
    publish_dir(cfg, partial, final)
    return RunResult(final, frame, summary, summary["wall_seconds"])


def _failure(fail: list[int]) -> str:
    return f"epoch {fail[0]}, batch {fail[1]}, layer {fail[2]}"


def save_params(path: Path, params: dict) -> None:
    """Final weights of one seed as ``.npz`` (``W0 … W{L-1}``, ``R0 …`` when decorrelating), atomically."""
    arrays = {f"W{i}": np.asarray(w) for i, w in enumerate(params["W"])}
    if params["R"] is not None:
        arrays.update({f"R{i}": np.asarray(r) for i, r in enumerate(params["R"])})
    atomic_write_npz(path, arrays)


def load_params(path: str | Path) -> dict:
    """Read :func:`save_params` output back as ``{"W": (…), "R": (…) or None}`` (JAX arrays)."""
    with np.load(path) as z:
        n = sum(1 for k in z.files if k.startswith("W"))
        W = tuple(jnp.asarray(z[f"W{i}"]) for i in range(n))
        R = tuple(jnp.asarray(z[f"R{i}"]) for i in range(n)) if "R0" in z.files else None
    return {"W": W, "R": R}


def load_copi_run(path: str | Path) -> tuple[CopiConfig, pd.DataFrame, dict]:
    """A published COPI run directory: (config, metrics, summary)."""
    import json

    path = Path(path)
    cfg = CopiConfig.from_dict(json.loads((path / "config.json").read_text()))
    return cfg, pd.read_parquet(path / "metrics.parquet"), json.loads((path / "summary.json").read_text())


def curves(frame: pd.DataFrame, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """``(epochs, values (seeds, epochs))`` of one metric from a metrics frame."""
    wide = frame.pivot(index="seed", columns="epoch", values=metric)
    return wide.columns.to_numpy(), wide.to_numpy(float)


def plot_run(cfg: CopiConfig, frame: pd.DataFrame, path: Path) -> None:
    from plastix.plotting import plot_curves

    plot_curves({f"test ({cfg.dataset})": curves(frame, "test_acc"), "train": curves(frame, "train_acc")}, path,
                xlabel="epoch (0 = after the R warm-up)", ylabel="accuracy",
                title=f"{cfg.weight_rule}/{cfg.perturbation}/{cfg.decorrelation} · λ={cfg.loss_multiplier:g} "
                      f"η={cfg.eta:g}")
