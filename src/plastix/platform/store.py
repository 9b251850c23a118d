"""The results store: one directory per run, one record per run, and an index table of them all.

Layout of a results directory ``OUT``::

    OUT/<run name>/            the published run (config.json, metrics, summary.json, plots, …)
    OUT/.<run name>.partial/   an unfinished run's checkpoint (resumed by ``--resume``)
    OUT/.records/<run>.json    the run's record: experiment, grid, status, wall time, final metrics
    OUT/.locks/<run>.lock      held (``flock``) by the process running that run
    OUT/index.csv              every record as one table (``pandas.read_csv``)

Every file is written atomically (temporary file, then ``os.replace``). The index is rebuilt from
the records under an exclusive lock after each change, so two sweeps writing into the same
directory never interleave a write or lose a record; a run is claimed by an exclusive ``flock`` on
its lock file, so two sweeps never run the same config into the same directory at once (the second
waits, then skips it under ``--resume``). ``fcntl`` locks are released by the kernel when a process
dies, so a killed sweep leaves no stale lock. ``fcntl`` is POSIX-only, like the rest of the runner.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import socket
import time
from pathlib import Path
from typing import Any

import pandas as pd

from plastix.rundir import atomic_write_bytes

INDEX = "index.csv"
STATUSES = ("running", "done", "failed")
# leading columns of the index, in this order; final metrics follow
COLUMNS = ("run", "config_hash", "experiment", "family", "rule", "task", "seeds", "grid", "status",
           "wall_seconds", "started", "finished", "host", "error")


class StoreError(Exception):
    """The results directory cannot be used (not writable, not a results directory, …)."""


def check_writable(out: Path, what: str = "results directory", create: bool = True) -> None:
    """Prove that ``out`` is (or can become) a writable directory; StoreError naming it, as ``what``, otherwise.

    ``create=False`` leaves nothing behind: the probe file goes into ``out``'s nearest existing ancestor,
    so a command refused later (a config error, a memory estimate) has written no empty directory."""
    if out.exists() and not out.is_dir():
        raise StoreError(f"{what} {out} is not writable (it is a file; give a directory, created if missing)")
    here = out.absolute()
    if not create:
        while not here.exists():
            here = here.parent
        if not here.is_dir():
            raise StoreError(f"{what} {out} is not writable ({here} is a file)")
    try:
        if create:
            out.mkdir(parents=True, exist_ok=True)
        probe = here / f".write-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise StoreError(f"{what} {out} is not writable ({e.strerror or e})") from None


def finished_run(cfg, out: Path) -> Path | None:
    """``out/<cfg.run_name>`` if it holds a finished run of exactly this config (same ``config.json``, a
    ``summary.json``): the commands skip it unless given ``--fresh``."""
    final = Path(out) / cfg.run_name
    try:
        same = json.loads((final / "config.json").read_text()) == json.loads(json.dumps(cfg.to_dict()))
    except (OSError, ValueError):
        return None
    return final if same and (final / "summary.json").is_file() else None


def skip_finished(cfg, out: Path, fresh: bool) -> bool:
    """The one rule of every command: a finished run of the same config is skipped (and said so) unless
    ``--fresh``; an interrupted one resumes from its checkpoint; ``--fresh`` starts over."""
    done = None if fresh else finished_run(cfg, out)
    if done is not None:
        print(f"{done}: already finished with this config; skipped (--fresh recomputes it)")
    return done is not None


def run_unless_finished(cfg, out: Path, *, fresh: bool, progress: bool, **options) -> None:
    """Every command's tail: skip a finished run of ``cfg`` (:func:`skip_finished`), else run it with its
    family's runner (resuming unless ``fresh``; ``options`` such as ``ray``) and print its report."""
    from plastix.families import family_of

    if not skip_finished(cfg, out, fresh):
        family = family_of(cfg)
        family.report(family.run(cfg, out, progress=progress, resume=not fresh, **options))


def check_out_dir(out: Path) -> None:
    """A command's ``--out`` must be a writable directory, or creatable: checked before any compute,
    nothing created."""
    check_writable(Path(out), "--out", create=False)


