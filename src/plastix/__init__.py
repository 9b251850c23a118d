"""plastix: biologically plausible, local learning rules and their meta-learning, in JAX."""

__version__ = "0.1.0"

from plastix.config import ConfigError as ConfigError
from plastix.config import TrainConfig as TrainConfig
from plastix.train import Trainer as Trainer
from plastix.train import TrainState as TrainState
from plastix.train import make_train as make_train
