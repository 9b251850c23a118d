"""Run directories, the pieces every family's runner shares: atomic writes, checkpoints, publishing.

A run computes into ``OUT/.NAME.partial/`` (a checkpoint after every chunk, written atomically), and
publishes ``OUT/NAME/`` by one rename when complete, so a reader never sees half a run. This module
holds only those mechanics; the runners of the five families (one-step and RL team rules, COPI, mazes,
BLUR, remember) call them. ``cfg`` is any family's config: it has ``digest()`` and ``to_dict()``.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import shutil
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd


class NonFiniteError(RuntimeError):
    """Training produced NaN/inf; the message names the step and the seeds."""


class RunResult(NamedTuple):
    path: Path  # the published run directory
    metrics: pd.DataFrame  # long format: seed, step, samples, <metrics>
    summary: dict[str, Any]  # see summarize()
    seconds: float  # wall time of this invocation (compilation included)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and ``os.replace`` (never half-written)."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def atomic_write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """``np.savez`` of ``arrays`` to ``path``, written atomically (:func:`atomic_write_bytes`)."""
    import io

    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def read_npz(path: str | Path, what: str = "file") -> dict[str, np.ndarray]:
    """Every array of the ``.npz`` archive at ``path``; ``FileNotFoundError`` / ``ValueError`` with one line
    naming the file and what is wrong with it (empty, not a zip archive, a damaged member). Pickled
    objects are never loaded, and the message carries no NumPy advice about ``allow_pickle``."""
    import zipfile

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} not found (expected a .npz archive)")
    with open(path, "rb") as f:
        head = f.read(4)
    if head != b"PK\x03\x04":
        problem = "it is empty" if not head else "not a zip archive"
        raise ValueError(f"{what} {path} is not a .npz archive ({problem})")
    try:
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as z:  # our handle: closed on every error
            return {n: z[n] for n in z.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError) as e:
        reason = "an array holds Python objects" if "pickle" in str(e) else str(e) or type(e).__name__
        raise ValueError(f"{what} {path} is not a readable .npz archive ({reason})") from None


@contextlib.contextmanager
def chunk_guard(partial: Path, bar):
    """Around a chunk loop: a non-finite run leaves nothing behind; the progress bar always closes."""
    try:
        yield
    except NonFiniteError:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    finally:
        if bar is not None:
            bar.close()


def earlier_seconds(ckpt: dict | None) -> float:
    """Wall seconds spent on this run by earlier (interrupted) processes, from its checkpoint."""
    return float(ckpt.get("seconds", 0.0)) if ckpt else 0.0


def open_partial(cfg, partial: Path, resume: bool) -> dict | None:
    """The checkpoint of an interrupted run of this same config (state as JAX arrays), if resuming;
    otherwise ``None``, with ``partial`` emptied and recreated for a fresh run."""
    ckpt_path = partial / "checkpoint.pkl"
    if resume and ckpt_path.exists():
        with open(ckpt_path, "rb") as f:
            ckpt = pickle.load(f)
        if ckpt.get("digest") == cfg.digest():
            if "state" in ckpt:  # one-step and RL runs keep one stacked state (COPI keeps per-seed progress)
                ckpt = {**ckpt, "state": jax.tree.map(jnp.asarray, ckpt["state"])}
            return ckpt
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    return None


def write_run_files(cfg, partial: Path, frame: pd.DataFrame, summary: dict) -> None:
    """``config.json``, ``metrics.parquet`` and ``summary.json`` of a finished run, into ``partial``."""
    (partial / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")
    frame.to_parquet(partial / "metrics.parquet", index=False)
    (partial / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")


def publish_dir(cfg, partial: Path, final: Path) -> None:
    """Drop the checkpoint and move the finished ``partial`` directory to ``final`` (replacing it)."""
    (partial / "checkpoint.pkl").unlink(missing_ok=True)
    old = final.with_name(f".{final.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        os.replace(final, old)
    os.replace(partial, final)
    shutil.rmtree(old, ignore_errors=True)


def progress_bar(enabled: bool, total: int, initial: int, desc: str, unit: str):
    """A transient tqdm bar on stderr (``None`` when disabled): one per run, in every family's runner."""
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit=unit, leave=False, dynamic_ncols=True)
