"""Optimizers, LR schedules and gradient clipping with torch.optim's API."""

from ttcustom.optim import lr_scheduler
from ttcustom.optim.adamw import AdamW
from ttcustom.optim.clip import clip_grad_norm_
from ttcustom.optim.optimizer import Optimizer
from ttcustom.optim.sgd import SGD

__all__ = ["SGD", "AdamW", "Optimizer", "clip_grad_norm_", "lr_scheduler"]
