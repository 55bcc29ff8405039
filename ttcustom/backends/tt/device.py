"""Finding, opening and closing the Tenstorrent device (one chip or a mesh of chips).

Every ttnn call goes through the `ttnn` module handed in, so tests can swap in a
stand-in that runs Tenstorrent's golden functions on the host.
"""

from __future__ import annotations

import atexit
from importlib import metadata
from types import ModuleType
from typing import Any

from ttcustom.backends.tt.trace import TRACE_REGION_BYTES

#: Data-parallel mesh of each board (rows, columns); 2-D shapes come with tensor parallel.
BOARD_MESH_SHAPES: dict[str, tuple[int, int]] = {
    "N150": (1, 1),
    "N300": (1, 2),
    "T3K": (1, 8),
    "P100": (1, 1),
    "P150": (1, 1),
    "P150_X2": (1, 2),
    "P150_X4": (1, 4),
    "P150_X8": (1, 8),
    "GALAXY": (1, 32),
    "TG": (1, 32),
}


def detect_board(ttnn: ModuleType) -> str:
    """The board name (N150, N300, T3K, P100, P150, GALAXY, ...) as the cluster reports it."""
    return ttnn.cluster.get_cluster_type().name


def board_mesh_shape(board: str) -> tuple[int, int]:
    """The data-parallel mesh of `board`; unknown boards get a single device."""
    return BOARD_MESH_SHAPES.get(board, (1, 1))


def ttnn_version() -> str:
    try:
        return metadata.version("ttnn")
    except metadata.PackageNotFoundError:
        return "unknown"


class TTDevice:
    """An opened mesh device; host<->device copies replicate onto / read back from it.

    A single chip is a 1x1 mesh; a larger mesh opens with 1-D fabric for its collectives
    (`ttnn.set_fabric_config(FABRIC_1D)`), reset to DISABLED when it closes. Tensors are replicated across the mesh (data parallel
    shards batches itself); a read-back takes the first replica. `close()` is idempotent
    and also runs at interpreter exit.
    """

    def __init__(self, ttnn: ModuleType, mesh_shape: tuple[int, int] | None = None) -> None:
        self.ttnn = ttnn
        self.board = detect_board(ttnn)
        self.mesh_shape = tuple(mesh_shape) if mesh_shape else (1, 1)
        self.num_devices = self.mesh_shape[0] * self.mesh_shape[1]
        available = ttnn.GetNumAvailableDevices()
        if self.num_devices > available:
            raise RuntimeError(
                f"tt backend: mesh {self.mesh_shape} needs {self.num_devices} devices but the "
                f"{self.board} board has {available}; pass a smaller mesh_shape"
            )
        self._fabric = self.num_devices > 1
        if self._fabric:  # the CCLs (all_reduce) route over fabric, set before the mesh opens
            ttnn.set_fabric_config(ttnn.FabricConfig.FABRIC_1D)
        try:
            self.mesh = ttnn.open_mesh_device(ttnn.MeshShape(*self.mesh_shape),
                                              trace_region_size=TRACE_REGION_BYTES)
        except BaseException:
            self._reset_fabric()
            raise
        atexit.register(self.close)
        try:
            self.arch = ttnn.get_arch_name()
            self.available = available
            replicated = self.num_devices > 1
            self._mapper = ttnn.replicate_tensor_to_mesh_mapper(self.mesh) if replicated else None
        except BaseException:
            self.close()
            raise

    def to_device(self, host: Any, dtype: Any, layout: Any, shard_dim: int | None = None) -> Any:
        """Copy a host torch tensor onto the device: every mesh device gets a replica, or
        with `shard_dim` its own slice along that dim (a data-parallel batch)."""
        ttnn = self.ttnn
        mapper = self._mapper
        if shard_dim is not None and self.num_devices > 1:
            mapper = ttnn.shard_tensor_to_mesh_mapper(self.mesh, shard_dim)
        kwargs = {"mesh_mapper": mapper} if mapper is not None else {}
        return ttnn.from_torch(host, dtype, layout=layout, device=self.mesh,
                               memory_config=ttnn.DRAM_MEMORY_CONFIG, **kwargs)

    def to_host(self, array: Any) -> Any:
        """Copy a device tensor back to a host torch tensor (the first replica)."""
        if self.num_devices > 1:
            array = self.ttnn.get_device_tensors(array)[0]
        return self.ttnn.to_torch(array)

    def synchronize(self) -> None:
        if self.mesh is not None:
            self.ttnn.synchronize_device(self.mesh)

    def close(self) -> None:
        mesh, self.mesh = self.mesh, None
        if mesh is not None:
            atexit.unregister(self.close)
            try:
                self.ttnn.close_mesh_device(mesh)
            finally:
                self._reset_fabric()

    def _reset_fabric(self) -> None:
        """Fabric off again once a multi-device mesh is closed (as tt-metal's examples do)."""
        if self._fabric:
            self._fabric = False
            self.ttnn.set_fabric_config(self.ttnn.FabricConfig.DISABLED)

    def describe(self) -> dict[str, Any]:
        return {
            "board": self.board,
            "arch": self.arch,
            "devices_available": self.available,
            "mesh_shape": list(self.mesh_shape),
            "board_mesh_shape": list(board_mesh_shape(self.board)),
            "ttnn": ttnn_version(),
            "open": self.mesh is not None,
        }
