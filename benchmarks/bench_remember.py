"""Learning to remember: inner-loop ticks per second and meta-steps per second (issue 8), one core,
compilation excluded (spec remember.md; there is no reference implementation to compare with — the
paper released no code).

* inner loop: forward recall of fresh streams (no gradient), stream-ticks per second, where one
  stream-tick updates every neuron and every synapse of one network once;
* meta-step: one window of every stream (16 frames × K ticks), gradient through it, Adam update —
  a ``lax.scan`` of ``--chunk`` meta-steps compiled once (the compile count is checked).

    python benchmarks/bench_remember.py [--repeats 5] [--chunk 20]
"""

from __future__ import annotations

import argparse
import dataclasses

from _common import machine_line, median_time

import jax

from plastix.experiments import get_experiment
from plastix.remember.task import sample_batch
from plastix.remember.train import n_params, run_episode, trainer_for

SETTINGS = {  # label: overrides of remember/recall
    "recall (n_hid 16, F_w 16, batch 16)": {},
    "spec default (n_hid 32, F_w 32, batch 32)": {"n_hid": 32, "fw_hidden": 32, "batch": 32},
}
BASELINES = ("hebbian", "lstm", "fastweights")


def measure(cfg, chunk: int, repeats: int) -> dict:
    tr = trainer_for(dataclasses.replace(cfg, log_every=chunk))
    ts = tr.init(jax.random.key(0))
    jax.block_until_ready(tr.chunk(ts, jax.random.key(1)))
    t_meta = median_time(lambda: jax.block_until_ready(tr.chunk(ts, jax.random.key(1))), repeats) / chunk
    assert tr.chunk._cache_size() == 1, "the meta-step chunk retraced"
    ep = sample_batch(jax.random.key(2), cfg.task, 256)
    fresh = jax.vmap(lambda k: tr.model.init_state(ts.params, k))(jax.random.split(jax.random.key(3), 256))
    fwd = jax.jit(jax.vmap(lambda s, e: run_episode(tr.model, ts.params, s, e)[1]))
    jax.block_until_ready(fwd(fresh, ep))
    t_fwd = median_time(lambda: jax.block_until_ready(fwd(fresh, ep)), repeats)
    ticks = getattr(tr.model, "cfg", None).ticks if hasattr(tr.model, "cfg") else 1
    return {"meta_ms": 1000 * t_meta, "meta_per_s": 1 / t_meta,
            "stream_ticks_per_s": 256 * cfg.task.length * ticks / t_fwd, "params": n_params(ts.params)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--chunk", type=int, default=20)
    args = ap.parse_args()
    base = get_experiment("remember/recall").config
    print(machine_line(args.repeats))
    print("| model | setting | trained params | ms / meta-step | meta-steps/s | inner loop: stream-ticks/s |")
    print("|---|---|---|---|---|---|")
    rows = [("rule", label, dataclasses.replace(base, **ov)) for label, ov in SETTINGS.items()]
    rows += [(m, "recall", dataclasses.replace(base, model=m)) for m in BASELINES]
    for model, label, cfg in rows:
        r = measure(cfg, args.chunk, args.repeats)
        print(f"| {model} | {label} | {r['params']} | {r['meta_ms']:.1f} | {r['meta_per_s']:.1f} | "
              f"{r['stream_ticks_per_s']:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
