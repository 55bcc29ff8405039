"""What `device_config.enable_ddp: true` means for a training run.

`data_parallel_backend` runs before anything touches a device: on a tt card it opens
the mesh of `mesh_shape`; on cpu/cuda it joins the torchrun process group (with nccl,
pinning this process to its GPU first). `wrap_for_training` then wraps the model and
gives each process its share of the data. Without torchrun a cpu/cuda run trains in one
process and says how to start more.
"""

from __future__ import annotations

import logging
from collections.abc import Sized
from typing import Any

from ttcustom.backends import Backend, get_backend, resolve_name, set_default_backend
from ttcustom.distributed.ddp import DistributedDataParallel
from ttcustom.distributed.process_group import init_process_group, is_initialized, launch_env
from ttcustom.distributed.sampler import DistributedSampler

log = logging.getLogger("ttcustom.distributed")


def data_parallel_backend(device_config: Any) -> Backend:
    """The run's backend, made the default: a tt mesh, or cpu/cuda in the torchrun group."""
    name = resolve_name(None if device_config.backend == "auto" else device_config.backend)
    if name == "tt":
        from ttcustom.backends.tt import TTBackend

        backend = TTBackend(mesh_shape=tuple(device_config.mesh_shape))
    else:
        if launch_env() is not None:
            init_process_group()
        else:
            log.warning("enable_ddp: this process was not started by torchrun, so it trains "
                        "alone; run `ttcustom launch --nproc N CONFIG.yaml` for N processes")
        backend = get_backend(name)
    set_default_backend(backend)
    return backend


def wrap_for_training(model: Any, train_data: Sized, seed: int
                      ) -> tuple[Any, DistributedSampler | None]:
    """(model wrapped in DDP, this process's sampler), or (model, None) when alone."""
    if model.backend.name != "tt" and not is_initialized():
        return model, None
    # ttcustom's models hold only constant buffers (rotary tables): no per-step broadcast.
    ddp = DistributedDataParallel(model, broadcast_buffers=False)
    return ddp, DistributedSampler(train_data, seed=seed)
