"""Scaling with width: does a rule keep its learning speed as the hidden layer grows?

The UWM report (Chung 2023) claims UWM keeps its learning speed as the network grows while
REINFORCE slows down. This script trains each rule with first hidden layers of 16, 64, 256 and
1024 units (second hidden layer 32), batch 1, on the multiplexer, and reports the mean reward over
the whole run (area under the learning curve, the papers' metric) and the final accuracy, with one
plot of mean reward over the run against width.

    python examples/width_scaling.py --bits 11 --samples 200000 --seeds 5 --out scaling
    python examples/width_scaling.py --quick            # a minute-long smoke version
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from plastix.runtime import configure


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bits", type=int, default=11)
    ap.add_argument("--samples", type=int, default=200_000)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--widths", type=int, nargs="+", default=[16, 64, 256, 1024])
    ap.add_argument("--rules", nargs="+", default=["reinforce", "uwm", "weight_max"])
    ap.add_argument("--out", type=Path, default=Path("scaling"))
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.samples, args.seeds, args.widths = 2_000, 2, [16, 64]
    configure()

    from plastix import TrainConfig
    from plastix.compare import comparison_table, markdown_table
    from plastix.plotting import plot_curves  # noqa: F401  (matplotlib backend set there)
    from plastix.teams.runner import atomic_write_bytes, load_run, run

    runs = {}
    for rule in args.rules:
        for w in args.widths:
            cfg = TrainConfig(task="multiplexer", bits=args.bits, rule=rule, hidden=(w, 32), lr=(1e-2, 1e-3, 1e-4),
                              batch=1, steps=args.samples, seeds=args.seeds, name=f"{rule}-w{w}")
            res = run(cfg, args.out / "runs", progress=not args.quick)
            runs[f"{rule}-w{w}"] = load_run(res.path)
            print(f"{rule:>10} width {w:>5}: mean reward over run "
                  f"{np.mean(res.summary['mean_reward_over_run']):.3f}, final accuracy "
                  f"{res.summary['final_accuracy_mean']:.3f}, {res.seconds:.0f} s", flush=True)
    table = comparison_table(runs)
    table.insert(2, "width", [int(h.split("x")[0]) for h in table.hidden])
    atomic_write_bytes(args.out / "scaling.csv", table.to_csv(index=False).encode())
    atomic_write_bytes(args.out / "scaling.md", markdown_table(table).encode())

    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.6, 3.8), dpi=120)
    for rule in args.rules:
        t = table[table.rule == rule]
        ax.errorbar(t.width, t.mean_reward_over_run, yerr=t.mean_reward_over_run_std, marker="o", capsize=3,
                    label=rule)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("first hidden layer width")
    ax.set_ylabel("mean reward over the run")
    ax.set_title(f"{args.bits}-bit multiplexer, batch 1, {args.samples:,} samples, {args.seeds} seeds")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out / "scaling.png")
    print(markdown_table(table[["rule", "width", "mean_reward_over_run", "mean_reward_over_run_std",
                                "final_accuracy_mean", "median_samples_to_90"]]))
    print(f"results: {(args.out / 'scaling.md').resolve()}, plot: {(args.out / 'scaling.png').resolve()}")


if __name__ == "__main__":
    main()
