"""Process-level JAX settings for the CLI, benchmarks and tests.

On the 2-core CPU machines this project targets, XLA's intra-op thread pool halved the
throughput of a single small network, so plastix runs one intra-op thread per process and
uses the other core for a second process (or a vmapped seed batch). JAX's persistent
compilation cache turns a multi-second compile into a fraction of a second in the next process.
Call :func:`configure` before the first JAX computation; the CLI does.

Pinning the process to one core (``pin_core``, or ``PLASTIX_PIN_CORE=N`` for the CLI) raised
single-seed batch-1 throughput from ~50k to ~76–92k samples/s on the 2-core machine: unpinned,
XLA's runtime keeps a second thread busy handing work across cores. It is opt-in because with
10 vmapped seeds at batch 128 the unpinned process was faster (1.40M vs 0.97M samples/s).
"""

from __future__ import annotations

import os
from pathlib import Path

_SINGLE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def configure(single_thread: bool = True, cache_dir: str | None = None, pin_core: int | None = None,
              devices: int | None = None) -> None:
    """Set XLA to one intra-op thread (unless XLA_FLAGS is set) and enable the compile cache.

    Args:
        single_thread: add the single-thread XLA flags when the user has not set XLA_FLAGS.
        cache_dir: persistent compilation cache; default ``$PLASTIX_CACHE`` or
            ``~/.cache/plastix/jax``. Pass ``""`` to disable.
        pin_core: pin this process to that CPU core (default: ``$PLASTIX_PIN_CORE`` if set).
        devices: number of XLA CPU devices (default ``$PLASTIX_DEVICES``, else 1). RL runs split
            their seeds over the devices (one core each); one-step runs use the first.
    """
    env = os.environ.get("PLASTIX_PIN_CORE", "").strip()
    if pin_core is None and env:
        if not env.isdigit():
            raise ValueError(f"PLASTIX_PIN_CORE={env!r} is not a core number; allowed: {_cores()}")
        pin_core = int(env)
    if pin_core is not None and hasattr(os, "sched_setaffinity"):
        if pin_core not in os.sched_getaffinity(0):
            raise ValueError(f"pin_core={pin_core}: no such CPU core; allowed: {_cores()}")
        os.sched_setaffinity(0, {pin_core})
    env_dev = os.environ.get("PLASTIX_DEVICES", "").strip()
    if devices is None and env_dev:
        if not env_dev.isdigit() or int(env_dev) < 1:
            raise ValueError(f"PLASTIX_DEVICES={env_dev!r} is not a device count; allowed: 1 to {os.cpu_count()}")
        devices = int(env_dev)
    if single_thread and "XLA_FLAGS" not in os.environ:
        os.environ["XLA_FLAGS"] = _SINGLE_THREAD
    import jax

    if devices and devices > 1:
        jax.config.update("jax_num_cpu_devices", devices)

    if cache_dir is None:
        cache_dir = os.environ.get("PLASTIX_CACHE", str(Path.home() / ".cache" / "plastix" / "jax"))
    if cache_dir:
        try:
            Path(cache_dir).mkdir(parents=True, exist_ok=True)
            jax.config.update("jax_compilation_cache_dir", cache_dir)
            jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
        except OSError:
            pass  # an unwritable cache only costs compile time


def _cores() -> str:
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else range(os.cpu_count() or 1)
    return ", ".join(map(str, cores))


def machine_memory() -> int:
    """Physical memory of this machine in bytes (``$PLASTIX_MEMORY_BYTES`` overrides it, for tests)."""
    env = os.environ.get("PLASTIX_MEMORY_BYTES", "").strip()
    if env.isdigit():
        return int(env)
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_memory(estimate: int, field: str, what: str, fraction: float = 0.8) -> None:
    """``ConfigError`` on ``field`` if ``estimate`` bytes exceed ``fraction`` of the machine's memory.

    Called before any compilation, so an impossible size fails in a second with one line instead of
    hanging in the allocator or dying with ``RESOURCE_EXHAUSTED`` minutes later."""
    from plastix.validation import ConfigError

    total = machine_memory()
    if estimate > fraction * total:
        raise ConfigError(field, f"{what} needs about {_gib(estimate)} of memory; this machine has {_gib(total)} "
                          f"(allowed: up to about {_gib(fraction * total)})")


def _gib(n: float) -> str:
    return f"{n / 2**30:,.1f} GiB" if n < 2**40 else f"{n / 2**40:,.1f} TiB"
