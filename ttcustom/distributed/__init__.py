"""Data parallel training: `DistributedDataParallel` and the process-group helpers.

The reference backend reduces over `torch.distributed` (gloo on the CPU, nccl on CUDA)
in processes started by `torchrun`; see docs/distributed.md.
"""

from ttcustom.distributed.comm import Communicator, TorchCommunicator
from ttcustom.distributed.ddp import DistributedDataParallel
from ttcustom.distributed.errors import DistributedError
from ttcustom.distributed.process_group import (
    barrier,
    destroy_process_group,
    get_local_rank,
    get_rank,
    get_world_size,
    init_process_group,
    is_initialized,
    is_main_process,
)
from ttcustom.distributed.sampler import DistributedSampler

__all__ = [
    "Communicator",
    "DistributedDataParallel",
    "DistributedError",
    "DistributedSampler",
    "TorchCommunicator",
    "barrier",
    "destroy_process_group",
    "get_local_rank",
    "get_rank",
    "get_world_size",
    "init_process_group",
    "is_initialized",
    "is_main_process",
]
