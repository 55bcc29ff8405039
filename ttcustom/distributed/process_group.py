"""Who am I, how many are we, wait for everyone: the process group of a distributed run.

Processes are started by `torchrun` (or `ttcustom launch`, which runs it) and find each
other through its standard environment variables: RANK, WORLD_SIZE, LOCAL_RANK,
MASTER_ADDR, MASTER_PORT. `init_process_group` joins them with `torch.distributed`
(gloo on the CPU, nccl on CUDA). A multi-host tt run started by tt-metal's launcher
uses tt-metal's distributed context instead; the queries below answer from whichever
is initialised, and describe a single process when neither is.
"""

from __future__ import annotations

import atexit
import os
import sys
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

TIMEOUT_ENV = "TTCUSTOM_DIST_TIMEOUT"
#: seconds a collective may wait for a peer before failing (torch's own default)
DEFAULT_TIMEOUT_S = 1800.0
_LAUNCH_HINT = (
    "launch with `torchrun --nproc-per-node N your_script.py` or "
    "`ttcustom launch --nproc N CONFIG.yaml`"
)


@dataclass(frozen=True)
class LaunchEnv:
    """The torchrun environment of this process."""

    rank: int
    world_size: int
    local_rank: int


def launch_env() -> LaunchEnv | None:
    """The torchrun variables of this process, or None when it was not launched by one."""
    if "RANK" not in os.environ and "WORLD_SIZE" not in os.environ:
        return None
    rank = _int_env("RANK")
    world_size = _int_env("WORLD_SIZE")
    local_rank = _int_env("LOCAL_RANK", default=rank)
    if not 0 <= rank < world_size:
        raise ValueError(f"environment variables RANK={rank} and WORLD_SIZE={world_size} are "
                         f"inconsistent: RANK must be in [0, WORLD_SIZE); {_LAUNCH_HINT}")
    return LaunchEnv(rank, world_size, local_rank)


def _int_env(name: str, default: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None:
        if default is None:
            raise ValueError(f"environment variable {name} is not set; {_LAUNCH_HINT}")
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"environment variable {name}={raw!r} is not an integer") from None


def collective_timeout(timeout: float | timedelta | None = None) -> timedelta:
    """The collective timeout: argument > TTCUSTOM_DIST_TIMEOUT (seconds) > 30 minutes."""
    if isinstance(timeout, timedelta):
        return timeout
    if timeout is None:
        raw = os.environ.get(TIMEOUT_ENV)
        try:
            timeout = float(raw) if raw is not None else DEFAULT_TIMEOUT_S
        except ValueError:
            raise ValueError(f"environment variable {TIMEOUT_ENV}={raw!r} must be a number "
                             "of seconds") from None
    if timeout <= 0:
        raise ValueError(f"collective timeout must be positive, got {timeout} s")
    return timedelta(seconds=timeout)


def default_torch_backend() -> str:
    """nccl when ttcustom computes on CUDA, gloo otherwise (CPU, or host traffic of tt)."""
    from ttcustom.backends import get_backend

    return "nccl" if get_backend().name == "cuda" else "gloo"


def init_process_group(
    backend: str | None = None,
    timeout: float | timedelta | None = None,
    rank: int | None = None,
    world_size: int | None = None,
    init_method: str | None = None,
) -> None:
    """Join the torchrun process group (no-op when already joined).

    `rank`/`world_size` default to the torchrun variables; `init_method` to "env://"
    (MASTER_ADDR/MASTER_PORT, or torchrun's rendezvous on several hosts). `timeout`
    bounds every collective, so a dead or stalled peer fails the run instead of
    hanging it. With nccl, each process takes the GPU of its LOCAL_RANK. A group joined
    here is left at interpreter exit if the script does not leave it itself: exiting
    with a live gloo group can abort the process ("terminate called without an active
    exception") after all its work is done.
    """
    if dist.is_initialized():
        return
    env = launch_env()
    if rank is None or world_size is None:
        if env is None:
            raise RuntimeError(f"init_process_group: RANK and WORLD_SIZE are not set; "
                               f"{_LAUNCH_HINT}, or pass rank= and world_size=")
        rank = env.rank if rank is None else rank
        world_size = env.world_size if world_size is None else world_size
    backend = backend or default_torch_backend()
    if backend == "nccl":
        torch.cuda.set_device(env.local_rank if env is not None else rank)
    dist.init_process_group(
        backend,
        init_method=init_method or "env://",
        rank=rank,
        world_size=world_size,
        timeout=collective_timeout(timeout),
    )
    atexit.register(_leave_at_exit)


def destroy_process_group() -> None:
    """Leave the process group (no-op when not in one)."""
    atexit.unregister(_leave_at_exit)
    if dist.is_initialized():
        dist.destroy_process_group()


#: seconds the exit hook waits for the other ranks to reach their own exit
EXIT_BARRIER_S = 30.0


def _leave_at_exit() -> None:
    """Wait (briefly) until every rank is leaving, then leave: a rank that tears its group
    down while a peer is still using it can abort at exit."""
    if not dist.is_initialized():
        return
    try:
        if dist.get_backend() == "gloo":
            dist.monitored_barrier(timeout=timedelta(seconds=EXIT_BARRIER_S))
        else:
            dist.barrier()
    except Exception:  # a peer that died or left already: leave anyway  # noqa: BLE001
        pass
    destroy_process_group()


def is_initialized() -> bool:
    return dist.is_initialized() or _tt_context_initialized()


def get_rank() -> int:
    """This process's rank; 0 when not in a distributed run."""
    if dist.is_initialized():
        return dist.get_rank()
    if _tt_context_initialized():
        return int(sys.modules["ttnn"].distributed_context_get_rank())
    return 0


def get_world_size() -> int:
    """The number of processes; 1 when not in a distributed run."""
    if dist.is_initialized():
        return dist.get_world_size()
    if _tt_context_initialized():
        return int(sys.modules["ttnn"].distributed_context_get_size())
    return 1


def get_local_rank() -> int:
    """This process's index on its host (torchrun's LOCAL_RANK); 0 when not launched."""
    env = launch_env()
    return env.local_rank if env is not None else 0


def is_main_process() -> bool:
    """True on rank 0: the process that logs, writes checkpoints and exports."""
    return get_rank() == 0


def barrier() -> None:
    """Wait until every process reaches this point (no-op in a single process)."""
    if dist.is_initialized():
        from ttcustom.distributed.errors import collective_failed

        try:
            dist.barrier()
        except RuntimeError as error:
            raise collective_failed("barrier", error) from error
    elif _tt_context_initialized():
        sys.modules["ttnn"].distributed_context_barrier()


def _tt_context_initialized() -> bool:
    """Whether tt-metal's multi-host context is up (only possible once ttnn is imported)."""
    ttnn = sys.modules.get("ttnn")
    return ttnn is not None and bool(ttnn.distributed_context_is_initialized())
