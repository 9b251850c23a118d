"""The experiment platform: sweeps on local processes or a Ray cluster (:mod:`.sweep`), the
crash-safe results store and its index (:mod:`.store`), reports (:mod:`.report`) and TensorBoard
export (:mod:`.tensorboard`). The CLI's ``sweep``, ``runs`` and ``report`` commands are thin
wrappers of these modules."""

from plastix.platform.report import report
from plastix.platform.store import StoreError, load_index
from plastix.platform.sweep import SweepError, sweep

__all__ = ["SweepError", "StoreError", "load_index", "report", "sweep"]
