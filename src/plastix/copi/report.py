"""COPI reports: the method comparison of a suite, receptive-field and compression outputs.

Every output is written to a temporary name and renamed into place, so an interrupted command
leaves no half-written file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from plastix.copi.analysis import compression_table, plot_compression, plot_receptive_fields, receptive_fields
from plastix.copi.runner import curves, load_copi_run, load_params
from plastix.compare import markdown_table
from plastix.rundir import atomic_write_bytes

COLUMNS = ("method", "seeds", "diverged", "peak test acc", "epoch of peak (test)", "epochs to 99 % of peak (test)",
           "final test acc", "peak train acc", "epoch of peak (train)")


def _pm(mean: float, std: float, digits: int, unit: str = "") -> str:
    return "–" if not np.isfinite(mean) else f"{mean:.{digits}f} ± {std:.{digits}f}{unit}"


def comparison(run_dirs: list[Path], labels: list[str]) -> pd.DataFrame:
    """One row per run: peak accuracy, epoch of peak and epochs to 99 % of peak (mean ± std over finished seeds)."""
    rows = []
    for path, label in zip(run_dirs, labels):
        _, _, s = load_copi_run(path)
        rows.append({
            "method": label, "seeds": s["n_finished"] + s["n_diverged"], "diverged": s["n_diverged"],
            "peak test acc": _pm(100 * s["peak_test_acc_mean"], 100 * s["peak_test_acc_std"], 2, " %"),
            "epoch of peak (test)": _pm(s["epoch_of_peak_test_mean"], s["epoch_of_peak_test_std"], 1),
            "epochs to 99 % of peak (test)": _pm(s["epochs_to_99_test_mean"], s["epochs_to_99_test_std"], 1),
            "final test acc": _pm(100 * s["final_test_acc_mean"], 100 * s["final_test_acc_std"], 2, " %"),
            "peak train acc": _pm(100 * s["peak_train_acc_mean"], 100 * s["peak_train_acc_std"], 2, " %"),
            "epoch of peak (train)": _pm(s["epoch_of_peak_train_mean"], s["epoch_of_peak_train_std"], 1),
        })
    return pd.DataFrame(rows, columns=COLUMNS)


def write_comparison(run_dirs: list[Path], labels: list[str], out: Path, title: str) -> tuple[Path, pd.DataFrame]:
    """``out/comparison.{md,csv,png}``: the table and the test-accuracy curves (mean ± 95 % CI)."""
    from plastix.plotting import plot_curves

    out.mkdir(parents=True, exist_ok=True)
    frame = comparison(run_dirs, labels)
    atomic_write_bytes(out / "comparison.md", (f"# {title}\n\n" + markdown_table(frame)).encode())
    atomic_write_bytes(out / "comparison.csv", frame.to_csv(index=False).encode())
    crv = {}
    for path, label in zip(run_dirs, labels):
        _, metrics, _ = load_copi_run(path)
        ok = metrics[metrics["status"] == "finished"]
        if len(ok):
            crv[label] = curves(ok, "test_acc")
    tmp = out / ".comparison.tmp.png"
    late = [np.nanmean(v[:, 1:], axis=0).min() for _, v in crv.values() if v.shape[1] > 1]
    ylim = (max(0.0, float(np.floor(min(late) * 50) / 50) - 0.02), 1.0) if late else None  # zoom past epoch 0
    plot_curves(crv, tmp, xlabel="epoch (0 = after the R warm-up, off the zoomed axis)", ylabel="test accuracy",
                title=title, ylim=ylim)
    tmp.replace(out / "comparison.png")
    return out, frame


def _dataset(cfg, data_dir: str):
    from plastix.datasets import load

    return load(cfg.dataset, data_dir or cfg.data_dir or None, cfg.validation)


def features(run: Path, out: Path, layer: int = 1, seed_index: int = 0, decorrelated: bool = False,
             data_dir: str = "") -> Path:
    """Receptive fields of one layer of one seed of a finished run: ``out/receptive_fields_l{layer}.png`` + ``.npy``."""
    cfg, _, summary = load_copi_run(run)
    seeds = sorted(int(s) for s in summary["seeds"])
    if not 0 <= seed_index < len(seeds):
        raise ValueError(f"--seed-index {seed_index} out of range; allowed: 0 to {len(seeds) - 1}")
    seed = seeds[seed_index]
    params = load_params(run / f"params_seed{seed}.npz")
    ds = _dataset(cfg, data_dir)
    rf = receptive_fields(params, ds.x_train, layer, cfg.activation_slope, decorrelated)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"receptive_fields_l{layer}{'_decorrelated' if decorrelated else ''}"
    import io

    buf = io.BytesIO()
    np.save(buf, rf)
    atomic_write_bytes(out / f"{stem}.npy", buf.getvalue())
    tmp = out / f".{stem}.tmp.png"
    plot_receptive_fields(rf, ds.image_shape, tmp, title=f"{cfg.run_name} seed {seed}: layer {layer} ⟨a u⟩/⟨u²⟩ "
                          f"({'decorrelated' if decorrelated else 'raw'} input)")
    tmp.replace(out / f"{stem}.png")
    return out / f"{stem}.png"


def compress(run: Path, out: Path, data_dir: str = "") -> tuple[Path, pd.DataFrame]:
    """Compression table over every seed of a finished run: ``out/compression.{md,csv,png}``."""
    cfg, _, summary = load_copi_run(run)
    ds = _dataset(cfg, data_dir)
    per_seed = []
    for seed, info in sorted(summary["seeds"].items(), key=lambda kv: int(kv[0])):
        if info["status"] != "finished":
            continue
        params = load_params(run / f"params_seed{seed}.npz")
        if params["R"] is None:
            raise ValueError(f"{run}: a network without decorrelation (R ≡ I); compression needs a COPI run")
        per_seed.append(pd.DataFrame(compression_table(params, ds, cfg.activation_slope)))
    if not per_seed:
        raise ValueError(f"{run}: no finished seed to analyse")
    stack = np.stack([f[["train_acc", "test_acc"]].to_numpy() for f in per_seed])  # (seeds, k, 2)
    k = per_seed[0]["removed"].to_numpy()
    table = pd.DataFrame({"layers removed": k, "train acc mean": stack[..., 0].mean(0), "train acc std": stack[..., 0].std(0),
                          "test acc mean": stack[..., 1].mean(0), "test acc std": stack[..., 1].std(0),
                          "seeds": len(per_seed)})
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out / "compression.csv", table.to_csv(index=False).encode())
    atomic_write_bytes(out / "compression.md", (f"# Compression of {cfg.run_name}\n\n" + markdown_table(table)).encode())
    tmp = out / ".compression.tmp.png"
    plot_compression({"removed": k, "train_mean": stack[..., 0].mean(0), "train_std": stack[..., 0].std(0),
                      "test_mean": stack[..., 1].mean(0), "test_std": stack[..., 1].std(0)}, tmp,
                     title=f"{cfg.run_name}: top layers replaced by W̃ = ⟨a_L x_sᵀ⟩ diag⟨x_s²⟩⁻¹")
    tmp.replace(out / "compression.png")
    return out, table
