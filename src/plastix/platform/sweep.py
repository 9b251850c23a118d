"""``plastix sweep``: a registered experiment × a grid × seeds, on local processes or a Ray cluster.

Each planned config (:mod:`plastix.platform.grid`) is one *run*: all its seeds in one call of its
family's runner (one vmapped computation for the team rules and RL; COPI runs its seeds in
sequence, see :mod:`plastix.copi.runner`). Runs execute

* in this process when there is one worker (``--workers 1``) or one run;
* on a local pool of ``--workers`` spawned processes otherwise (default: one per core, at most one
  per run; each process runs XLA on one thread, see :mod:`plastix.runtime`);
* as Ray tasks with ``--ray ADDRESS`` (``auto`` finds a running cluster; ``local`` starts a
  private one). Every task runs the same function as a local worker, so the numbers are the same.

Every run checkpoints after each chunk and publishes atomically (:mod:`plastix.teams.runner`); the
results directory is the store of :mod:`plastix.platform.store`. ``resume=True`` skips finished
runs and continues interrupted ones from their last checkpoint; without it every run starts
afresh. Ray is used as is (a maintained scheduler); nothing here reimplements it.
"""

from __future__ import annotations

import os
import socket
import time
import traceback
from pathlib import Path
from typing import Any

from plastix.platform.grid import PlannedRun, parse_grid, plan
from plastix.platform.store import check_writable, finished_run, make_record, read_records, run_lock, write_record

RAY_HINT = "Ray is not installed; install it with: pip install 'plastix[ray]'"


class SweepError(Exception):
    """A sweep that cannot start (bad experiment, grid, Ray address or results directory)."""


def run_config(cfg, out: Path, *, progress: bool, resume: bool):
    """Run one config of any family with its family's runner (:mod:`plastix.families`); returns its ``RunResult``."""
    from plastix.families import family_of

    return family_of(cfg).run(cfg, out, progress=progress, resume=resume)


def execute(planned: PlannedRun, out: str, resume: bool = False, progress: bool = False,
            tensorboard: bool = False) -> dict[str, Any]:
    """Run one planned config into ``out`` and return its index record (the worker function of
    the local pool and of Ray). A run already finished is skipped when ``resume`` is set."""
    from plastix.rundir import NonFiniteError
    from plastix.runtime import configure

    configure()  # a Ray worker may be a fresh process: the same XLA settings and compile cache as here
    from plastix.experiments import load_entry_points

    load_entry_points()  # and the same installed extensions (a MODULE:NAME is resolved by validate)
    out_p = Path(out)
    cfg = planned.config.validate()  # in a fresh process this also imports a MODULE:NAME task or rule
    with run_lock(out_p, cfg.name):  # another sweep on the same directory waits here
        if resume and finished_run(cfg, out_p) is not None:  # planned configs are named: run_name is name
            old = {r["run"]: r for r in read_records(out_p)}.get(cfg.name)
            if old is not None and old["status"] == "done":
                return {**old, "skipped": True}
        started = time.time()
        write_record(out_p, make_record(planned, "running", started=started))
        try:
            res = run_config(cfg, out_p, progress=progress, resume=resume)
        except NonFiniteError as e:
            rec = make_record(planned, "failed", started=started, wall=time.time() - started, error=str(e))
            write_record(out_p, rec)
            return rec
        except Exception as e:  # a bug in one run must not lose the others' results
            msg = f"{type(e).__name__}: {e}".splitlines()[0]
            rec = make_record(planned, "failed", started=started, wall=time.time() - started, error=msg)
            write_record(out_p, rec)
            traceback.print_exc()
            return rec
        if tensorboard:
            from plastix.platform.tensorboard import write_events

            write_events(res.path, type(cfg).__name__)
        # a resumed run's wall time counts every process's share (the runners keep it in their checkpoints)
        wall = res.summary.get("wall_seconds", res.summary.get("seconds", time.time() - started))
        rec = make_record(planned, "done", started=started, wall=wall, summary=res.summary)
        write_record(out_p, rec)
        return rec


def prepare(experiment: str, *, seeds: int = 0, grid: list[str] | tuple[str, ...] = ()) -> list[PlannedRun]:
    """The validated plan of a sweep (SweepError for an unknown experiment; ConfigError for a bad
    grid key or value)."""
    from plastix.experiments import EXPERIMENTS, resolve

    resolve(experiment)
    if experiment not in EXPERIMENTS:
        raise SweepError(f"unknown experiment {experiment!r}; allowed: {', '.join(EXPERIMENTS)}")
    base = EXPERIMENTS[experiment].config
    return plan(experiment, base, parse_grid(list(grid), type(base)), seeds)


def _worker_init(counter, parent: int) -> None:
    from plastix.runtime import configure

    _exit_with_parent(parent)
    with counter.get_lock():
        counter.value += 1
        slot = counter.value
    os.environ["TQDM_POSITION"] = str(slot)  # one progress-bar line per worker, under the sweep's
    configure()


