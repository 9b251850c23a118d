"""``plastix remember`` (a custom remembering run) and the ``remember/*`` experiments' reporting."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import tyro

from plastix.remember.config import RememberConfig

__all__ = ["remember", "report_remember", "write_recall_table"]


def remember(cfg: tyro.conf.OmitArgPrefixes[RememberConfig], out: Path = Path("runs"), progress: bool = True,
             fresh: bool = False) -> None:
    """Meta-train a Gregor-style plastic substrate (or a baseline) to remember key → value snippets. A
    finished run of the same config is skipped, an interrupted one resumes from its checkpoint.

    Args:
        cfg: the remembering configuration (a reconstruction of Gregor's learned memory rules, not the
            paper's exact method).
        out: parent directory for run directories.
        progress: show a progress bar.
        fresh: start over: recompute a finished run, ignore an interrupted one's checkpoint.
    """
    from plastix.platform.store import check_out_dir, run_unless_finished

    cfg.validate()
    check_out_dir(out)
    run_unless_finished(cfg, out, fresh=fresh, progress=progress)


def report_remember(res) -> None:
    s = res.summary
    print(f"{s['model']}: {s['meta_steps']} meta-steps in {s['train_seconds']:.0f} s "
          f"({1000 * s['seconds_per_meta_step']:.0f} ms each), {s['trained_parameters']} trained parameters, "
          f"{s['dynamic_state']} dynamic state variables; training bit accuracy {s['final_train_bit_accuracy']:.3f}")
    print(f"  recall vs delay: {s['recall_vs_delay']}")
    print(f"  recall vs N:     {s['recall_vs_n']}")
    print(f"results: {Path(res.path).resolve()} (recall.png, training.png, recall.parquet)")


def write_recall_table(runs: list[Path], out: Path) -> str:
    """One table and one plot of several runs' recall (the outer-product memory once), in ``out``."""
    import json

    from plastix.remember.run import plot_recall
    from plastix.rundir import atomic_write_bytes

    frames, rows = [], []
    for i, run in enumerate(runs):
        t = pd.read_parquet(Path(run) / "recall.parquet")
        frames.append(t if i == 0 else t[t.model != "outer-product"])
        s = json.loads((Path(run) / "summary.json").read_text())
        rows.append(s)
    table = pd.concat(frames, ignore_index=True)
    cfg = json.loads((Path(runs[0]) / "config.json").read_text())
    out.mkdir(parents=True, exist_ok=True)
    wide = table.pivot_table(index=["sweep", "n", "delay"], columns="model", values="bit_accuracy", sort=False)
    lines = [f"Recall bit accuracy (fresh streams, {cfg['eval_episodes']} episodes per point; trained at "
             f"N ≤ {cfg['n_max']}, Δ ≤ {cfg['delay_max']})", "",
             "| sweep | N | Δ | " + " | ".join(wide.columns) + " |", "|---|---|---|" + "---|" * len(wide.columns)]
    for (sweep, n, d), r in wide.iterrows():
        lines.append(f"| {sweep} | {n} | {d} | " + " | ".join(f"{v:.3f}" for v in r) + " |")
    lines += ["", "| model | meta-steps | trained parameters | dynamic state | s / meta-step | final training bit acc. |",
              "|---|---|---|---|---|---|"]
    for s in rows:
        lines.append(f"| {s['model']} | {s['meta_steps']} | {s['trained_parameters']} | {s['dynamic_state']} | "
                     f"{s['seconds_per_meta_step']:.3f} | {s['final_train_bit_accuracy']:.3f} |")
    text = "\n".join(lines) + "\n"
    atomic_write_bytes(out / "recall.md", text.encode())
    table.to_csv(out / "recall.csv", index=False)
    plot_recall(table, out / "recall.png", title="recall: learned rule vs baselines",
                train_range=(cfg["n_max"], cfg["delay_max"]))
    return text
