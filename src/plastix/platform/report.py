"""``plastix report RESULTS_DIR``: one self-contained HTML page and a markdown summary of a sweep.

For every experiment in the results directory's index: its description, source and the paper's
reference; learning curves of the headline metric (mean ± 95 % CI over seeds, Student t); the
alignment diagnostics (``align_*`` metrics: cosine of the rule's update with the exact gradient or
the STE update) when the runs logged them; a table of final metrics per config (mean ± 95 % CI over
seeds), with the measured value of the metric the experiment declares a reference number for next
to that number; and the runs that failed, with their error. Plots are embedded in the HTML as
base64 PNG (no scripts, no external files) and written beside the markdown in ``report/``.
Everything is written aside and moved into place, so a report is never half-written.
"""

from __future__ import annotations

import base64
import html
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from plastix.analysis import mean_ci95, moving_average
from plastix.platform.curves import load_curves
from plastix.plotting import metric_range
from plastix.platform.store import load_index
from plastix.rundir import atomic_write_bytes


def mean_ci(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`plastix.analysis.mean_ci95` over the first axis (seeds), with NaN (no interval) for a
    single seed; a 1-D input gives scalars."""
    values = np.asarray(values, float)
    mean, half = mean_ci95(values[:, None] if values.ndim == 1 else values)
    if values.shape[0] < 2:
        half = np.full_like(mean, np.nan)
    return (mean[0], half[0]) if values.ndim == 1 else (mean, half)


def _grid(grid_json) -> dict[str, Any]:
    return json.loads(grid_json) if isinstance(grid_json, str) and grid_json else {}


def _fmt(grid: dict[str, Any], keys) -> str:
    return ", ".join(f"{k}={':'.join(map(str, grid[k])) if isinstance(grid[k], list) else grid[k]}"
                     for k in keys if k in grid)


def _varying(grids: list[dict[str, Any]]) -> list[str]:
    """The grid keys whose value differs between configs (these label the curves)."""
    keys = sorted({k for g in grids for k in g})
    return [k for k in keys if len({json.dumps(g.get(k)) for g in grids}) > 1]


def _label(grid: dict[str, Any], varying: list[str], seeds: int) -> str:
    return f"{_fmt(grid, varying) or 'config'} ({seeds} seed{'s' if seeds != 1 else ''})"


def _groups(index: pd.DataFrame, results: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """experiment → config label → {runs, curves (long frame with seed), x, metric, metrics, summaries}."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    done = index[index.status == "done"]
    varying = {exp: _varying([_grid(g) for g in rows.grid.unique()]) for exp, rows in done.groupby("experiment")}
    for (exp, grid), rows in done.groupby(["experiment", "grid"], sort=False, dropna=False):
        frames, summaries, meta = [], [], None
        for run in rows.run:
            c = load_curves(results / run)
            meta = c
            frames.append(c.frame.assign(run=run))
            summaries.append(json.loads((results / run / "summary.json").read_text()))
        frame = pd.concat(frames, ignore_index=True)
        n_seeds = frame.groupby(["run", "seed"]).ngroups
        out.setdefault(exp, {})[_label(_grid(grid), varying[exp], n_seeds)] = {
            "frame": frame, "x": meta.x, "metric": meta.metric, "metrics": meta.metrics, "summaries": summaries,
            "runs": list(rows.run), "wall": float(rows.wall_seconds.sum())}
    return out


def _per_seed(g: dict[str, Any], metric: str) -> np.ndarray:
    """(seeds, n_points) of ``metric`` on the common x grid (seeds of several runs stacked)."""
    wide = g["frame"].pivot_table(index=g["x"], columns=["run", "seed"], values=metric)
    return wide.to_numpy().T, wide.index.to_numpy()


def _plot(groups: dict[str, dict[str, Any]], metric: str | None, path: Path, title: str) -> bool:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    drew = False
    for label, g in groups.items():
        m = metric or g["metric"]
        if m not in g["frame"]:
            continue
        ys, xs = _per_seed(g, m)
        mean, half = mean_ci(moving_average(ys, max(1, ys.shape[1] // 50)))
        line, = ax.plot(xs, mean, label=label, lw=1.6)
        if np.isfinite(half).any():
            lo, hi = mean - half, mean + half
            bounds = metric_range(m)
            if bounds is not None:  # an accuracy's band stops at 1, a cosine's at ±1
                lo, hi = np.clip(lo, *bounds), np.clip(hi, *bounds)
            ax.fill_between(xs, lo, hi, color=line.get_color(), alpha=0.2, lw=0)
        ax.set_xlabel(g["x"])
        ax.set_ylabel(m)
        drew = True
    if not drew:
        plt.close(fig)
        return False
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def human(key: str) -> str:
    """A summary key as a person reads it: ``final_accuracy`` → "final accuracy"."""
    return key.replace("_", " ")


def _final_table(groups: dict[str, dict[str, Any]], target: tuple[str, float] | None) -> pd.DataFrame:
    rows = []
    for label, g in groups.items():
        finals = [v for s in g["summaries"] for v in np.atleast_1d(s.get(f"final_{g['metric']}", []))]
        if not finals:  # no per-seed final in the summary: the mean of the last 5 % of the curve
            ys, _ = _per_seed(g, g["metric"])
            finals = np.nanmean(ys[:, -max(1, int(round(0.05 * ys.shape[1]))):], axis=1)  # a shorter seed's tail is NaN
        mean, half = mean_ci(np.asarray(finals, float))
        row = {"config": label, "seeds": len(finals), f"final {g['metric']}": _pm(mean, half),
               "wall time (s)": f"{g['wall']:.1f}"}
        if target is not None:
            key, ref = target
            vals = [v for s in g["summaries"] for v in np.atleast_1d(s.get(key, []))]
            if key == f"final_{g['metric']}":
                pass  # the headline column already is the measured value
            elif vals:
                m, h = mean_ci(np.asarray(vals, float))
                row[f"{human(key)} (measured)"] = _pm(m, h)
            else:
                row[f"{human(key)} (measured)"] = "not logged"
            row[f"{human(key)}, paper"] = f"{ref:g}"
        rows.append(row)
    return pd.DataFrame(rows)


def _inline(text: str) -> str:
    """Escaped HTML of a line of text, its `code` spans as <code> (no literal backticks on the page)."""
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def _pm(mean: float, half: float) -> str:
    return f"{float(mean):.4g}" if not np.isfinite(half) else f"{float(mean):.4g} ± {float(half):.2g}"


def _md_table(frame: pd.DataFrame) -> str:
    if frame.empty:
        return ""
    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines) + "\n"


_CSS = """body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.8em 0;font-size:.9em}th,td{border:1px solid #ccc;padding:.25em .6em;
text-align:left}th{background:#f3f3f3}img{max-width:100%}.meta{color:#555;font-size:.9em}.failed{color:#a00}"""


def _html_table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, escape=True, border=0) if not frame.empty else ""


def report(results: str | Path, out: str | Path | None = None) -> tuple[Path, Path]:
    """Write ``report.html`` and ``report.md`` (+ ``report/*.png``) for ``results``; return both paths."""
    from plastix.experiments import EXPERIMENTS

    results = Path(results)
    index = load_index(results)
    out = Path(out) if out else results
    out.mkdir(parents=True, exist_ok=True)
    assets_tmp, assets = out / f".report.partial{os.getpid()}", out / "report"
    shutil.rmtree(assets_tmp, ignore_errors=True)
    assets_tmp.mkdir()
    groups = _groups(index, results)
    stamp = time.strftime("%Y-%m-%d %H:%M")
    counts = index.status.value_counts().to_dict()
    head = (f"{len(index)} runs ({', '.join(f'{v} {k}' for k, v in counts.items())}) in {results.resolve()}; "
            f"generated {stamp}")
    md = [f"# plastix report — {results.name}", "", head, ""]
    body = [f"<h1>plastix report — {html.escape(results.name)}</h1>", f"<p class=meta>{html.escape(head)}</p>"]
    for k, exp in enumerate(sorted(set(index.experiment))):
        meta = EXPERIMENTS.get(exp)
        target = getattr(meta, "target", None) if meta else None
        md += [f"## {exp}", ""]
        body.append(f"<h2>{html.escape(exp)}</h2>")
        if meta is not None:
            lines = [f"{meta.description}", f"source: {meta.paper}", f"paper's reference: {meta.reference}"]
            md += [f"- {t}" for t in lines] + [""]
            body.append("<ul>" + "".join(f"<li>{_inline(t)}</li>" for t in lines) + "</ul>")
        g = groups.get(exp, {})
        grids = [_grid(x) for x in index[index.experiment == exp].grid.unique()]
        fixed = {k: v for k, v in grids[0].items() if k not in _varying(grids)} if grids else {}
        if fixed:
            md += [f"Overrides common to these runs: {_fmt(fixed, sorted(fixed))}", ""]
            body.append(f"<p class=meta>Overrides common to these runs: {html.escape(_fmt(fixed, sorted(fixed)))}</p>")
        for kind, metric in (("curves", None), ("alignment", "align")):
            if not g:
                break
            names = [None] if metric is None else sorted({m for v in g.values() for m in v["metrics"]
                                                          if m.startswith("align_")})
            for name in names:
                png = assets_tmp / f"{k:02d}-{kind}{'-' + name if name else ''}.png"
                title = (f"{exp}: {next(iter(g.values()))['metric']} (mean ± 95 % CI over seeds, smoothed over 2 % of the run)" if name is None
                         else f"{exp}: alignment diagnostic {name} (cosine; mean ± 95 % CI)")
                if _plot(g, name, png, title):
                    md += [f"![{title}](report/{png.name})", ""]
                    data = base64.b64encode(png.read_bytes()).decode()
                    body.append(f'<img alt="{html.escape(title)}" src="data:image/png;base64,{data}">')
        if g:
            table = _final_table(g, target)
            md += [_md_table(table), ""]
            body.append(_html_table(table))
        failed = index[(index.experiment == exp) & (index.status != "done")]
        if not failed.empty:
            ft = failed[["run", "status", "error"]].fillna("")
            md += ["Runs not finished:", "", _md_table(ft), ""]
            body.append("<p class=failed>Runs not finished:</p>" + _html_table(ft))
    page = ("<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
            f"<title>plastix report — {html.escape(results.name)}</title><style>{_CSS}</style></head>"
            "<body>" + "\n".join(body) + "</body></html>\n")
    shutil.rmtree(assets, ignore_errors=True)
    os.replace(assets_tmp, assets)
    html_path, md_path = out / "report.html", out / "report.md"
    atomic_write_bytes(html_path, page.encode())
    atomic_write_bytes(md_path, "\n".join(md).encode())
    return html_path, md_path
