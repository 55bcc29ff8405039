"""Device-memory planning: will a training config fit, and with what batch size.

The planner runs one training step of the real model on a shape-only backend
(`ttcustom.backends.shapes`) and counts the bytes of its arrays; nothing is allocated.

    from ttcustom.memory import plan
    estimate = plan(model_config, batch_size=8, seq_len=2048, dtype="bfloat16", tile=True)
    estimate.peak, estimate.fits(SYSTEMS["n150"])

`ttcustom plan CONFIG.yaml` prints the same for a run config.
"""

from ttcustom.memory.devices import SYSTEMS, USABLE_FRACTION, System, get_system
from ttcustom.memory.planner import (
    DTYPE_BYTES,
    OPTIMIZERS,
    LoraSpec,
    MemoryPlan,
    largest_batch,
    plan,
)
from ttcustom.models.sizecheck import parameter_count

__all__ = [
    "DTYPE_BYTES",
    "OPTIMIZERS",
    "SYSTEMS",
    "USABLE_FRACTION",
    "LoraSpec",
    "MemoryPlan",
    "System",
    "get_system",
    "largest_batch",
    "parameter_count",
    "plan",
]
