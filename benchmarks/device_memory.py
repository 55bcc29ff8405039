"""Device memory in use right now, for backends whose runtime reports it.

tt: DRAM allocated on the (first) device, from ttnn's memory view of the mesh. CUDA:
torch's allocated bytes. CPU: None; the suite measures CPU memory as the peak RSS of
a separate process instead (`benchmarks.memory_probe`).
"""

from __future__ import annotations

import torch

from ttcustom.backends import Backend


def device_memory_in_use(backend: Backend) -> int | None:
    if backend.name == "tt":
        ttnn = backend.ttnn
        view = ttnn.get_memory_view(backend.device.mesh, ttnn.BufferType.DRAM)
        return view.num_banks * view.total_bytes_allocated_per_bank
    if backend.name.startswith("cuda"):
        return torch.cuda.memory_allocated(backend.device)
    return None


__all__ = ["device_memory_in_use"]
