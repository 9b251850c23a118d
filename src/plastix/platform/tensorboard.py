"""``--tensorboard``: every logged metric of a finished run as TensorBoard scalars, one event
file per seed, in ``RUN/tensorboard/seed<k>/`` (``tensorboard --logdir RESULTS_DIR``).

Written when the run is published, from its metrics table (the curves are logged at the run's
log interval, not live; non-finite values are left out). The event files come from tensorboardX (an optional extra,
``pip install 'plastix[tensorboard]'``): it writes the TensorBoard format without TensorFlow.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from plastix.platform.curves import load_curves

INSTALL_HINT = "TensorBoard logging needs tensorboardX; install it with: pip install 'plastix[tensorboard]'"


def available() -> bool:
    try:
        import tensorboardX  # noqa: F401
    except ImportError:
        return False
    return True


def write_events(run_dir: str | Path, family: str | None = None) -> Path:
    """Write ``run_dir/tensorboard/`` (aside, then renamed into place) and return it."""
    from tensorboardX import SummaryWriter

    run_dir = Path(run_dir)
    curves = load_curves(run_dir, family)
    tmp, final = run_dir / ".tensorboard.partial", run_dir / "tensorboard"
    shutil.rmtree(tmp, ignore_errors=True)
    for seed, g in curves.frame.groupby("seed"):
        with SummaryWriter(logdir=str(tmp / f"seed{int(seed)}"), flush_secs=3600) as w:
            for name in curves.metrics:
                for x, v in zip(g[curves.x].to_numpy(), g[name].to_numpy()):
                    if not np.isfinite(v):  # e.g. a diverged COPI seed's NaN loss: TensorBoard has no point for it
                        continue
                    w.add_scalar(name, float(v), global_step=int(x))
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    return final
