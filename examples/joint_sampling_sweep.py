"""The search behind the joint-sampling rows of the coordinated-exploration table: mean reward over
the run against the number of Gibbs sweeps K (or recurrent steps T), from `plastix sweep` results.

Run the sweeps first (3 seeds × 100k samples on the 11-bit multiplexer; 2 cores: about 25 min):

    plastix sweep coordinated/boltzmann-joint-multiplexer11 --seeds 3 --out sweeps/joint \\
        --grid steps=100000 sweeps=1,3,10,30 anneal=1,2 bm_rule=hebbian,chain \\
               lr=1e-2:1e-3:1e-4,3e-2:3e-3:3e-4
    plastix sweep coordinated/boltzmann-joint-multiplexer11 --seeds 3 --out sweeps/joint-wide \\
        --grid steps=100000 sweeps=10,30 anneal=2 lr=3e-2:3e-3:3e-4,1e-1:1e-2:1e-3,3e-2:3e-2:3e-3 \\
               hidden=64:32,128:64
    plastix sweep coordinated/recurrent-feedback-multiplexer11 --seeds 3 --out sweeps/feedback \\
        --grid steps=100000 recurrent_steps=1,2,5 lr=1e-2:1e-3:1e-4,3e-3:3e-4:3e-5
    plastix sweep coordinated/reinforce-critic-multiplexer11 --seeds 3 --out sweeps/joint-baselines \\
        --grid steps=100000 lr=1e-2:1e-3:1e-4,3e-2:3e-3:3e-4      # and coordinated/ste-multiplexer11

then

    python examples/joint_sampling_sweep.py sweeps/joint sweeps/joint-wide sweeps/feedback \\
        sweeps/joint-baselines --out docs/results/coordinated-joint

It writes ``sweep.csv`` / ``sweep.md`` (one row per config: its grid values, the mean over seeds of
the mean reward over the run, its standard deviation over seeds, the final accuracy) and
``reward_vs_k.png`` (the best configuration at each K, per rule and eligibility, with the best
REINFORCE and STE of the same budget as horizontal lines).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd


FIELDS = {  # the axes of the search each rule reads
    "boltzmann_joint": ("bm_rule", "sweeps", "anneal", "hidden", "lr"),
    "recurrent_feedback": ("recurrent_steps", "anneal", "hidden", "lr"),
}


def table(dirs: list[Path]) -> pd.DataFrame:
    rows = []
    for d in dirs:
        index = pd.read_csv(d / "index.csv")
        for _, r in index[index.status == "done"].iterrows():
            cfg = json.loads((d / r["run"] / "config.json").read_text())
            used = FIELDS.get(cfg["rule"], ("hidden", "lr"))
            grid = {k: ":".join(map(str, cfg[k])) if isinstance(cfg[k], list) else cfg[k] for k in used}
            m = pd.read_parquet(d / r["run"] / "metrics.parquet")
            per_seed = m.groupby("seed")["reward"].mean()
            last = m[m.step >= m.step.max() * 0.95]
            rows.append({"rule": r["rule"], **grid, "seeds": int(r["seeds"]),
                         "mean_reward_over_run": per_seed.mean(), "std_over_seeds": per_seed.std(ddof=1),
                         "final_accuracy": last["accuracy"].mean(), "seconds": r["wall_seconds"]})
    return pd.DataFrame(rows).sort_values("mean_reward_over_run", ascending=False, ignore_index=True)


def plot(frame: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    joint = frame[frame.rule == "boltzmann_joint"]
    for rule, group in joint.groupby("bm_rule"):
        best = group.groupby("sweeps")["mean_reward_over_run"].max()
        ax.plot(best.index, best.values, "o-", label=f"boltzmann_joint, {rule} (best of its grid)")
    feedback = frame[frame.rule == "recurrent_feedback"]  # its sweeps column is unused: x is T
    if len(feedback):
        best = feedback.groupby("recurrent_steps")["mean_reward_over_run"].max()
        ax.plot(best.index, best.values, "s--", label="recurrent_feedback (x = steps T)")
    for rule, style in (("reinforce", ":"), ("ste", "-.")):
        sub = frame[frame.rule == rule]
        if len(sub):
            ax.axhline(sub.mean_reward_over_run.max(), ls=style, color="gray",
                       label=f"{rule}{' (non-local)' if rule == 'ste' else ', critic'}, best rate")
    ax.set_xscale("log")
    ax.set_xlabel("Gibbs sweeps K (recurrent steps T)")
    ax.set_ylabel("mean reward over the run")
    ax.set_title("11-bit multiplexer, 100k samples, 3 seeds")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sweeps", nargs="+", type=Path, help="sweep output directories")
    ap.add_argument("--out", type=Path, default=Path("docs/results/coordinated-joint"))
    args = ap.parse_args()
    frame = table(args.sweeps)
    args.out.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out / "sweep.csv", index=False)
    from plastix.compare import markdown_table

    shown = frame.drop(columns=["seconds"]).round(4).astype(object).where(frame.notna(), "")
    (args.out / "sweep.md").write_text(markdown_table(shown))
    plot(frame, args.out / "reward_vs_k.png")
    print(f"{len(frame)} configs; best: {frame.iloc[0].to_dict()}")
    print(f"wrote {args.out / 'sweep.csv'}, {args.out / 'sweep.md'}, {args.out / 'reward_vs_k.png'}")


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()
