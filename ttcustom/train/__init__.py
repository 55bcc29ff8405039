"""Training: the YAML run configuration, the Trainer and its callbacks."""

from ttcustom.train import config
from ttcustom.train.callbacks import Callback
from ttcustom.train.config import ConfigError, RunConfig, load_config
from ttcustom.train.trainer import NonFiniteLossError, Trainer, TrainerState

__all__ = ["Callback", "ConfigError", "NonFiniteLossError", "RunConfig", "Trainer",
           "TrainerState", "config", "load_config"]