def _exit_with_parent(parent: int, every: float = 0.5) -> None:
    """End this worker process when the sweep that started it dies (``kill -9`` included: no cleanup
    runs there, and the orphaned worker would otherwise finish its run and then idle forever).

    A daemon thread polls the parent pid (portable; Linux's ``PR_SET_PDEATHSIG`` would fire when the
    spawning *thread* ends, which in a process pool need not be the sweep's end)."""
    import threading

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every)
        os._exit(1)

    if os.getppid() != parent:  # the parent died before this worker started
        os._exit(1)
    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def connect_ray(address: str, num_cpus: int):
    """Import Ray and connect to ``address`` (``auto``, ``local`` or host:port); SweepError if Ray
    is missing or nothing answers there. Returns (ray module, whether we started it)."""
    try:
        import ray
    except ImportError:
        raise SweepError(f"--ray: {RAY_HINT}") from None
    if ray.is_initialized():
        return ray, False
    if address not in ("auto", "local"):
        host, _, port = address.removeprefix("ray://").rpartition(":")
        if not host or not port.isdigit():
            raise SweepError(f"--ray: {address!r} is not host:port, auto or local")
        try:
            socket.create_connection((host, int(port)), timeout=5).close()
        except OSError as e:
            raise SweepError(f"--ray: no Ray cluster answers at {address} ({e.strerror or e}); start one with "
                             "`ray start --head` and pass the address it prints") from None
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": "error"}
    try:
        if address == "local":  # a new cluster, whatever an older one left in /tmp/ray
            ray.init(address="local", num_cpus=num_cpus, **kwargs)
        else:
            ray.init(address=address, **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise SweepError(f"--ray: cannot connect to {address}: {str(e).splitlines()[0]}") from None
    return ray, True


def sweep(experiment: str, *, seeds: int = 0, grid: list[str] | tuple[str, ...] = (), out: str | Path = "sweeps",
          workers: int = 0, ray: str = "", resume: bool = False, progress: bool = True,
          tensorboard: bool = False) -> list[dict[str, Any]]:
    """Run a sweep (see the module docstring) and return the records of its runs, in plan order.

    Args:
        experiment: a registered experiment (``plastix list``).
        seeds: seeds per config (0 keeps the experiment's).
        grid: ``key=v1,v2`` items; the sweep runs their Cartesian product.
        out: the results directory (created; shared safely with other sweeps).
        workers: local processes (0: one per core, at most one per run; 1: this process).
        ray: a Ray address (``auto``, ``local``, host:port); empty runs locally.
        resume: skip finished runs and continue interrupted ones.
        progress: progress bars for the sweep and for each run.
        tensorboard: also write TensorBoard event files into each run directory.
    """
    if workers < 0:
        raise SweepError(f"--workers: {workers} is negative; allowed: 0 (one per core) or ≥ 1")
    planned = prepare(experiment, seeds=seeds, grid=grid)
    if tensorboard:
        from plastix.platform import tensorboard as tb

        if not tb.available():
            raise SweepError(f"--tensorboard: {tb.INSTALL_HINT}")
    out = Path(out).absolute()
    n_workers = min(workers or os.cpu_count() or 1, len(planned))
    if ray:
        from plastix.runtime import configure

        configure()  # sets XLA_FLAGS here, which the Ray tasks then receive
    ray_mod, started_ray = connect_ray(ray, n_workers) if ray else (None, False)
    try:
        check_writable(out)
    except Exception as e:
        if started_ray:
            ray_mod.shutdown()
        raise SweepError(str(e)) from None
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(planned), desc=f"sweep {experiment}", unit="run", position=0, dynamic_ncols=True)
    records: list[dict[str, Any] | None] = [None] * len(planned)

    def done(i: int, rec: dict[str, Any]) -> None:
        records[i] = rec
        if bar is not None:
            bar.update(1)
            counts = {s: sum(1 for r in records if r and r["status"] == s) for s in ("done", "failed")}
            bar.set_postfix(counts)

    try:
        if ray_mod is not None:
            # the XLA flags decide the floating-point reduction order: the workers get this process's
            env = {k: os.environ[k] for k in ("XLA_FLAGS", "PLASTIX_CACHE") if k in os.environ}
            task = ray_mod.remote(num_cpus=1, runtime_env={"env_vars": env})(execute)
            refs = {task.remote(p, str(out), resume, False, tensorboard): i for i, p in enumerate(planned)}
            pending = list(refs)
            while pending:
                ready, pending = ray_mod.wait(pending, num_returns=1)
                done(refs[ready[0]], ray_mod.get(ready[0]))
        elif n_workers <= 1:
            for i, p in enumerate(planned):
                done(i, execute(p, str(out), resume, progress, tensorboard))
        else:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor, as_completed

            ctx = mp.get_context("spawn")  # JAX is not fork-safe
            counter = ctx.Value("i", 0)
            with ProcessPoolExecutor(n_workers, mp_context=ctx, initializer=_worker_init,
                                     initargs=(counter, os.getpid())) as pool:
                futs = {pool.submit(execute, p, str(out), resume, progress, tensorboard): i
                        for i, p in enumerate(planned)}
                for f in as_completed(futs):
                    done(futs[f], f.result())
    finally:
        if bar is not None:
            bar.close()
        if started_ray:
            ray_mod.shutdown()
    return [r for r in records if r is not None]
