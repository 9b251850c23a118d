"""Process-level JAX settings for the CLI, benchmarks and tests.

On the 2-core CPU machines this project targets, XLA's intra-op thread pool halved the
throughput of a single small network, so plastix runs one intra-op thread per process and
uses the other core for a second process (or a vmapped seed batch). JAX's persistent
compilation cache turns a multi-second compile into a fraction of a second in the next process.
Call :func:`configure` before the first JAX computation; the CLI does.
"""

from __future__ import annotations

import os
from pathlib import Path

_SINGLE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def configure(single_thread: bool = True, cache_dir: str | None = None) -> None:
    """Set XLA to one intra-op thread (unless XLA_FLAGS is set) and enable the compile cache.

    Args:
        single_thread: add the single-thread XLA flags when the user has not set XLA_FLAGS.
        cache_dir: persistent compilation cache; default ``$PLASTIX_CACHE`` or
            ``~/.cache/plastix/jax``. Pass ``""`` to disable.
    """
    if single_thread and "XLA_FLAGS" not in os.environ:
        os.environ["XLA_FLAGS"] = _SINGLE_THREAD
    import jax

    if cache_dir is None:
        cache_dir = os.environ.get("PLASTIX_CACHE", str(Path.home() / ".cache" / "plastix" / "jax"))
    if cache_dir:
        try:
            Path(cache_dir).mkdir(parents=True, exist_ok=True)
            jax.config.update("jax_compilation_cache_dir", cache_dir)
            jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
        except OSError:
            pass  # an unwritable cache only costs compile time