def check_out_file(path: Path, what: str = "--out") -> None:
    """Prove that the file ``path`` can be written (its directory exists or can be made, it is not a directory)."""
    if path.is_dir():
        raise StoreError(f"{what} {path} is a directory; give a file name")
    check_writable(path.parent, what, create=False)


@contextlib.contextmanager
def locked(path: Path, blocking: bool = True):
    """An exclusive ``flock`` on ``path`` for the ``with`` block; yields False if non-blocking and taken."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def run_lock(out: Path, run: str):
    return locked(out / ".locks" / f"{run}.lock")


def _numeric_finals(summary: dict[str, Any]) -> dict[str, float]:
    """The summary's scalar numbers (final metrics, means over the run), for the index."""
    skip = {"steps", "samples", "seeds", "generations", "meta_steps", "wall_seconds", "seconds"}
    out = {}
    for k, v in summary.items():
        if k in skip or isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        out[k] = float(v)
    return out


def make_record(planned, status: str, *, started: float, wall: float = math.nan, summary: dict | None = None,
                error: str = "") -> dict[str, Any]:
    from plastix.families import family_of

    cfg = planned.config
    family = family_of(cfg)
    rec = {"run": cfg.name, "config_hash": cfg.digest(), "experiment": planned.experiment,
           "family": type(cfg).__name__, "rule": family.rule(cfg), "task": family.task(cfg),
           "seeds": getattr(cfg, "seeds", 1), "grid": json.dumps(planned.grid, sort_keys=True),
           "status": status, "wall_seconds": wall,
           "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started)),
           "finished": time.strftime("%Y-%m-%dT%H:%M:%S") if status != "running" else "",
           "host": socket.gethostname(), "error": error}
    if summary:
        rec.update(_numeric_finals(summary))
    return rec


def write_record(out: Path, record: dict[str, Any]) -> None:
    """Store one run's record and rebuild the index (both atomically, under the index lock)."""
    rec_dir = out / ".records"
    rec_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(rec_dir / f"{record['run']}.json", (json.dumps(record, indent=1) + "\n").encode())
    rebuild_index(out)


def read_records(out: Path) -> list[dict[str, Any]]:
    recs = []
    for p in sorted((out / ".records").glob("*.json")):
        recs.append(json.loads(p.read_text()))
    return recs


def rebuild_index(out: Path) -> pd.DataFrame:
    with locked(out / ".locks" / "index.lock"):
        frame = records_frame(read_records(out))
        atomic_write_bytes(out / INDEX, frame.to_csv(index=False).encode())
    return frame


def records_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(records)
    if frame.empty:
        return pd.DataFrame(columns=list(COLUMNS))
    lead = [c for c in COLUMNS if c in frame]
    return frame[lead + sorted(c for c in frame if c not in COLUMNS)]


def load_index(out: str | Path) -> pd.DataFrame:
    """The index table of a results directory (StoreError if ``out`` holds no sweep results)."""
    out = Path(out)
    if not (out / INDEX).exists():
        raise StoreError(f"{out} is not a results directory (no {INDEX}; `plastix sweep` writes one)")
    return pd.read_csv(out / INDEX)


def filter_index(frame: pd.DataFrame, where: list[str]) -> pd.DataFrame:
    """Rows matching every ``column=value`` (values compared as text; ``~`` for a substring)."""
    for cond in where:
        key, op, value = (cond.partition("~") if "~" in cond and "=" not in cond else cond.partition("="))
        if not op or key not in frame:
            raise StoreError(f"--where: {cond!r} is not column=value or column~text; columns: "
                             f"{', '.join(frame.columns)}")
        col = frame[key].astype(str)
        frame = frame[col.str.contains(value, regex=False)] if op == "~" else frame[col == value]
    return frame


def live_status(out: str | Path, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with a ``running`` run whose lock nobody holds shown as ``interrupted`` (its process
    died; ``plastix sweep --resume`` continues it)."""
    out = Path(out)
    frame = frame.copy()
    for i in frame.index[frame.status == "running"]:
        with locked(out / ".locks" / f"{frame.at[i, 'run']}.lock", blocking=False) as free:
            if free:
                frame.at[i, "status"] = "interrupted"
    return frame
