"""Compare finished runs: one table (final accuracy, mean reward over the run, steps and samples to
90/95 %) and one plot of learning curves (mean ± 95 % CI over seeds). Used by the demo and by
``plastix compare RUN_DIR …``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from plastix.plotting import metric_range, plot_curves
from plastix.teams.runner import atomic_write_bytes, load_run


def comparison_table(runs: dict[str, tuple]) -> pd.DataFrame:
    """``runs[label] = (cfg, metrics frame, summary)``; one row per run."""
    rows = []
    for label, (cfg, frame, s) in runs.items():
        if cfg.is_rl:  # episodes: the papers' metric is the mean return over all training episodes
            auc, fin = np.asarray(s["mean_return_over_run"]), np.asarray(s["final_return"])
            rows.append({"run": label, "rule": cfg.rule, "task": cfg.task, "critic": cfg.critic, "seeds": len(auc),
                         "episodes": cfg.episodes, "mean_return_over_run": auc.mean(),
                         "mean_return_over_run_std": auc.std(), "final_return_mean": fin.mean(),
                         "final_return_min": fin.min(), "env_steps_mean": float(np.mean(s["env_steps"]))})
            continue
        final = "accuracy" if "final_accuracy" in s else "reward"  # regression has no accuracy
        fin = np.asarray(s[f"final_{final}"])
        auc = np.asarray(s["mean_reward_over_run"])
        row = {"run": label, "rule": cfg.rule, "hidden": "x".join(map(str, cfg.hidden)), "seeds": len(fin),
               "samples": cfg.steps * cfg.batch,
               "mean_reward_over_run": auc.mean(), "mean_reward_over_run_std": auc.std(),
               f"final_{final}_mean": fin.mean(), f"final_{final}_median": float(np.median(fin)),
               f"final_{final}_min": fin.min()}
        for thr in (90, 95):
            hits = [h for h in s.get(f"steps_to_{thr}", []) if h is not None]
            row[f"seeds_reaching_{thr}"] = len(hits)
            row[f"median_samples_to_{thr}"] = float(np.median(hits)) * cfg.batch if hits else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def markdown_table(table: pd.DataFrame) -> str:
    """A GitHub-markdown rendering of a small table (4 significant digits)."""

    def fmt(v):
        return f"{v:.4g}" if isinstance(v, (float, np.floating)) else str(v)

    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def compare(run_dirs: list[str | Path], out: str | Path, title: str = "", metric: str = "accuracy",
            labels: list[str] | None = None) -> tuple[Path, pd.DataFrame]:
    """Write ``comparison.{md,csv,png}`` for the given run directories into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    runs = {}
    for i, d in enumerate(run_dirs):
        runs[labels[i] if labels else Path(d).name] = load_run(d)
    table = comparison_table(runs)
    atomic_write_bytes(out / "comparison.csv", table.to_csv(index=False).encode())
    atomic_write_bytes(out / "comparison.md", markdown_table(table).encode())
    curves = {}
    xlabel = "samples"
    for label, (cfg, frame, _) in runs.items():
        if cfg.is_rl:
            xlabel, metric = "episode", "return"
            wide = frame.pivot(index="episode", columns="seed", values="return")
            curves[label] = (wide.index.to_numpy(), wide.to_numpy().T)
            continue
        key = metric if metric in frame else "reward"
        wide = frame.pivot(index="samples", columns="seed", values=key)
        curves[label] = (wide.index.to_numpy(), wide.to_numpy().T)
    n = max(len(x) for x, _ in curves.values())
    binary = all(not cfg.is_rl and "final_accuracy" in s for cfg, _, s in runs.values())  # two actions
    plot_curves(curves, out / "comparison.png", xlabel=xlabel, ylabel=metric, title=title, smooth=max(1, n // 50),
                bounds=metric_range(metric), chance=0.5 if metric == "accuracy" and binary else None)
    return out, table


def _thousands(v: float) -> str:
    if not np.isfinite(v):
        return "–"
    return f"{v / 1e6:.3g}M" if v >= 1e6 else f"{v / 1e3:.3g}k" if v >= 1e3 else f"{v:.0f}"


def readable_table(table: pd.DataFrame) -> pd.DataFrame:
    """The table a person reads (the README's): rule, seeds, final accuracy (mean, min), median samples to
    90 / 95 % in k; the full table stays in ``comparison.csv``. RL and reward-only tables pass unchanged."""
    if "final_accuracy_mean" not in table:
        return table
    name = ("rule", table["rule"]) if (table["run"] == table["rule"]).all() else ("run", table["run"])
    return pd.DataFrame({
        name[0]: name[1], "seeds": table["seeds"],
        "final accuracy (mean, min over seeds)": [f"{m:.3f}, {lo:.3f}" for m, lo in
                                                  zip(table.final_accuracy_mean, table.final_accuracy_min)],
        **{f"samples to {t} % (median)": [_thousands(v) for v in table[f"median_samples_to_{t}"]] for t in (90, 95)},
    })
