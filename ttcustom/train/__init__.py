"""Training: the YAML run configuration, the Trainer and its callbacks."""

from ttcustom.train import config
from ttcustom.train.config import ConfigError, RunConfig, load_config

__all__ = ["ConfigError", "RunConfig", "config", "load_config"]
