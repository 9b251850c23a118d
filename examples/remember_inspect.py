"""Inspect a meta-learned (Gregor-style) synapse rule: serial position, online interference, how Hebbian it is.

Takes a published ``plastix run remember/recall`` directory (or, with ``--quick``, an untrained tiny
rule) and measures, with the plastix API, what spec remember.md §6.2 asks a user to be able to see:

* **the serial-position curve** — recall of the snippet written first, second, … last (N = n_max,
  Δ = delay_max): an overwriting memory recalls only the last one, a superposing one is flat. This
  one works for every run, baselines (``remember/recall-lstm``, ``-fastweights`` …) included;
* **online interference** — recall bit accuracy in the k-th consecutive window of a stream that is
  never reset (k = 1 … 8): how well the rule overwrites or forgets older snippets;
* **how Hebbian the learned rule is** — a least-squares regression of every synapse's change
  ``Δw_ij`` during the write frames on local features: its own state ``w_ij`` alone, then adding the
  pre × post products ``s_i[a]·s_j[b]`` (R² of each; the gain is the Hebbian share).

    python examples/remember_inspect.py --run runs/remember-recall [--streams 256] [--episodes 1000] [--quick]
"""

from __future__ import annotations

import argparse
import json
import pickle
import tempfile
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from plastix.remember.config import RememberConfig
from plastix.remember.task import sample_batch
from plastix.remember.train import make_model, recall_by_position, recall_metrics, run_episode


def interference(model, params, cfg: RememberConfig, streams: int, windows: int = 8) -> list[float]:
    """Bit accuracy in windows 1..``windows`` of never-reset streams (N = n_max, Δ = delay_max)."""
    task = cfg.task
    fixed = task.fixed(task.n_max, task.delay_max)
    state = jax.vmap(lambda k: model.init_state(params, k))(jax.random.split(jax.random.key(1), streams))
    window = jax.jit(jax.vmap(lambda s, e: run_episode(model, params, s, e)))
    acc = []
    for w in range(windows):
        ep = sample_batch(jax.random.key(100 + w), fixed, streams)
        state, logits = window(state, ep)
        m = jax.vmap(recall_metrics)(logits, ep)
        acc.append(float(m["bits"].sum() / m["reads"].sum()))
    return acc


def hebbian_share(model, params, cfg: RememberConfig, streams: int) -> tuple[float, float]:
    """R² of Δw on (w) and on (w, s_i ⊗ s_j, s_i, s_j) over the synapses' write-phase ticks."""
    ep = sample_batch(jax.random.key(2), cfg.task, streams)

    def one(st, e):  # the first (write) frame's ticks: record (w before, s after the neuron update, w after)
        xi = jnp.concatenate([e.frames[0], jnp.zeros(model.n - model.n_in)])
        rows = []
        for _ in range(model.cfg.ticks):
            s = model.neuron_update(params, st.s, model.messages(params, st), xi)
            w_new = model.synapse_update(params, st.w, s)
            rows.append((st.w, s, w_new))
            st = type(st)(s, w_new)
        return rows

    rows = jax.jit(jax.vmap(one))(jax.vmap(lambda k: model.init_state(params, k))(
        jax.random.split(jax.random.key(3), streams)), ep)
    mask = model.mask
    X0, X1, Y = [], [], []
    for w, s, w_new in rows:
        w, s, w_new = (np.asarray(a) for a in (w, s, w_new))
        pre, post = s[:, :, None, :], s[:, None, model.n_in:, :]  # (B, n, 1, d_a), (B, 1, R, d_a)
        pre, post = np.broadcast_to(pre, w.shape[:3] + (s.shape[-1],)), np.broadcast_to(post, w.shape[:3] + (s.shape[-1],))
        prod = (pre[..., :, None] * post[..., None, :]).reshape(w.shape[:3] + (-1,))
        sel = np.broadcast_to(mask, w.shape[:3])
        X0.append(w[sel])
        X1.append(np.concatenate([w, prod, pre, post], -1)[sel])
        Y.append((w_new - w)[sel])
    X0, X1, Y = (np.concatenate(a) for a in (X0, X1, Y))

    def r2(X):
        X = np.concatenate([X, np.ones((len(X), 1))], 1)
        coef, *_ = np.linalg.lstsq(X, Y, rcond=None)
        return float(1 - ((Y - X @ coef) ** 2).sum() / ((Y - Y.mean(0)) ** 2).sum())

    return r2(X0), r2(X1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, help="a published remember run directory")
    ap.add_argument("--streams", type=int, default=256)
    ap.add_argument("--episodes", type=int, default=1000, help="episodes of the serial-position curve")
    ap.add_argument("--quick", action="store_true", help="inspect a tiny untrained rule instead (smoke test)")
    args = ap.parse_args()
    if args.quick:  # an untrained tiny rule written in the run-directory layout
        from plastix.experiments import get_experiment

        cfg = get_experiment("remember/smoke").config
        args.run = Path(tempfile.mkdtemp())
        (args.run / "config.json").write_text(json.dumps(cfg.to_dict()))
        (args.run / "params.pkl").write_bytes(pickle.dumps(make_model(cfg).init(jax.random.key(0))))
        args.streams, args.episodes = 16, 16
    if args.run is None:
        ap.error("--run: give a run directory (plastix run remember/recall) or --quick")
    for f in ("config.json", "params.pkl"):
        if not (args.run / f).is_file():
            ap.error(f"--run: {args.run / f} is missing; give a finished remember run directory")
    cfg = RememberConfig.from_dict(json.loads((args.run / "config.json").read_text()))
    model = make_model(cfg)
    params = pickle.loads((args.run / "params.pkl").read_bytes())
    curve = recall_by_position(model, params, cfg.task, jax.random.key(4), cfg.n_max, cfg.delay_max, args.episodes,
                               chunk=min(250, args.episodes))
    print(f"serial position ({cfg.model}, N = {cfg.n_max}, Δ = {cfg.delay_max}, {args.episodes} episodes; "
          "position 1 = written first):")
    print("| position | " + " | ".join(str(c["position"] + 1) for c in curve) + " |")
    print("|---" * (len(curve) + 1) + "|")
    print("| bit accuracy | " + " | ".join(f"{c['bit_accuracy']:.3f} ± {c['bit_accuracy_se']:.3f}" for c in curve)
          + " |")
    if cfg.model not in ("rule", "hebbian", "frozen"):
        return  # interference and Δw regressions read the substrate's synapses
    acc = interference(model, params, cfg, args.streams)
    print(f"online interference (N = {cfg.n_max}, Δ = {cfg.delay_max}, window k since the last reset):")
    print("| window | " + " | ".join(str(k + 1) for k in range(len(acc))) + " |")
    print("|---" * (len(acc) + 1) + "|")
    print("| bit accuracy | " + " | ".join(f"{a:.3f}" for a in acc) + " |")
    if cfg.model == "frozen":
        return
    r_own, r_hebb = hebbian_share(model, params, cfg, args.streams)
    print(f"Δw during the first write frame: R² on its own state {r_own:.3f}; with pre × post products and "
          f"the endpoint states {r_hebb:.3f}")


if __name__ == "__main__":
    main()
