"""plastix: biologically plausible, local learning rules and their meta-learning, in JAX."""

__version__ = "0.1.0"

from plastix.teams.config import ConfigError as ConfigError
from plastix.teams.config import TrainConfig as TrainConfig
from plastix.teams.train import Trainer as Trainer
from plastix.teams.train import TrainState as TrainState
from plastix.teams.train import make_train as make_train
