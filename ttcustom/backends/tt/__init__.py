"""The Tenstorrent backend (ttnn). Importing this package does not import ttnn."""

from ttcustom.backends.tt.backend import TTBackend
from ttcustom.backends.tt.device import BOARD_MESH_SHAPES, board_mesh_shape, detect_board

__all__ = ["BOARD_MESH_SHAPES", "TTBackend", "board_mesh_shape", "detect_board"]
