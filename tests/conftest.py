"""Strict test configuration: one XLA thread per worker, strict rank promotion, warnings as errors."""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # shared oracle fixtures (tests/oracle_nets.py)

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import jax  # noqa: E402

jax.config.update("jax_numpy_rank_promotion", "raise")
